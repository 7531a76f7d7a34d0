import type { ConfState } from '../core/types.js';
import type { KvOp, KvStore } from './kv.js';
import { KvRaftStorage, openKvStore } from './kv-storage.js';
import type { StorageIdentity } from './raft-storage.js';
import { StorageError } from './raft-storage.js';

/** Keys as latin1 strings: one char per byte, so JS string order is byte order (LevelDB's). */
function keyString(key: Uint8Array): string {
  let s = '';
  for (const b of key) s += String.fromCharCode(b);
  return s;
}

function keyBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * An in-memory "data directory": outlives the MemoryRaftStorage instances opened on it, so a
 * test can close a node's store and reopen it (a restart), hand it to a node of another cluster
 * (refused), damage it through the raw accessors, or make its next write fail.
 */
export class MemoryDisk {
  private readonly data = new Map<string, Uint8Array>();
  private injected: Error | null = null;
  /** @internal Set while a store is open on this disk (like LevelDB's LOCK file). */
  inUse = false;

  constructor(readonly name = 'disk') {}

  /** Number of stored keys (identity, hard state, snapshot and entries). */
  get size(): number {
    return this.data.size;
  }

  /** Every stored key, in byte order. */
  rawKeys(): Uint8Array[] {
    return [...this.data.keys()].sort().map(keyBytes);
  }

  rawGet(key: Uint8Array): Uint8Array | undefined {
    const value = this.data.get(keyString(key));
    return value === undefined ? undefined : value.slice();
  }

  rawPut(key: Uint8Array, value: Uint8Array): void {
    this.data.set(keyString(key), value.slice());
  }

  rawDelete(key: Uint8Array): void {
    this.data.delete(keyString(key));
  }

  /** The next write (of any store open on this disk) fails with `error`, writing nothing. */
  failNextWrite(error: Error = new Error('injected write failure')): void {
    this.injected = error;
  }

  /** @internal */
  takeInjectedFailure(): Error | null {
    const error = this.injected;
    this.injected = null;
    return error;
  }

  /** @internal */
  entriesSorted(): Array<readonly [Uint8Array, Uint8Array]> {
    return [...this.data.keys()].sort().map((k) => [keyBytes(k), this.data.get(k)!] as const);
  }

  /** @internal */
  apply(ops: readonly KvOp[]): void {
    for (const op of ops) {
      if (op.type === 'put') this.data.set(keyString(op.key), op.value.slice());
      else this.data.delete(keyString(op.key));
    }
  }

  /** @internal Deletes keys k with gt < k <= lte. */
  clear(gt: Uint8Array, lte: Uint8Array): void {
    const lo = keyString(gt);
    const hi = keyString(lte);
    for (const k of [...this.data.keys()]) if (k > lo && k <= hi) this.data.delete(k);
  }
}

class MemoryKv implements KvStore {
  readonly path: string;
  private open = true;

  constructor(private readonly disk: MemoryDisk) {
    this.path = `memory:${disk.name}`;
  }

  async readAll(): Promise<Array<readonly [Uint8Array, Uint8Array]>> {
    await Promise.resolve();
    return this.disk.entriesSorted();
  }

  async write(ops: readonly KvOp[]): Promise<void> {
    await Promise.resolve();
    const injected = this.disk.takeInjectedFailure();
    if (injected !== null) throw injected;
    this.disk.apply(ops);
  }

  async clearRange(gt: Uint8Array, lte: Uint8Array): Promise<void> {
    await Promise.resolve();
    this.disk.clear(gt, lte);
  }

  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    this.disk.inUse = false;
    await Promise.resolve();
  }
}

export interface MemoryRaftStorageOptions {
  /** The disk to open; a fresh, empty one when omitted. */
  readonly disk?: MemoryDisk;
  readonly identity: StorageIdentity;
  /** The membership to bootstrap a new store with; null for a node that will join a cluster. */
  readonly bootstrap: ConfState | null;
}

/**
 * RaftStorage in memory, for node-level tests: the same layout, encoding, validation and
 * refusals as LevelRaftStorage (both are KvRaftStorage), with "fsync" instant.
 */
export class MemoryRaftStorage extends KvRaftStorage {
  private constructor(
    readonly disk: MemoryDisk,
    kv: MemoryKv,
    identity: StorageIdentity,
    opened: Awaited<ReturnType<typeof openKvStore>>,
  ) {
    super(kv, identity, opened);
  }

  static async open(options: MemoryRaftStorageOptions): Promise<MemoryRaftStorage> {
    const disk = options.disk ?? new MemoryDisk();
    if (disk.inUse) throw new StorageError('STORAGE_IO', `memory:${disk.name}: already open by another store`);
    disk.inUse = true;
    const kv = new MemoryKv(disk);
    try {
      const opened = await openKvStore(kv, options.identity, options.bootstrap);
      return new MemoryRaftStorage(disk, kv, options.identity, opened);
    } catch (err: unknown) {
      await kv.close();
      throw err;
    }
  }
}
