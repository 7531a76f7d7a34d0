import { describe, expect, it } from 'vitest';
import { TestCluster } from '../../src/testing/cluster.js';
import { role, term, tickAndSettle } from './helpers.js';

const T = 10;

/**
 * CheckQuorum: every election timeout the leader checks that a quorum was active (acknowledged
 * something) since the last check, and steps down if not. A partition can begin anywhere within
 * a check period, so a cut-off leader steps down after T to 2T ticks: the first check after the
 * cut may still count acknowledgements from before it.
 */
describe('CheckQuorum', () => {
  for (let phase = 0; phase < T; phase++) {
    it(`a leader cut off ${phase} ticks into a check period steps down within two election timeouts`, () => {
      const c = new TestCluster(['1', '2', '3'], { checkQuorum: true, preVote: true, electionTimeoutTicks: T, heartbeatIntervalTicks: 1 });
      c.elect('1');
      // Steady state: a couple of full periods, then `phase` ticks into the next one.
      for (let i = 0; i < 2 * T + phase; i++) {
        c.tick('1');
        c.stabilize();
      }
      const leaderTerm = term(c, '1');
      c.isolate('1');
      let ticks = 0;
      while (role(c, '1') === 'leader' && ticks < 5 * T) {
        c.tick('1');
        c.stabilize();
        ticks++;
      }
      expect(role(c, '1')).toBe('follower');
      expect(ticks).toBeGreaterThanOrEqual(T - phase);
      expect(ticks).toBeLessThanOrEqual(2 * T);
      expect(term(c, '1')).toBe(leaderTerm); // stepping down does not bump the term
      expect(c.core('1').status().leader).toBe('');
    });
  }

  it('a leader that keeps hearing from one follower of two keeps leading (a quorum is two of three)', () => {
    const c = new TestCluster(['1', '2', '3'], { checkQuorum: true, electionTimeoutTicks: T });
    c.elect('1');
    c.isolate('3');
    c.cutLink('1', '3');
    for (let i = 0; i < 10 * T; i++) {
      c.tick('1');
      c.tick('2');
      c.stabilize();
    }
    expect(role(c, '1')).toBe('leader');
  });

  it('without CheckQuorum, a cut-off leader never steps down on its own', () => {
    const c = new TestCluster(['1', '2', '3'], { checkQuorum: false, preVote: false, electionTimeoutTicks: T });
    c.elect('1');
    c.isolate('1');
    for (let i = 0; i < 20 * T; i++) c.tick('1');
    c.stabilize();
    expect(role(c, '1')).toBe('leader');
  });

  it('the majority side elects a new leader once the lease has run out', () => {
    const c = new TestCluster(['1', '2', '3'], { checkQuorum: true, preVote: true, electionTimeoutTicks: T });
    c.elect('1');
    const oldTerm = term(c, '1');
    c.isolate('1');
    tickAndSettle(c, 3 * T);
    const leader = c.leader();
    expect(leader === '2' || leader === '3').toBe(true);
    expect(term(c, leader!)).toBe(oldTerm + 1);
    expect(role(c, '1')).toBe('follower');
  });
});
