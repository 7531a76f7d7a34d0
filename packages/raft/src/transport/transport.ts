import type { Message, NodeId } from '../core/types.js';

/** How to reach a peer: "host:port" of its Raft peer gRPC endpoint. */
export type PeerAddress = string;

export interface TransportHandlers {
  /** An inbound message, already validated and from a peer of this cluster addressed to us. */
  onMessage(message: Message): void;
  /** A peer could not be reached (connection failed or its queue overflowed). */
  onUnreachable(peer: NodeId): void;
  /** The outcome of sending a snapshot to `peer`. */
  onSnapshotStatus(peer: NodeId, ok: boolean): void;
}

/**
 * Moves Raft messages between nodes. `send` never blocks and never throws for network trouble:
 * Raft tolerates loss, so overflow and failures are dropped and reported through the handlers.
 */
export interface RaftTransport {
  start(handlers: TransportHandlers): Promise<void>;
  send(messages: readonly Message[]): void;
  /** The address book follows the membership; peers not listed are disconnected. */
  setPeers(peers: ReadonlyMap<NodeId, PeerAddress>): void;
  /** Idempotent. */
  close(): Promise<void>;
}
