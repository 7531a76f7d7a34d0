import type { RaftStatus } from '../core/raft.js';
import { Role } from '../core/types.js';
import type { InvariantChecker } from './invariants.js';
import type { SimNode } from './sim-node.js';

/**
 * The checks run on every live node after every scheduler step (when every Ready has been
 * processed): leaders, newly committed entries, and that the disk holds what the core holds.
 */

/** Checks every live node; returns the highest term seen. */
export function checkNodes(checker: InvariantChecker, nodes: Iterable<SimNode>): number {
  let maxTerm = 0;
  for (const node of nodes) {
    if (!node.alive) continue;
    const status = node.raft.status();
    if (status.term > maxTerm) maxTerm = status.term;
    checkInSync(checker, node, status);
    if (status.role === Role.Leader) node.onLeader(status.term);
    const commit = node.disk.hardState.commit;
    if (commit > node.observedCommit) {
      checker.observeCommit(node.id, commit, node.disk, node.observedCommit + 1, status.term);
      node.observedCommit = commit;
    }
  }
  return maxTerm;
}

/**
 * Between inputs, with every Ready processed, the disk must hold what the core holds: anything
 * the core changed without handing it out in a Ready would be lost by a crash.
 */
function checkInSync(checker: InvariantChecker, node: SimNode, status: RaftStatus): void {
  const disk = node.disk;
  const hs = disk.hardState;
  if (status.term !== hs.term || status.vote !== hs.vote || status.commit !== hs.commit) {
    checker.fail(
      'storage-contract',
      `${node.id} holds term=${status.term} vote=${status.vote || '-'} commit=${status.commit} but its last persisted hard state is term=${hs.term} vote=${hs.vote || '-'} commit=${hs.commit}`,
    );
  }
  if (status.lastIndex !== disk.lastIndex() || status.firstIndex !== disk.snapIndex() + 1) {
    checker.fail('storage-contract', `${node.id} log is ${status.firstIndex}..${status.lastIndex} in memory but ${disk.snapIndex() + 1}..${disk.lastIndex()} on disk`);
  }
  if (status.applied !== node.sm.appliedIndex) {
    checker.fail('storage-contract', `${node.id} core says applied=${status.applied}, the state machine has applied ${node.sm.appliedIndex}`);
  }
}

/** Every acknowledged write on every live log, and every state machine against the history. */
export function deepCheckNodes(checker: InvariantChecker, nodes: Iterable<SimNode>): void {
  for (const node of nodes) {
    if (!node.alive) continue;
    checker.checkAckedOn(node.id, node.disk, node.disk.hardState.commit);
    checker.checkStateMachine(node.id, node.sm.current);
  }
  checker.checkAckedInHistory();
}
