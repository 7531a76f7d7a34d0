import { Inflights } from './inflights.js';

/**
 * How the leader replicates to one follower (etcd-io/raft's three states):
 * - probe: one App at a time until the follower's match point is found;
 * - replicate: optimistic pipelining of App messages, bounded by Inflights;
 * - snapshot: a snapshot is on its way; nothing else is sent until it is acknowledged.
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** Snapshot state: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Ticks spent in the snapshot state; a lost snapshot is re-sent after a bound. */
  snapshotTicks = 0;
  /** Probe state: an App is outstanding; heartbeat responses clear it. */
  probeSent = false;
  /** Heard from within the current CheckQuorum period. */
  recentActive = false;
  /** The highest commit index sent to this follower (App or heartbeat). */
  sentCommit = 0;
  /**
   * Non-zero: the member was removed by the ConfChange entry at this index. The leader keeps
   * replicating to it until it holds (and knows committed) its own removal, so it learns it is
   * out and stops campaigning; then, or after a grace period, the progress is dropped.
   */
  removedAt = 0;
  /** Ticks since the removal committed (bounded grace for an unreachable removed member). */
  removalGraceTicks = 0;
  readonly inflights: Inflights;

  constructor(
    next: number,
    public isLearner: boolean,
    maxInflightMsgs: number,
    maxInflightBytes: number,
  ) {
    this.next = next;
    this.inflights = new Inflights(maxInflightMsgs, maxInflightBytes);
  }

  becomeProbe(): void {
    this.next = this.state === 'snapshot' ? Math.max(this.match + 1, this.pendingSnapshot + 1) : this.match + 1;
    this.resetState('probe');
  }

  becomeReplicate(): void {
    this.next = this.match + 1;
    this.resetState('replicate');
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  private resetState(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapshotTicks = 0;
    this.inflights.reset();
  }

  /** An acknowledgement up to `index`; returns whether it told us something new. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * A rejection of the App at `rejected`, with the follower's hint of where it may match.
   * Returns false when the rejection is stale (a reply to an earlier message).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Whether the leader must hold further App messages to this follower. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }
}
