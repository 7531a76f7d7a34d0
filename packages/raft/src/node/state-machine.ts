import type { Entry, NodeId } from '../core/types.js';

/**
 * The application's replicated state machine as the node driver sees it. Every method is
 * synchronous and deterministic: replicas applying the same entries end in the same state.
 */
export interface ReplicatedStateMachine<Result = unknown> {
  /** Applies one committed entry (Normal or ConfChange) and returns the proposer's result. */
  apply(entry: Entry): Result;
  /** The whole state as of the last applied entry. */
  snapshot(): Uint8Array;
  /** Replaces the whole state with a snapshot's. */
  restore(data: Uint8Array): void;
  /** Peer addresses ("host:port" of the Raft endpoint) of the current members, for the transport. */
  peerAddresses(): ReadonlyMap<NodeId, string>;
}
