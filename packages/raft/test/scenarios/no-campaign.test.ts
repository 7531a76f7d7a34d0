import { describe, expect, it } from 'vitest';
import { MessageType } from '../../src/core/types.js';
import { TestCluster } from '../../src/testing/cluster.js';
import { role, tickAndSettle, traffic } from './helpers.js';

/**
 * canCampaign=false: a voter that votes, replicates and counts for commits, but never starts an
 * election, not on timeout and not on TimeoutNow. The price: the cluster can elect only among the
 * voters that may campaign, so losing all of those leaves it leaderless for as long as they are
 * down, however many voters remain.
 */
const T = 10;

describe('a voter that never campaigns', () => {
  it('still votes, replicates and counts towards commits', () => {
    const c = new TestCluster(['1', '2', '3'], { electionTimeoutTicks: T }, 1, { '2': { canCampaign: false }, '3': { canCampaign: false } });
    expect(c.core('2').campaign()).toMatchObject({ ok: false, reason: 'campaign-disabled' });
    const msgs = traffic(c, () => c.elect('1'));
    const granted = msgs.filter((m) => m.type === MessageType.VoteResp && !m.reject).map((m) => m.from);
    expect(granted.sort()).toEqual(['2', '3']);
    c.isolate('3'); // 1 and 2 (which cannot campaign) commit together
    const x = c.propose('1', 'x');
    c.stabilize();
    expect(c.core('1').status().commit).toBe(x.ok ? x.index : -1);
  });

  it('two of three cannot campaign: when the one that can dies, the cluster stays leaderless', () => {
    const c = new TestCluster(['1', '2', '3'], { electionTimeoutTicks: T }, 1, { '2': { canCampaign: false }, '3': { canCampaign: false } });
    c.elect('1');
    c.propose('1', 'x');
    c.stabilize();
    const t = c.core('2').status().term;
    c.crash('1');
    tickAndSettle(c, 50 * T);
    expect(c.leader()).toBeUndefined();
    for (const id of ['2', '3']) {
      expect(role(c, id)).toBe('follower');
      expect(c.core(id).status().term).toBe(t); // nobody even tried
    }
    expect(c.propose('2', 'y').ok).toBe(false);
    // Only the campaigner's return ends it.
    c.restart('1');
    tickAndSettle(c, 3 * T);
    expect(c.leader()).toBe('1');
  });

  it('one of three cannot campaign: when the leader dies, the remaining campaigner takes over with its vote', () => {
    const c = new TestCluster(['1', '2', '3'], { electionTimeoutTicks: T }, 1, { '3': { canCampaign: false } });
    c.elect('1');
    c.crash('1');
    tickAndSettle(c, 5 * T);
    expect(c.leader()).toBe('2');
    expect(role(c, '3')).toBe('follower');
    expect(c.propose('2', 'y').ok).toBe(true);
    c.stabilize();
    expect(c.node('3').applied.some((a) => a.endsWith(':y'))).toBe(true);
  });

  it('restarting keeps the node non-campaigning', () => {
    const c = new TestCluster(['1', '2', '3'], { electionTimeoutTicks: T }, 1, { '2': { canCampaign: false }, '3': { canCampaign: false } });
    c.elect('1');
    c.crash('2');
    c.restart('2');
    expect(c.core('2').config.canCampaign).toBe(false);
  });

  it('a transfer to it is accepted but goes nowhere: proposals stall for an election timeout', () => {
    const c = new TestCluster(['1', '2', '3'], { electionTimeoutTicks: T, heartbeatIntervalTicks: 1 }, 1, { '2': { canCampaign: false } });
    c.elect('1');
    tickAndSettle(c, 1);
    // The leader cannot know that 2 will ignore TimeoutNow (see observation O2 in the report).
    expect(c.core('1').transferLeadership('2')).toEqual({ ok: true });
    const msgs = traffic(c, () => c.stabilize());
    expect(msgs.some((m) => m.type === MessageType.TimeoutNow && m.to === '2')).toBe(true);
    expect(msgs.some((m) => m.type === MessageType.Vote)).toBe(false);
    let stalled = 0;
    while (!c.propose('1', 'p').ok) {
      c.tickAll();
      c.stabilize();
      stalled++;
    }
    expect(stalled).toBe(T);
    expect(c.leader()).toBe('1');
  });
});
