import { describe, expect, it } from 'vitest';
import { MessageType, isTransferContext } from '../../src/core/index.js';
import { TestCluster } from '../../src/testing/cluster.js';
import { commit, role, term, tickAndSettle, traffic } from './helpers.js';

const T = 10;

function cluster(): TestCluster {
  const c = new TestCluster(['1', '2', '3'], { preVote: true, checkQuorum: true, electionTimeoutTicks: T, heartbeatIntervalTicks: 1 });
  c.elect('1');
  tickAndSettle(c, 1); // every follower has acknowledged something: recently active
  return c;
}

describe('leadership transfer', () => {
  it('hands leadership to a caught-up voter through TimeoutNow, in the next term', () => {
    const c = cluster();
    const t = term(c, '1');
    expect(c.core('1').transferLeadership('2')).toEqual({ ok: true });
    const msgs = traffic(c, () => c.stabilize());
    expect(msgs.filter((m) => m.type === MessageType.TimeoutNow).map((m) => `${m.from}->${m.to}`)).toEqual(['1->2']);
    // The target skips PreVote, and its Vote carries the transfer mark that overrides the lease.
    expect(msgs.some((m) => m.type === MessageType.PreVote)).toBe(false);
    const votes = msgs.filter((m) => m.type === MessageType.Vote);
    expect(votes.length).toBe(2);
    for (const v of votes) expect(isTransferContext(v.context)).toBe(true);
    expect(role(c, '2')).toBe('leader');
    expect(term(c, '2')).toBe(t + 1);
    expect(c.core('1').status().leader).toBe('2');
    expect(c.propose('2', 'on-2').ok).toBe(true);
    c.stabilize();
    for (const id of ['1', '2', '3']) expect(c.node(id).applied.some((a) => a.endsWith(':on-2'))).toBe(true);
  });

  it('first brings a lagging (but reachable) target up to date, then sends TimeoutNow', () => {
    const c = cluster();
    c.cutLink('1', '3');
    for (const p of ['a', 'b']) c.propose('1', p);
    c.stabilize();
    c.heal();
    const pr = c.core('1').status().progress.get('3')!;
    expect(pr.match).toBeLessThan(c.core('1').status().lastIndex);
    expect(pr.recentActive).toBe(true);
    expect(c.core('1').transferLeadership('3')).toEqual({ ok: true });
    expect(c.propose('1', 'during')).toMatchObject({ ok: false, reason: 'transferring-leadership' });
    const msgs = traffic(c, () => c.stabilize());
    const timeoutNow = msgs.findIndex((m) => m.type === MessageType.TimeoutNow);
    const lastApp = msgs.map((m) => m.type === MessageType.App && m.to === '3' && m.entries.length > 0).lastIndexOf(true);
    expect(timeoutNow).toBeGreaterThan(lastApp);
    expect(role(c, '3')).toBe('leader');
    expect(c.node('3').applied.map((a) => a.split(':')[1])).toEqual(['a', 'b']);
  });

  it('to an unreachable target: accepted while it was recently active, then abandoned after an election timeout', () => {
    const c = cluster();
    const t = term(c, '1');
    c.isolate('3');
    expect(c.propose('1', 'x').ok).toBe(true);
    c.stabilize();
    expect(c.core('1').transferLeadership('3')).toEqual({ ok: true });
    expect(c.core('1').status().leadTransferee).toBe('3');
    let ticks = 0;
    while (c.core('1').status().leadTransferee !== '' && ticks < 3 * T) {
      expect(c.propose('1', 'refused')).toMatchObject({ ok: false, reason: 'transferring-leadership', leader: '1' });
      c.tickAll();
      c.stabilize();
      ticks++;
    }
    expect(ticks).toBe(T);
    // The old leader is still leading in the same term and takes proposals again.
    expect(role(c, '1')).toBe('leader');
    expect(term(c, '1')).toBe(t);
    const y = c.propose('1', 'y');
    expect(y.ok).toBe(true);
    c.stabilize();
    expect(commit(c, '2')).toBe(y.ok ? y.index : -1);
  });

  it("refuses a target whose recent activity has lapsed (target-not-recently-active)", () => {
    const c = cluster();
    c.isolate('3');
    tickAndSettle(c, T); // the CheckQuorum period ends: recentActive is cleared, 3 never answers
    expect(c.core('1').status().progress.get('3')?.recentActive).toBe(false);
    expect(c.core('1').transferLeadership('3')).toMatchObject({ ok: false, reason: 'target-not-recently-active', leader: '1' });
    expect(c.propose('1', 'still-leading').ok).toBe(true);
  });

  it('refuses transfers that make no sense', () => {
    const c = cluster();
    expect(c.core('1').transferLeadership('1')).toMatchObject({ ok: false, reason: 'already-leader' });
    expect(c.core('1').transferLeadership('9')).toMatchObject({ ok: false, reason: 'not-a-voter' });
    expect(c.core('2').transferLeadership('3')).toMatchObject({ ok: false, reason: 'not-leader', leader: '1' });
    c.cutLink('1', '3');
    c.propose('1', 'lag');
    c.stabilize();
    expect(c.core('1').transferLeadership('3').ok).toBe(true);
    expect(c.core('1').transferLeadership('3')).toEqual({ ok: true }); // idempotent
    expect(c.core('1').transferLeadership('2')).toMatchObject({ ok: false, reason: 'transfer-in-progress' });
  });
});
