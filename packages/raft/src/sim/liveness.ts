import type { NodeId } from '../core/types.js';
import { majoritySize } from '../core/quorum.js';
import type { SimCluster } from './cluster.js';
import { sameBytes } from './invariants.js';

/**
 * The liveness check at the end of a run: heal the network, stop drops and duplicates, restart
 * every crashed node, and then require that within LIVENESS_BOUND_TICKS a leader exists and a
 * fresh proposal is committed on a quorum of its voters.
 *
 * The bound: with electionTimeoutTicks = 10 an election needs at most ~2 timeouts of jitter plus
 * (pre-)vote round trips (≤ 2 × maxDelay 4 ticks), a disrupted or split election repeats that,
 * a pending leadership transfer holds proposals for one timeout, and catching a restarted quorum
 * up may need a snapshot. Over 2000 seeds the worst case measured is far below the bound (see
 * the CLI's "liveness ticks" summary); 300 ticks = 30 election timeouts leaves a wide margin
 * while still catching a cluster that cannot make progress at all.
 */
export const LIVENESS_BOUND_TICKS = 300;

/** Runs the liveness phase; returns the ticks it took (throws a SimViolation on failure). */
export function checkLiveness(cluster: SimCluster, bound = LIVENESS_BOUND_TICKS): number {
  cluster.note('phase', '', 'liveness: heal, no drops/duplicates, restart all');
  cluster.net.heal();
  cluster.net.setFaults({ dropRate: 0, duplicateRate: 0 });
  for (const node of cluster.nodes.values()) node.disarmCrash();
  for (const node of cluster.crashedNodes()) cluster.restart(node);
  cluster.sweep();

  let proposal: { node: NodeId; term: number; index: number; data: Uint8Array } | null = null;
  for (let t = 1; t <= bound; t++) {
    cluster.tickAll();
    cluster.deliverAllDue();
    cluster.sweep();
    const leader = cluster.currentLeader();
    if (leader === undefined) continue;
    const status = leader.raft.status();
    if (proposal === null || proposal.node !== leader.id || proposal.term !== status.term) {
      const accepted = cluster.proposeOn(leader, 'live');
      if (accepted !== null) {
        proposal = { node: leader.id, ...accepted };
        cluster.deliverAllDue();
        cluster.sweep();
      }
    }
    if (proposal === null) continue;
    const committed = cluster.checker.committedEntry(proposal.index);
    if (committed === undefined || committed.term !== proposal.term || !sameBytes(committed.data, proposal.data)) continue;
    // committed; now on a quorum of the leader's voters?
    const voters = status.conf.voters;
    let holding = 0;
    for (const id of voters) {
      const node = cluster.nodes.get(id);
      if (node === undefined || !node.alive) continue;
      const disk = node.disk;
      if (disk.hardState.commit < proposal.index) continue;
      if (proposal.index <= disk.snapIndex() || disk.term(proposal.index) === proposal.term) holding++;
    }
    if (holding >= majoritySize(voters.length)) return t;
  }
  return cluster.checker.fail(
    'liveness',
    `no leader with a fresh proposal committed on a quorum within ${bound} ticks after healing; ${proposal === null ? 'no proposal accepted' : `last proposal (${proposal.index},t${proposal.term}) on ${proposal.node}`}; nodes: ${cluster.describeNodes().join(' | ')}`,
  );
}
