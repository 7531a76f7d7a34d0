import type { Entry, HardState, NodeId, PersistedState, Snapshot } from '../core/types.js';

/** Who a data directory belongs to; a mismatch on open is fatal (never start on a foreign log). */
export interface StorageIdentity {
  readonly clusterId: string;
  readonly nodeId: NodeId;
}

/** What one Ready asks to make durable, in this order: snapshot, entries, hard state. */
export interface PersistBatch {
  readonly hardState: HardState | null;
  /** A snapshot from the leader: replaces the whole stored log. */
  readonly snapshot: Snapshot | null;
  /** Overwrite the stored log from entries[0].index on (dropping anything stored after). */
  readonly entries: readonly Entry[];
}

/**
 * Durable Raft state. Every method that writes resolves only once the data is on disk (fsync):
 * the node sends acknowledgements after `persist` resolves, so a crash can never lose what
 * Raft acknowledged.
 */
export interface RaftStorage {
  /** The persisted state to restart the core from (bootstrap state if the store is new). */
  load(): Promise<PersistedState>;
  persist(batch: PersistBatch): Promise<void>;
  /** A local snapshot taken by the application at snapshot.meta.index: store it, drop entries <= it. */
  saveSnapshot(snapshot: Snapshot): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
}

export class StorageError extends Error {
  constructor(
    readonly code: 'STORAGE_FOREIGN' | 'STORAGE_CORRUPT' | 'STORAGE_IO' | 'STORAGE_CLOSED',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StorageError';
  }
}
