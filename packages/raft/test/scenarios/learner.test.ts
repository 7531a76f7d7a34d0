import { describe, expect, it } from 'vitest';
import { MessageType } from '../../src/core/types.js';
import { TestCluster } from '../../src/testing/cluster.js';
import { commit, role, storedLog, tickAndSettle, tickUntil } from './helpers.js';

/** Voters 1 2 3 led by 1, and node 4 added as a learner and caught up. */
function withLearner(): TestCluster {
  const c = new TestCluster(['1', '2', '3'], { preVote: false, checkQuorum: false, electionTimeoutTicks: 10 });
  c.elect('1');
  c.addNode('4');
  expect(c.core('1').proposeConfChange({ type: 'add-learner', node: '4' }).ok).toBe(true);
  c.stabilize();
  expect(c.core('4').status().conf).toEqual({ voters: ['1', '2', '3'], learners: ['4'] });
  expect(commit(c, '4')).toBe(commit(c, '1'));
  return c;
}

describe('learners', () => {
  it('a learner never campaigns and is never asked for its vote', () => {
    const c = withLearner();
    expect(c.core('4').campaign()).toMatchObject({ ok: false, reason: 'not-a-voter' });
    c.crash('1');
    for (let i = 0; i < 100; i++) c.tick('4');
    c.stabilize();
    expect(role(c, '4')).toBe('follower');
    // 2 campaigns: it asks 1 and 3 only.
    expect(c.core('2').campaign().ok).toBe(true);
    c.processReady('2');
    const votes = c.queue.filter((m) => m.type === MessageType.Vote);
    expect(votes.map((m) => m.to).sort()).toEqual(['1', '3']);
  });

  it("a learner's acknowledgement does not count towards a commit", () => {
    const c = withLearner();
    c.cutLink('1', '2');
    c.cutLink('1', '3');
    const r = c.propose('1', 'x');
    if (!r.ok) throw new Error('refused');
    c.stabilize();
    expect(storedLog(c, '4')).toContain(`${r.index}/${r.term}`);
    expect(c.core('1').status().progress.get('4')?.match).toBe(r.index);
    expect(commit(c, '1')).toBe(r.index - 1);
    c.heal();
    tickAndSettle(c, 3);
    expect(commit(c, '1')).toBe(r.index);
  });

  it('promotion is refused while the learner lags, allowed once caught up, and then it counts', () => {
    const c = withLearner();
    c.isolate('4');
    expect(c.propose('1', 'y').ok).toBe(true);
    c.stabilize();
    const lagging = c.core('1').status();
    expect(lagging.progress.get('4')!.match).toBeLessThan(lagging.commit);
    expect(c.core('1').proposeConfChange({ type: 'promote-learner', node: '4' })).toMatchObject({ ok: false, reason: 'learner-not-caught-up' });

    c.heal();
    tickUntil(c, () => c.core('1').status().progress.get('4')!.match === commit(c, '1'), 10);
    const promoted = c.core('1').proposeConfChange({ type: 'promote-learner', node: '4' });
    expect(promoted.ok).toBe(true);
    c.stabilize();
    for (const id of ['1', '2', '3', '4']) expect(c.core(id).status().conf).toEqual({ voters: ['1', '2', '3', '4'], learners: [] });

    // Four voters: a majority is three. With 3 cut off, 1, 2 and 4 commit...
    c.isolate('3');
    const z = c.propose('1', 'z');
    if (!z.ok) throw new Error('refused');
    c.stabilize();
    expect(commit(c, '1')).toBe(z.index);
    // ...and with 2 and 3 cut off, 1 and 4 alone cannot.
    c.heal();
    c.isolate('2');
    c.isolate('3');
    const w = c.propose('1', 'w');
    if (!w.ok) throw new Error('refused');
    c.stabilize();
    expect(commit(c, '1')).toBe(w.index - 1);
  });

  it('a promoted learner votes and can be elected', () => {
    const c = withLearner();
    tickAndSettle(c, 2);
    expect(c.core('1').proposeConfChange({ type: 'promote-learner', node: '4' }).ok).toBe(true);
    c.stabilize();
    c.crash('1');
    c.elect('4');
    expect(role(c, '4')).toBe('leader');
    expect(c.propose('4', 'from-4').ok).toBe(true);
    c.stabilize();
    for (const id of ['2', '3', '4']) expect(c.node(id).applied.some((a) => a.endsWith(':from-4'))).toBe(true);
  });
});
