import { describe, expect, it } from 'vitest';
import { MessageType } from '../../src/core/types.js';
import { TestCluster } from '../../src/testing/cluster.js';
import { commit, stabilizeDropping, tickUntil, traffic } from './helpers.js';

const T = 10;

/**
 * Snapshot catch-up: once the leader has compacted the entries a follower needs, it sends its
 * snapshot instead, then the entries after it. The follower's log restarts at the snapshot and
 * its state machine is the snapshot's plus what it applies afterwards.
 */
function laggingFollower(): { c: TestCluster; snapIndex: number } {
  const c = new TestCluster(['1', '2', '3'], { preVote: false, checkQuorum: false, electionTimeoutTicks: T });
  c.elect('1');
  c.isolate('3');
  for (const p of ['a', 'b', 'c', 'd', 'e']) expect(c.propose('1', p).ok).toBe(true);
  c.stabilize();
  const snapIndex = commit(c, '1');
  c.compact('1', snapIndex);
  expect(c.core('1').status().firstIndex).toBe(snapIndex + 1);
  expect(c.propose('1', 'f').ok).toBe(true);
  c.stabilize();
  return { c, snapIndex };
}

describe('snapshot catch-up', () => {
  it('a far-behind follower gets the snapshot, then the entries after it', () => {
    const { c, snapIndex } = laggingFollower();
    c.heal();
    const msgs = traffic(c, () => tickUntil(c, () => commit(c, '3') === commit(c, '1'), 5 * T));
    const snaps = msgs.filter((m) => m.type === MessageType.Snap);
    expect(snaps).toHaveLength(1);
    expect(snaps[0]!.to).toBe('3');
    expect(snaps[0]!.snapshot?.meta.index).toBe(snapIndex);
    const afterSnap = msgs.slice(msgs.indexOf(snaps[0]!) + 1);
    expect(afterSnap.some((m) => m.type === MessageType.App && m.to === '3' && m.entries.some((e) => new TextDecoder().decode(e.data) === 'f'))).toBe(true);

    const n3 = c.node('3');
    expect(n3.disk.snapshot?.meta.index).toBe(snapIndex);
    expect(n3.disk.snapshot?.meta.conf.voters).toEqual(['1', '2', '3']);
    expect(c.core('3').status().firstIndex).toBe(snapIndex + 1);
    expect(n3.applied[0]).toBe(`snapshot@${snapIndex}`);
    expect(n3.applied.slice(1).map((a) => a.split(':')[1])).toEqual(['f']);
    // The state machine includes what the snapshot carried.
    expect(n3.state).toEqual(c.node('1').state);
    expect(n3.state.map((a) => a.split(':')[1])).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
  });

  it('the follower restarts from its stored snapshot with the same state', () => {
    const { c } = laggingFollower();
    c.heal();
    tickUntil(c, () => commit(c, '3') === commit(c, '1'), 5 * T);
    const before = [...c.node('3').state];
    c.crash('3');
    c.restart('3');
    c.tickAll();
    c.stabilize();
    expect(c.node('3').state).toEqual(before);
  });

  it('a brand-new member added as a learner is caught up by a snapshot when the log start is gone', () => {
    const c = new TestCluster(['1', '2', '3'], { preVote: false, checkQuorum: false, electionTimeoutTicks: T });
    c.elect('1');
    for (const p of ['a', 'b']) c.propose('1', p);
    c.stabilize();
    c.compact('1', commit(c, '1'));
    c.addNode('4');
    const r = c.core('1').proposeConfChange({ type: 'add-learner', node: '4' });
    expect(r.ok).toBe(true);
    const msgs = traffic(c, () => tickUntil(c, () => commit(c, '4') === commit(c, '1'), 5 * T));
    expect(msgs.filter((m) => m.type === MessageType.Snap && m.to === '4')).toHaveLength(1);
    // The snapshot carried the membership (the bootstrap entries are compacted away).
    expect(c.core('4').status().conf).toEqual({ voters: ['1', '2', '3'], learners: ['4'] });
    expect(c.node('4').state).toEqual(c.node('1').state);
  });

  it('a lost snapshot is sent again (after two election timeouts without an answer)', () => {
    const { c } = laggingFollower();
    c.heal();
    // The first snapshot is lost on the way.
    let lost = 0;
    for (let i = 0; i < 3 * T && lost === 0; i++) {
      c.tickAll();
      lost += stabilizeDropping(c, (m) => m.type === MessageType.Snap).length;
    }
    expect(lost).toBe(1);
    expect(c.core('1').status().progress.get('3')?.state).toBe('snapshot');
    let ticks = 0;
    const msgs = traffic(c, () => (ticks = tickUntil(c, () => commit(c, '3') === commit(c, '1'), 4 * T)));
    expect(msgs.filter((m) => m.type === MessageType.Snap)).toHaveLength(1);
    // Nothing goes to 3 while the snapshot is presumed in flight; then the leader probes again.
    expect(ticks).toBeGreaterThanOrEqual(2 * T - 2);
    expect(ticks).toBeLessThanOrEqual(2 * T + 2);
    expect(c.node('3').state).toEqual(c.node('1').state);
  });

  it('a snapshot the transport reports as failed is sent again promptly', () => {
    const { c } = laggingFollower();
    c.heal();
    for (let i = 0; i < 3 * T; i++) {
      c.tickAll();
      if (stabilizeDropping(c, (m) => m.type === MessageType.Snap).length > 0) break;
    }
    expect(c.core('1').status().progress.get('3')?.state).toBe('snapshot');
    c.core('1').reportSnapshot('3', false);
    expect(c.core('1').status().progress.get('3')?.state).toBe('probe');
    const ticks = tickUntil(c, () => commit(c, '3') === commit(c, '1'), 4 * T);
    expect(ticks).toBeLessThanOrEqual(2);
  });
});
