import type { NodeId } from '../core/types.js';
import { majoritySize } from '../core/quorum.js';
import type { SimCluster } from './cluster.js';
import { sameBytes } from './invariants.js';

/**
 * The liveness check at the end of a run: heal the network, stop drops and duplicates, restart
 * every crashed node, and then require that within LIVENESS_BOUND_TICKS a leader exists and a
 * fresh proposal is committed on a quorum of its voters.
 *
 * The bound: with electionTimeoutTicks = 10 an election takes one randomized timeout [10, 20)
 * plus (pre-)vote round trips (≤ 2 × maxDelay 4 ticks); split or disrupted elections repeat
 * that; a pending leadership transfer holds proposals for up to one timeout; and the new entry
 * commits only after the backlog before it (≤ 16 outstanding client entries, see the cluster's
 * backpressure) has been replicated — slowly in the harshest profiles (1-entry messages, one
 * in flight, reordering links) — or after a run of split elections in the seeds without PreVote,
 * where a candidate with a stale log keeps raising the term. Measured: seeds 1..2000 × 2000
 * steps: median 10-11, p99 ~57, max 85-143 (depending on the core revision); 4000 seeds × 4000
 * steps: max 195; 3000 seeds × 6000 steps: max 156. 300 ticks (30 election timeouts, 1.5-2× the
 * worst case seen) leaves margin for unlucky seeds while still catching a cluster that
 * cannot make progress.
 */
export const LIVENESS_BOUND_TICKS = 300;

/** Runs the liveness phase; returns the ticks it took (throws a SimViolation on failure). */
export function checkLiveness(cluster: SimCluster, bound = LIVENESS_BOUND_TICKS): number {
  cluster.note('phase', '', 'liveness: heal, no drops/duplicates, restart all');
  cluster.net.heal();
  cluster.net.setFaults({ dropRate: 0, duplicateRate: 0 });
  for (const node of cluster.nodes.values()) node.disarmCrash();
  cluster.retireRemovedNow();
  for (const node of cluster.crashedNodes()) cluster.restart(node);
  cluster.sweep();

  let proposal: { node: NodeId; term: number; index: number; data: Uint8Array } | null = null;
  for (let t = 1; t <= bound; t++) {
    cluster.tickAll();
    cluster.deliverAllDue();
    cluster.flushFeedback();
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
