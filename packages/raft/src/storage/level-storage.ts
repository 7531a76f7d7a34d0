import { readdir, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Level } from 'level';
import type { ConfState } from '../core/types.js';
import type { KvOp, KvStore } from './kv.js';
import type { OpenedStore } from './kv-storage.js';
import { KvRaftStorage, openKvStore } from './kv-storage.js';
import type { StorageIdentity } from './raft-storage.js';
import { StorageError } from './raft-storage.js';

type Db = Level<Uint8Array, Uint8Array>;

/** classic-level (what `level` is on Node) has compactRange; `level`'s universal typings lack it. */
interface CompactableDb {
  compactRange(start: Uint8Array, end: Uint8Array, options: { keyEncoding: 'view' }): Promise<void>;
}

/** Files LevelDB writes before CURRENT when it creates a database: harmless leftovers of a failed create. */
const PRE_CURRENT_FILES: ReadonlySet<string> = new Set(['LOCK', 'LOG', 'LOG.old']);

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A LevelDB error as a StorageError naming the path; corruption reported by LevelDB stays corruption. */
function levelError(path: string, action: string, err: unknown): StorageError {
  const cause = (err as { cause?: unknown } | null)?.cause;
  const codes = [errorCode(err), errorCode(cause)];
  const detail = cause instanceof Error ? `${describe(err)}: ${cause.message}` : describe(err);
  if (codes.includes('LEVEL_CORRUPTION')) return new StorageError('STORAGE_CORRUPT', `${path}: LevelDB reports corruption on ${action}: ${detail}`, { cause: err });
  if (codes.includes('LEVEL_LOCKED')) return new StorageError('STORAGE_IO', `${path}: locked by another process (is this node already running?): ${detail}`, { cause: err });
  return new StorageError('STORAGE_IO', `${path}: ${action} failed: ${detail}`, { cause: err });
}

/** Refuses a path that exists and is not (the beginnings of) a LevelDB directory. */
async function checkDirectory(path: string): Promise<void> {
  let names: string[];
  try {
    const st = await stat(path);
    if (!st.isDirectory()) throw new StorageError('STORAGE_FOREIGN', `${path}: exists and is not a directory`);
    names = await readdir(path);
  } catch (err: unknown) {
    if (err instanceof StorageError) throw err;
    if (errorCode(err) === 'ENOENT') return; // created on open
    throw new StorageError('STORAGE_IO', `${path}: cannot inspect the data directory: ${describe(err)}`, { cause: err });
  }
  if (names.includes('CURRENT') || names.every((n) => PRE_CURRENT_FILES.has(n))) return;
  const shown = names.slice(0, 5).join(', ') + (names.length > 5 ? ', …' : '');
  throw new StorageError('STORAGE_FOREIGN', `${path}: not a LevelDB directory (no CURRENT file; holds ${shown}), refusing to use it`);
}

class LevelKv implements KvStore {
  constructor(
    readonly path: string,
    readonly db: Db,
  ) {}

  async readAll(): Promise<Array<readonly [Uint8Array, Uint8Array]>> {
    try {
      return await this.db.iterator().all();
    } catch (err: unknown) {
      throw levelError(this.path, 'read', err);
    }
  }

  async write(ops: readonly KvOp[], options: { readonly sync?: boolean } = {}): Promise<void> {
    try {
      await this.db.batch(ops.map((op) => (op.type === 'put' ? { type: 'put' as const, key: op.key, value: op.value } : { type: 'del' as const, key: op.key })), { sync: options.sync ?? true });
    } catch (err: unknown) {
      throw levelError(this.path, 'write', err);
    }
  }

  async clearRange(gt: Uint8Array, lte: Uint8Array): Promise<void> {
    try {
      await this.db.clear({ gt, lte });
    } catch (err: unknown) {
      throw levelError(this.path, 'range delete', err);
    }
  }

  async close(): Promise<void> {
    if (this.db.status === 'closed') return;
    try {
      await this.db.close();
    } catch (err: unknown) {
      throw levelError(this.path, 'close', err);
    }
  }
}

export interface LevelRaftStorageOptions {
  /** The node's Raft data directory (created if missing). */
  readonly dir: string;
  readonly identity: StorageIdentity;
  /** The membership to bootstrap a new store with; null for a node that will join a cluster. */
  readonly bootstrap: ConfState | null;
}

/**
 * RaftStorage in a LevelDB in the node's data directory (layout in layout.ts). Every write is one
 * `db.batch(ops, { sync: true })`. LevelDB's LOCK keeps a second process off the directory.
 */
export class LevelRaftStorage extends KvRaftStorage {
  private constructor(
    private readonly level: LevelKv,
    identity: StorageIdentity,
    opened: OpenedStore,
  ) {
    super(level, identity, opened);
  }

  /** Opens (creating, and bootstrapping, when new) and validates the store; throws StorageError. */
  static async open(options: LevelRaftStorageOptions): Promise<LevelRaftStorage> {
    const path = resolve(options.dir);
    await checkDirectory(path);
    const db: Db = new Level<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
    try {
      await db.open({ createIfMissing: true, errorIfExists: false });
    } catch (err: unknown) {
      throw levelError(path, 'open', err);
    }
    const kv = new LevelKv(path, db);
    try {
      const opened = await openKvStore(kv, options.identity, options.bootstrap);
      return new LevelRaftStorage(kv, options.identity, opened);
    } catch (err: unknown) {
      await kv.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Has LevelDB compact the whole store now (flushing the memtable and dropping the tombstones of
   * deleted entries). LevelDB also compacts by itself in the background; this makes it immediate.
   */
  async compactDisk(): Promise<void> {
    this.assertOpen();
    await this.settled();
    const db = this.level.db as unknown as CompactableDb;
    try {
      await db.compactRange(new Uint8Array([0x00]), new Uint8Array([0xff]), { keyEncoding: 'view' });
    } catch (err: unknown) {
      throw levelError(this.path, 'compaction', err);
    }
  }
}
