import { describe, expect, it } from 'vitest';
import { MessageType } from '../../src/core/types.js';
import { TestCluster } from '../../src/testing/cluster.js';
import { commit, drain, encode, role, tickAndSettle } from './helpers.js';

/** The index of a read served on `id` with context `ctx`, or undefined if not (yet) served. */
function readIndexOf(c: TestCluster, id: string, ctx: string): number | undefined {
  const hit = c.node(id).reads.find((r) => r.endsWith(`:${ctx}`));
  return hit === undefined ? undefined : Number.parseInt(hit, 10);
}

describe('ReadIndex', () => {
  it('on the leader: served at the commit index once a quorum acknowledged a heartbeat', () => {
    const c = new TestCluster(['1', '2', '3'], { preVote: false, checkQuorum: false });
    c.elect('1');
    const w = c.propose('1', 'w');
    c.stabilize();
    expect(c.core('1').readIndex(encode('r1')).ok).toBe(true);
    c.processReady('1');
    expect(readIndexOf(c, '1', 'r1')).toBeUndefined(); // not before the quorum answered
    const heartbeats = c.queue.filter((m) => m.type === MessageType.Heartbeat);
    expect(heartbeats).toHaveLength(2);
    c.stabilize();
    expect(readIndexOf(c, '1', 'r1')).toBe(w.ok ? w.index : -1);
  });

  it('via a follower: forwarded to the leader, the index comes back', () => {
    const c = new TestCluster(['1', '2', '3'], { preVote: false, checkQuorum: false });
    c.elect('1');
    c.propose('1', 'w');
    c.stabilize();
    expect(c.core('3').readIndex(encode('r3')).ok).toBe(true);
    c.stabilize();
    expect(readIndexOf(c, '3', 'r3')).toBe(commit(c, '1'));
  });

  it('a follower that knows no leader refuses (no-leader)', () => {
    const c = new TestCluster(['1', '2', '3'], { preVote: false, checkQuorum: false });
    expect(c.core('2').readIndex(encode('r'))).toMatchObject({ ok: false, reason: 'no-leader' });
  });

  it('a leader cut off from the quorum never serves a read (it may have been replaced)', () => {
    const c = new TestCluster(['1', '2', '3'], { preVote: true, checkQuorum: false });
    c.elect('1');
    c.isolate('1');
    expect(c.core('1').readIndex(encode('stale')).ok).toBe(true);
    tickAndSettle(c, 50); // 2 or 3 take over and commit new writes meanwhile
    const newLeader = c.leader()!;
    expect(newLeader).not.toBe('1');
    c.propose(newLeader, 'newer');
    c.stabilize();
    expect(role(c, '1')).toBe('leader'); // still believes it leads (no CheckQuorum)...
    expect(readIndexOf(c, '1', 'stale')).toBeUndefined(); // ...but its read never completes
  });

  it('after a leader change: served only once the new leader has committed in its term, never below what the old leader committed', () => {
    const c = new TestCluster(['1', '2', '3'], { preVote: false, checkQuorum: false });
    c.elect('1');
    // "w" is committed by 1 (and applied there), but the commit index never reaches 2 and 3.
    const w = c.propose('1', 'w');
    if (!w.ok) throw new Error('refused');
    drain(c, '1');
    c.deliverAll();
    drain(c, '2', '3');
    c.deliverAll();
    drain(c, '1');
    expect(commit(c, '1')).toBe(w.index);
    expect(c.node('1').applied).toContain(`${w.index}/${w.term}:w`);
    c.dropWhere(() => true);
    c.crash('1');
    expect(commit(c, '2')).toBeLessThan(w.index);

    // 2 wins the next term; right away (its empty entry not yet committed) a read arrives.
    c.core('2').campaign();
    drain(c, '2');
    c.deliverAll();
    drain(c, '3');
    c.deliverAll();
    expect(role(c, '2')).toBe('leader');
    expect(commit(c, '2')).toBeLessThan(w.index); // its commit index is stale...
    expect(c.core('2').readIndex(encode('after-change')).ok).toBe(true);
    drain(c, '2');
    expect(readIndexOf(c, '2', 'after-change')).toBeUndefined(); // ...so the read must wait
    c.stabilize();
    const served = readIndexOf(c, '2', 'after-change');
    expect(served).toBeDefined();
    expect(served!).toBeGreaterThanOrEqual(w.index);
    expect(served).toBe(commit(c, '2'));
    // A reader that waits until `served` is applied sees "w".
    expect(c.core('2').status().applied).toBeGreaterThanOrEqual(served!);
    expect(c.node('2').applied).toContain(`${w.index}/${w.term}:w`);
  });

  it('a follower read forwarded to a fresh leader also waits for its first commit', () => {
    const c = new TestCluster(['1', '2', '3'], { preVote: false, checkQuorum: false });
    c.elect('1');
    c.propose('1', 'w');
    c.stabilize();
    const before = commit(c, '1');
    c.core('2').campaign();
    drain(c, '2');
    c.deliverAll();
    drain(c, '1', '3');
    c.deliverAll();
    expect(role(c, '2')).toBe('leader');
    // 3 learns the new leader from its first append; then asks it for a read index.
    drain(c, '2');
    c.deliverWhere((m) => m.to === '3');
    expect(c.core('3').status().leader).toBe('2');
    expect(c.core('3').readIndex(encode('r3')).ok).toBe(true);
    c.stabilize();
    expect(readIndexOf(c, '3', 'r3')).toBe(before + 1); // the new leader's empty entry
  });
});
