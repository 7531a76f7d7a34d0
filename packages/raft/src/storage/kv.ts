/** The small key-value surface the Raft store needs; LevelDB and the in-memory fake provide it. */

export type KvOp =
  | { readonly type: 'put'; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly type: 'del'; readonly key: Uint8Array };

export interface KvStore {
  /** Where the data lives, for error messages (a directory, or "memory:<name>"). */
  readonly path: string;
  /** Every key/value pair, in byte order of the keys. */
  readAll(): Promise<Array<readonly [Uint8Array, Uint8Array]>>;
  /**
   * Applies `ops` in order, atomically, and resolves once they are durable (fsync) — unless
   * `sync` is false: then they are written (and a crash of this process keeps them) but an OS
   * crash may lose them; a later synced write makes them durable too (one log, in order).
   */
  write(ops: readonly KvOp[], options?: { readonly sync?: boolean }): Promise<void>;
  /** Deletes every key k with gt < k <= lte. Neither atomic nor synced: only for garbage. */
  clearRange(gt: Uint8Array, lte: Uint8Array): Promise<void>;
  /** Releases the store (and its lock). */
  close(): Promise<void>;
}
