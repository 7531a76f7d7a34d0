import type { Logger } from 'pino';
import { isValidNodeId } from '../core/confchange.js';
import type { NodeId } from '../core/types.js';
import type { PeerAddress } from './transport.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** PEM material for mutual TLS: inline (`ca`, `cert`, `key`) or read from files at start(). */
export interface TransportTlsOptions {
  /** The CA bundle every peer's certificate (server and client side) must chain to. */
  readonly ca?: string | Uint8Array;
  readonly caFile?: string;
  /** This node's certificate chain: presented as the server and as the client certificate. */
  readonly cert?: string | Uint8Array;
  readonly certFile?: string;
  readonly key?: string | Uint8Array;
  readonly keyFile?: string;
}

export interface TransportLimits {
  /** Outbound messages queued per peer (default 4096); beyond it the oldest are dropped. */
  readonly maxQueuedMessagesPerPeer?: number;
  /** Outbound encoded bytes queued per peer (default 64 MiB); beyond it the oldest are dropped. */
  readonly maxQueuedBytesPerPeer?: number;
  /** gRPC max send/receive message size (default 16 MiB): no PeerBatch written exceeds it. */
  readonly maxMessageBytes?: number;
  /** Snap messages travel in chunks of at most this many bytes (default 1 MiB). */
  readonly snapshotChunkBytes?: number;
  /** The largest encoded Snap message accepted or sent (default 1 GiB). */
  readonly maxSnapshotBytes?: number;
}

export interface BackoffOptions {
  /** First reconnect delay (default 50 ms); doubles after each failed attempt. */
  readonly initialMs?: number;
  /** Cap of the reconnect delay (default 2000 ms). */
  readonly maxMs?: number;
  /** Each delay is scaled by a random factor in [1 - jitter, 1 + jitter] (default 0.2). */
  readonly jitter?: number;
}

export interface GrpcRaftTransportOptions {
  readonly clusterId: string;
  readonly self: NodeId;
  /** "host:port" to listen on; port 0 picks a free port (see GrpcRaftTransport.address()). */
  readonly listen: string;
  /** The peers' addresses; an entry for `self` is ignored. */
  readonly peers: ReadonlyMap<NodeId, PeerAddress>;
  readonly logger: Logger;
  /** Mutual TLS on both the server and the client side; plaintext when absent. */
  readonly tls?: TransportTlsOptions;
  readonly limits?: TransportLimits;
  readonly backoff?: BackoffOptions;
  /** A connection attempt that has not opened the stream by then fails (default 5000 ms). */
  readonly connectTimeoutMs?: number;
  /** HTTP/2 keepalive ping interval on both sides, to notice dead peers (default 10000 ms). */
  readonly keepaliveMs?: number;
  /** Source of randomness for the backoff jitter (default Math.random). */
  readonly random?: () => number;
}

export interface ResolvedLimits {
  readonly maxQueuedMessagesPerPeer: number;
  readonly maxQueuedBytesPerPeer: number;
  readonly maxMessageBytes: number;
  readonly snapshotChunkBytes: number;
  readonly maxSnapshotBytes: number;
}

export interface ResolvedBackoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly jitter: number;
}

/**
 * Bytes of a PeerBatch that are not message payload: cluster id and node ids (at most 255
 * characters each, ≤ 3 × 4 × 255 bytes of UTF-8 with tags) plus the snapshot chunk header.
 */
export const FRAME_HEADROOM_BYTES = 4 * KiB;
/** Per-message framing inside a PeerBatch: a tag byte and a length varint. */
export const PER_MESSAGE_OVERHEAD_BYTES = 6;

export const DEFAULT_LIMITS: ResolvedLimits = {
  maxQueuedMessagesPerPeer: 4096,
  maxQueuedBytesPerPeer: 64 * MiB,
  maxMessageBytes: 16 * MiB,
  snapshotChunkBytes: 1 * MiB,
  maxSnapshotBytes: 1024 * MiB,
};

export const DEFAULT_BACKOFF: ResolvedBackoff = { initialMs: 50, maxMs: 2000, jitter: 0.2 };

function positiveInt(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name}: must be a positive integer, got ${value}`);
  return value;
}

export function resolveLimits(limits: TransportLimits = {}): ResolvedLimits {
  const r: ResolvedLimits = {
    maxQueuedMessagesPerPeer: positiveInt(limits.maxQueuedMessagesPerPeer ?? DEFAULT_LIMITS.maxQueuedMessagesPerPeer, 'maxQueuedMessagesPerPeer'),
    maxQueuedBytesPerPeer: positiveInt(limits.maxQueuedBytesPerPeer ?? DEFAULT_LIMITS.maxQueuedBytesPerPeer, 'maxQueuedBytesPerPeer'),
    maxMessageBytes: positiveInt(limits.maxMessageBytes ?? DEFAULT_LIMITS.maxMessageBytes, 'maxMessageBytes'),
    snapshotChunkBytes: positiveInt(limits.snapshotChunkBytes ?? DEFAULT_LIMITS.snapshotChunkBytes, 'snapshotChunkBytes'),
    maxSnapshotBytes: positiveInt(limits.maxSnapshotBytes ?? DEFAULT_LIMITS.maxSnapshotBytes, 'maxSnapshotBytes'),
  };
  if (r.maxMessageBytes < 4 * FRAME_HEADROOM_BYTES) {
    throw new RangeError(`maxMessageBytes: must be at least ${4 * FRAME_HEADROOM_BYTES}, got ${r.maxMessageBytes}`);
  }
  if (r.snapshotChunkBytes > r.maxMessageBytes - 2 * FRAME_HEADROOM_BYTES) {
    throw new RangeError(`snapshotChunkBytes: ${r.snapshotChunkBytes} does not fit in maxMessageBytes ${r.maxMessageBytes} with the batch headroom`);
  }
  return r;
}

export function resolveBackoff(backoff: BackoffOptions = {}): ResolvedBackoff {
  const r: ResolvedBackoff = {
    initialMs: backoff.initialMs ?? DEFAULT_BACKOFF.initialMs,
    maxMs: backoff.maxMs ?? DEFAULT_BACKOFF.maxMs,
    jitter: backoff.jitter ?? DEFAULT_BACKOFF.jitter,
  };
  if (!(r.initialMs > 0) || !(r.maxMs >= r.initialMs)) throw new RangeError('backoff: need 0 < initialMs <= maxMs');
  if (!(r.jitter >= 0 && r.jitter <= 1)) throw new RangeError('backoff.jitter: must be within [0, 1]');
  return r;
}

export function checkIdentity(clusterId: string, self: NodeId): void {
  if (clusterId.length === 0 || clusterId.length > 255) throw new RangeError('clusterId: must be 1..255 characters');
  if (!isValidNodeId(self)) throw new RangeError(`self: invalid node id ${JSON.stringify(self)}`);
}
