import { describe, expect, it } from 'vitest';
import type { ClusterConfig } from '../../src/testing/cluster.js';
import { TestCluster } from '../../src/testing/cluster.js';
import { role, term, tickAndSettle } from './helpers.js';

/**
 * A follower cut off from the cluster times out again and again. Without PreVote each timeout
 * raises its term, and on rejoin that term deposes the working leader. With PreVote a
 * pre-election changes neither term nor vote, so the rejoining node cannot disrupt anything:
 * its pre-votes are refused when its log is behind, and ignored under the leader lease
 * (CheckQuorum) when it is not.
 */
function partitionedFollower(config: ClusterConfig, writeDuringPartition: boolean): { c: TestCluster; leaderTerm: number } {
  const c = new TestCluster(['1', '2', '3'], { electionTimeoutTicks: 10, heartbeatIntervalTicks: 1, ...config });
  c.elect('1');
  const leaderTerm = term(c, '1');
  c.isolate('3');
  if (writeDuringPartition) {
    expect(c.propose('1', 'while-away').ok).toBe(true);
    c.stabilize();
  }
  // Node 3 alone ticks through many election timeouts; the others tick too.
  tickAndSettle(c, 200);
  return { c, leaderTerm };
}

function rejoin(c: TestCluster): void {
  c.heal();
  c.core('3').campaign(); // the rejoining node campaigns right away
  c.stabilize();
  tickAndSettle(c, 50);
}

describe('PreVote against a disruptive rejoin', () => {
  it('a partitioned pre-candidate never raises its term', () => {
    const { c, leaderTerm } = partitionedFollower({ preVote: true, checkQuorum: false }, false);
    expect(role(c, '3')).toBe('pre-candidate');
    expect(term(c, '3')).toBe(leaderTerm);
    expect(c.node('3').disk.hardState.term).toBe(leaderTerm);
  });

  it('with PreVote a rejoining node whose log is behind is refused: term and leader unchanged', () => {
    const { c, leaderTerm } = partitionedFollower({ preVote: true, checkQuorum: false }, true);
    rejoin(c);
    for (const id of ['1', '2', '3']) expect(term(c, id)).toBe(leaderTerm);
    expect(c.leader()).toBe('1');
    expect(c.core('3').status().leader).toBe('1');
    expect(c.node('3').applied.some((a) => a.endsWith(':while-away'))).toBe(true);
  });

  it('with PreVote and CheckQuorum a rejoining node with an up-to-date log is ignored (leader lease)', () => {
    const { c, leaderTerm } = partitionedFollower({ preVote: true, checkQuorum: true }, false);
    rejoin(c);
    for (const id of ['1', '2', '3']) expect(term(c, id)).toBe(leaderTerm);
    expect(c.leader()).toBe('1');
  });

  it('without PreVote the rejoining node raised its term while away and deposes the leader', () => {
    const { c, leaderTerm } = partitionedFollower({ preVote: false, checkQuorum: false }, true);
    expect(term(c, '3')).toBeGreaterThan(leaderTerm + 5);
    const termAway = term(c, '3');
    c.heal();
    tickAndSettle(c, 50);
    // The cluster had to move past node 3's inflated term: a needless election.
    expect(term(c, '1')).toBeGreaterThanOrEqual(termAway);
    expect(c.leader()).toBeDefined();
    expect(term(c, c.leader()!)).toBeGreaterThan(leaderTerm);
  });

  it('PreVote alone does not stop a rejoining node whose log is up to date (as in etcd-io/raft: pair it with CheckQuorum)', () => {
    const { c, leaderTerm } = partitionedFollower({ preVote: true, checkQuorum: false }, false);
    rejoin(c);
    expect(term(c, '1')).toBeGreaterThan(leaderTerm);
  });
});
