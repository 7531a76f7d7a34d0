import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Entry, Message, NodeId, PersistedState } from '../../src/core/types.js';
import { EntryType, MessageType } from '../../src/core/types.js';
import { TestCluster } from '../../src/testing/cluster.js';
import { role, storedLog, traffic } from './helpers.js';

/**
 * Log divergence repair: followers with missing, extra and conflicting entries from several
 * terms converge to the new leader's log, and fast backtracking (the follower's reject hint
 * names the last index at or below the probe whose term is not above the leader's term there)
 * keeps the number of probe round trips near one per divergent term rather than one per entry.
 */
function stateWithLog(voters: readonly NodeId[], terms: readonly number[], hardTerm: number): PersistedState {
  const entries: Entry[] = terms.map((t, k) => ({ index: k + 1, term: t, type: EntryType.Normal, data: new Uint8Array(0) }));
  return {
    hardState: { term: hardTerm, vote: '', commit: 0 },
    snapshot: { meta: { index: 0, term: 0, conf: { voters: [...voters].sort(), learners: [] } }, data: new Uint8Array(0) },
    entries,
  };
}

const rejectsFrom = (msgs: readonly Message[], id: NodeId): number => msgs.filter((m) => m.from === id && m.type === MessageType.AppResp && m.reject).length;

describe('log divergence repair', () => {
  // Raft paper Figure 7: the leader of term 8 and the followers (a)-(f).
  const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
  const followers: Record<string, number[]> = {
    a: [1, 1, 1, 4, 4, 5, 5, 6, 6],
    b: [1, 1, 1, 4],
    c: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
    d: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
    e: [1, 1, 1, 4, 4, 4, 4],
    f: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
  };
  // Rejections before each follower matches: one probe at 10/6, then at most one more.
  const expectedRejects: Record<string, number> = { a: 1, b: 1, c: 0, d: 0, e: 1, f: 1 };

  it('Figure 7: every follower converges to the leader log, with at most one rejection each', () => {
    const voters = ['L', ...Object.keys(followers)];
    const c = new TestCluster([], { preVote: false, checkQuorum: false });
    c.addNode('L', stateWithLog(voters, leaderLog, 7));
    for (const [id, log] of Object.entries(followers)) c.addNode(id, stateWithLog(voters, log, 7));
    const msgs = traffic(c, () => c.elect('L'));
    expect(role(c, 'L')).toBe('leader');
    const want = storedLog(c, 'L');
    expect(want).toHaveLength(11);
    for (const id of Object.keys(followers)) {
      expect(storedLog(c, id), `follower ${id}`).toEqual(want);
      expect(rejectsFrom(msgs, id), `rejections from ${id}`).toBe(expectedRejects[id]);
    }
    // A one-entry-at-a-time backtrack would need 6 rejections for (b) and 7 for (f).
  });

  it('random divergent suffixes: the follower converges within one rejection per divergent term', () => {
    // Leader suffix terms are even and the follower's odd, so the suffixes never share an
    // (index, term) pair: the common prefix is exactly the shared part (Log Matching).
    const sortedTerms = (parity: 0 | 1) => fc.array(fc.integer({ min: 1, max: 6 }).map((k) => 2 * k + parity), { maxLength: 8 }).map((ts) => [...ts].sort((x, y) => x - y));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 }), sortedTerms(0), sortedTerms(1), (prefixLength, leaderSuffix, followerSuffix) => {
        const prefix = Array.from({ length: prefixLength }, () => 1);
        const leader = [...prefix, ...leaderSuffix];
        const follower = [...prefix, ...followerSuffix];
        const maxTerm = Math.max(1, ...leader, ...follower);
        const voters = ['L', 'V', 'F'];
        const c = new TestCluster([], { preVote: false, checkQuorum: false });
        c.addNode('L', stateWithLog(voters, leader, maxTerm));
        c.addNode('V', stateWithLog(voters, leader, maxTerm)); // votes for L: same log
        c.addNode('F', stateWithLog(voters, follower, maxTerm));
        const msgs = traffic(c, () => c.elect('L'));
        expect(role(c, 'L')).toBe('leader');
        expect(storedLog(c, 'F')).toEqual(storedLog(c, 'L'));
        const divergentTerms = new Set([...leaderSuffix, ...followerSuffix]).size;
        // Worst case is a zig-zag of alternating terms, e.g. leader 2 4 6 vs follower 3 5: each
        // round trip skips one term on one side (4 rejections for 5 terms).
        expect(rejectsFrom(msgs, 'F')).toBeLessThanOrEqual(divergentTerms);
      }),
      { numRuns: 200, seed: 20261126 },
    );
  });

  it('divergence built by real partitions: extra, missing and conflicting entries from three terms', () => {
    const ids = ['1', '2', '3', '4', '5'];
    const c = new TestCluster(ids, { preVote: false, checkQuorum: false });
    c.elect('1');
    c.propose('1', 'committed');
    c.stabilize();
    // Term of 1: entries that reach only 2 (uncommitted, extra on 1 and 2).
    c.partition(['1', '2'], ['3', '4', '5']);
    for (const p of ['x1', 'x2', 'x3']) c.propose('1', p);
    c.stabilize();
    // 3 leads a new term with 4 and 5 and commits entries there; 5 then misses the rest.
    c.elect('3');
    for (const p of ['y1', 'y2']) c.propose('3', p);
    c.stabilize();
    c.partition(['1', '2'], ['3', '4'], ['5']);
    for (const p of ['y3', 'y4', 'y5']) c.propose('3', p);
    c.stabilize(); // 3 and 4 hold them: not a majority, uncommitted
    // 4 leads a third term with 3 and... only 3: it campaigns, wins with 3 and 5 after 5 rejoins it.
    c.partition(['1', '2'], ['4', '5'], ['3']);
    c.elect('4'); // 4 and 5: 4's log is ahead of 5's, so 5 grants; but 2 of 5 is not a majority
    expect(role(c, '4')).not.toBe('leader');
    c.heal();
    c.elect('4');
    expect(role(c, '4')).toBe('leader');
    for (const p of ['z1', 'z2']) c.propose('4', p);
    const msgs = traffic(c, () => c.stabilize());
    const want = storedLog(c, '4');
    for (const id of ids) expect(storedLog(c, id), `node ${id}`).toEqual(want);
    for (const id of ids) expect(rejectsFrom(msgs, id)).toBeLessThanOrEqual(2);
    const applied = c.node('1').applied.map((a) => a.split(':')[1]);
    expect(applied).toEqual(['committed', 'y1', 'y2', 'y3', 'y4', 'y5', 'z1', 'z2']);
    for (const id of ids) expect(c.node(id).applied.map((a) => a.split(':')[1])).toEqual(applied);
  });
});
