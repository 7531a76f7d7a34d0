import { describe, expect, it } from 'vitest';
import { TestCluster } from '../../src/testing/cluster.js';
import { commit, role, storedTerm, term, tickUntil } from './helpers.js';

/**
 * A leader partitioned away from the majority. It cannot commit anything, the majority elects a
 * new leader in a higher term, and on heal the old leader follows and loses its uncommitted
 * entries. Until it learns better (CheckQuorum, or the new term on heal) it believes it leads.
 */
describe('stale leader', () => {
  for (const checkQuorum of [true, false]) {
    it(`keeps leading in its old term until ${checkQuorum ? 'CheckQuorum steps it down' : 'it hears the new term on heal'}; its proposals never commit and are overwritten`, () => {
      const c = new TestCluster(['1', '2', '3'], { preVote: true, checkQuorum, heartbeatIntervalTicks: 1, electionTimeoutTicks: 10 });
      c.elect('1');
      expect(c.propose('1', 'before').ok).toBe(true);
      c.stabilize();
      const oldTerm = term(c, '1');

      c.partition(['1'], ['2', '3']);
      const stale = c.propose('1', 'stale');
      if (!stale.ok) throw new Error('the old leader refused a proposal while it still led');
      c.stabilize();

      // The majority elects a new leader; meanwhile 1 still believes it leads (its old term).
      tickUntil(c, () => c.leader() !== undefined && c.leader() !== '1');
      const newLeader = c.leader()!;
      expect(['2', '3']).toContain(newLeader);
      expect(term(c, newLeader)).toBeGreaterThan(oldTerm);
      expect(role(c, '1')).toBe('leader');
      expect(term(c, '1')).toBe(oldTerm);
      expect(c.propose(newLeader, 'after').ok).toBe(true);
      c.stabilize();

      if (checkQuorum) {
        // CheckQuorum: within two election timeouts of the partition, 1 notices and steps down.
        tickUntil(c, () => role(c, '1') !== 'leader', 20);
        expect(c.core('1').status().leader).toBe('');
        expect(c.propose('1', 'refused').ok).toBe(false);
      } else {
        // Without CheckQuorum it leads (alone, uselessly) for as long as the partition lasts.
        for (let i = 0; i < 100; i++) c.tick('1');
        c.stabilize();
        expect(role(c, '1')).toBe('leader');
      }
      expect(commit(c, '1')).toBeLessThan(stale.index);
      expect(c.node('1').applied).not.toContain(`${stale.index}/${stale.term}:stale`);

      // Heal: 1 learns the new term, follows the new leader, and its entry is overwritten.
      c.heal();
      tickUntil(c, () => c.core('1').status().leader === newLeader && commit(c, '1') === commit(c, newLeader), 50);
      expect(role(c, '1')).toBe('follower');
      expect(term(c, '1')).toBe(term(c, newLeader));
      expect(storedTerm(c, '1', stale.index)).not.toBe(stale.term);
      for (const id of ['1', '2', '3']) {
        expect(c.node(id).applied.some((a) => a.endsWith(':stale'))).toBe(false);
        expect(c.node(id).applied.filter((a) => a.endsWith(':before') || a.endsWith(':after'))).toHaveLength(2);
      }
    });
  }
});
