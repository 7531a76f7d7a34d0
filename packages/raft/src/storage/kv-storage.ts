import { decodeSnapshot, encodeEntry, encodeHardState, encodeSnapshot } from '../codec/storage-codec.js';
import { isValidNodeId } from '../core/confchange.js';
import { RaftCore } from '../core/raft.js';
import type { ConfState, Entry, HardState, PersistedState, Snapshot } from '../core/types.js';
import { EntryType, NO_NODE } from '../core/types.js';
import type { KvOp, KvStore } from './kv.js';
import { encodeIdentity, entryKey, HARD_STATE_KEY, IDENTITY_KEY, isValidClusterId, SNAPSHOT_KEY } from './layout.js';
import type { PersistBatch, RaftStorage, StorageIdentity } from './raft-storage.js';
import { StorageError } from './raft-storage.js';
import { corrupt, readStore } from './read-store.js';

/**
 * A local snapshot deletes the entries it covers inside its own synced batch when there are at
 * most this many; more are deleted afterwards, in chunks between later writes (crash safe: load
 * ignores entries at or below the snapshot).
 */
export const INLINE_DELETE_LIMIT = 1024;
/** Entries deleted per range delete of compaction leftovers. */
export const CLEANUP_CHUNK = 4096;

/** What the writer knows about the stored log without reading it back. */
interface LogModel {
  snapIndex: number;
  snapTerm: number;
  /** Terms of the entries snapIndex+1 … lastIndex. */
  terms: number[];
  hardState: HardState;
  /** Every stored entry with an index at or below this is known to be deleted (cleared ≤ snapIndex). */
  cleared: number;
}

function lastIndex(m: LogModel): number {
  return m.snapIndex + m.terms.length;
}

function termAt(m: LogModel, index: number): number | undefined {
  if (index === m.snapIndex) return m.snapTerm;
  if (index < m.snapIndex || index > lastIndex(m)) return undefined;
  return m.terms[index - m.snapIndex - 1];
}

function isU64(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** An open store: its state as read (or just bootstrapped) and the writer's model of it. */
export interface OpenedStore {
  readonly state: PersistedState;
  readonly model: LogModel;
}

function checkIdentity(identity: StorageIdentity): void {
  if (!isValidClusterId(identity.clusterId)) throw new TypeError(`storage identity: invalid cluster id ${JSON.stringify(identity.clusterId)}`);
  if (!isValidNodeId(identity.nodeId)) throw new TypeError(`storage identity: invalid node id ${JSON.stringify(identity.nodeId)}`);
}

/** A snapshot the codec accepts (valid ids, index 0 only with term 0, …), encoded; or the reason not. */
function encodeCheckedSnapshot(snapshot: Snapshot): { ok: true; bytes: Uint8Array } | { ok: false; error: string } {
  let bytes: Uint8Array;
  try {
    bytes = encodeSnapshot(snapshot);
  } catch (err: unknown) {
    return { ok: false, error: describe(err) };
  }
  const back = decodeSnapshot(bytes);
  if (!back.ok) return { ok: false, error: back.error };
  if (back.value.meta.index !== snapshot.meta.index || back.value.meta.term !== snapshot.meta.term) {
    return { ok: false, error: 'index or term not a safe integer' };
  }
  return { ok: true, bytes };
}

function entryProblem(e: Entry): string | null {
  if (!isU64(e.index) || e.index < 1) return `index ${String(e.index)} is not a positive safe integer`;
  if (!isU64(e.term) || e.term < 1) return `term ${String(e.term)} is not a positive safe integer`;
  if (e.type !== EntryType.Normal && e.type !== EntryType.ConfChange) return `unknown type ${String(e.type)}`;
  if (!(e.data instanceof Uint8Array)) return 'data is not a Uint8Array';
  return null;
}

function hardStateProblem(h: HardState): string | null {
  if (!isU64(h.term)) return `term ${String(h.term)} is not a non-negative safe integer`;
  if (!isU64(h.commit)) return `commit ${String(h.commit)} is not a non-negative safe integer`;
  if (h.vote !== NO_NODE && !isValidNodeId(h.vote)) return `vote ${JSON.stringify(h.vote)} is not a node id`;
  return null;
}

/**
 * Reads and validates the store, or initializes it when it holds nothing: identity record, hard
 * state and (with `bootstrap`) the bootstrap snapshot, in one synced batch.
 */
export async function openKvStore(kv: KvStore, identity: StorageIdentity, bootstrap: ConfState | null): Promise<OpenedStore> {
  checkIdentity(identity);
  const contents = await readStore(kv, identity);
  let state: PersistedState;
  let leftoverFrom: number | null = null;
  if (contents.kind === 'empty') {
    if (bootstrap !== null) {
      const conf = encodeCheckedSnapshot({ meta: { index: 0, term: 0, conf: bootstrap }, data: new Uint8Array(0) });
      if (!conf.ok) throw new TypeError(`bootstrap membership invalid: ${conf.error}`);
    }
    // The core's own initial state: with a membership, its ConfChange entries; without (a node
    // that will join a cluster), the empty membership.
    state = RaftCore.bootstrapState(bootstrap ?? { voters: [], learners: [] });
    const ops: KvOp[] = [
      { type: 'put', key: IDENTITY_KEY, value: encodeIdentity(identity) },
      { type: 'put', key: HARD_STATE_KEY, value: encodeHardState(state.hardState) },
    ];
    if (state.snapshot !== null) {
      const snap = encodeCheckedSnapshot(state.snapshot);
      if (!snap.ok) throw new TypeError(`bootstrap membership invalid: ${snap.error}`);
      ops.push({ type: 'put', key: SNAPSHOT_KEY, value: snap.bytes });
    }
    for (const e of state.entries) {
      const problem = entryProblem(e);
      if (problem !== null) throw new TypeError(`bootstrap entry ${String(e.index)}: ${problem}`);
      ops.push({ type: 'put', key: entryKey(e.index), value: encodeEntry(e) });
    }
    await kv.write(ops);
  } else {
    state = contents.state;
    leftoverFrom = contents.leftoverFrom;
  }
  const snapIndex = state.snapshot?.meta.index ?? 0;
  const model: LogModel = {
    snapIndex,
    snapTerm: state.snapshot?.meta.term ?? 0,
    terms: state.entries.map((e) => e.term),
    hardState: state.hardState,
    cleared: leftoverFrom === null ? snapIndex : leftoverFrom - 1,
  };
  return { state, model };
}

/**
 * RaftStorage over a KvStore (see layout.ts). Writes are serialized; each is one atomic, synced
 * batch that the store validates first, refusing (StorageError 'STORAGE_CORRUPT', nothing
 * written) any write after which load() would find the store invalid. After a failed write the
 * store is fail-stop: what reached the disk is unknown, so every later call fails until reopened.
 */
export class KvRaftStorage implements RaftStorage {
  private model: LogModel;
  /** The state read at open, handed out by the first load() unless a write came first. */
  private initial: PersistedState | null;
  /** The queue of writes: never rejects. */
  private tail: Promise<unknown> = Promise.resolve();
  private cleanupQueued = false;
  private failure: StorageError | null = null;
  private closing: Promise<void> | null = null;

  protected constructor(
    private readonly kv: KvStore,
    private readonly identity: StorageIdentity,
    opened: OpenedStore,
  ) {
    this.model = opened.model;
    this.initial = opened.state;
    this.scheduleCleanup();
  }

  /** Where the data lives (for messages). */
  get path(): string {
    return this.kv.path;
  }

  load(): Promise<PersistedState> {
    return this.run(async () => {
      const cached = this.initial;
      if (cached !== null) return { hardState: cached.hardState, snapshot: cached.snapshot, entries: cached.entries.slice() };
      const contents = await readStore(this.kv, this.identity);
      if (contents.kind === 'empty') throw corrupt(this.path, 'the store became empty while open');
      return contents.state;
    });
  }

  persist(batch: PersistBatch): Promise<void> {
    return this.run(async () => {
      const m = this.model;
      const refuse = (problem: string): StorageError => corrupt(this.path, `persist refused (nothing written): ${problem}`);
      const ops: KvOp[] = [];

      // 1. A leader's snapshot replaces the whole log.
      let snapIndex = m.snapIndex;
      let snapTerm = m.snapTerm;
      let baseLast = lastIndex(m);
      if (batch.snapshot !== null) {
        const snap = encodeCheckedSnapshot(batch.snapshot);
        if (!snap.ok) throw refuse(`invalid snapshot: ${snap.error}`);
        ops.push({ type: 'put', key: SNAPSHOT_KEY, value: snap.bytes });
        snapIndex = batch.snapshot.meta.index;
        snapTerm = batch.snapshot.meta.term;
        baseLast = snapIndex;
      }
      const baseTerm = (index: number): number => (index === snapIndex ? snapTerm : termAt(m, index)!);

      // 2. Entries overwrite the log from the first one on.
      const entries = batch.entries;
      let newLast = baseLast;
      let newLastTerm = baseTerm(baseLast);
      const first = entries[0]?.index ?? 0;
      if (entries.length > 0) {
        if (!isU64(first) || first <= snapIndex) throw refuse(`entries from ${String(first)} overlap the snapshot at ${snapIndex}`);
        if (first > baseLast + 1) throw refuse(`entries from ${first} leave a gap after the last index ${baseLast}`);
        let prev = baseTerm(first - 1);
        for (let k = 0; k < entries.length; k++) {
          const e = entries[k]!;
          const problem = entryProblem(e);
          if (problem !== null) throw refuse(`entry at position ${k}: ${problem}`);
          if (e.index !== first + k) throw refuse(`entries not contiguous: ${e.index} at position ${k} from ${first}`);
          if (e.term < prev) throw refuse(`entry ${e.index} has term ${e.term}, below its predecessor's ${prev}`);
          prev = e.term;
          ops.push({ type: 'put', key: entryKey(e.index), value: encodeEntry(e) });
        }
        newLast = first + entries.length - 1;
        newLastTerm = prev;
      }

      // 3. The hard state: never a lower term, never a second vote in a term.
      const old = m.hardState;
      const hardState = batch.hardState ?? old;
      if (batch.hardState !== null) {
        const problem = hardStateProblem(hardState);
        if (problem !== null) throw refuse(`hard state: ${problem}`);
        if (hardState.term < old.term) throw refuse(`hard state term ${hardState.term} below the stored term ${old.term}`);
        if (hardState.term === old.term && old.vote !== NO_NODE && hardState.vote !== old.vote) {
          throw refuse(`hard state changes the vote in term ${old.term} from ${JSON.stringify(old.vote)} to ${JSON.stringify(hardState.vote)}`);
        }
        ops.push({ type: 'put', key: HARD_STATE_KEY, value: encodeHardState(hardState) });
      }
      if (hardState.commit > newLast) throw refuse(`commit ${hardState.commit} would be beyond the last log index ${newLast}`);
      if (hardState.term < newLastTerm) throw refuse(`hard state term ${hardState.term} would be below the last log term ${newLastTerm}`);
      if (ops.length === 0) return;

      // Stored entries above the new last index go in the same batch (they would otherwise be read
      // back as log); entries at or below the snapshot may stay behind as leftovers.
      const dels: KvOp[] = [];
      for (let i = Math.max(m.cleared, newLast) + 1; i <= lastIndex(m); i++) dels.push({ type: 'del', key: entryKey(i) });

      // Raft needs term, vote and entries durable before it replies; the commit index alone
      // may be lost (a restarted node learns it again from the leader), so a batch that only
      // moves the commit index skips the fsync — that is one fsync saved per committed write.
      const onlyCommitMoved = batch.snapshot === null && entries.length === 0 && dels.length === 0 && hardState.term === old.term && hardState.vote === old.vote;
      await this.write([...dels, ...ops], { sync: !onlyCommitMoved });

      if (batch.snapshot !== null) {
        m.snapIndex = snapIndex;
        m.snapTerm = snapTerm;
        m.terms = [];
        m.cleared = Math.min(m.cleared, snapIndex);
      }
      if (entries.length > 0) {
        m.terms.length = first - m.snapIndex - 1;
        for (const e of entries) m.terms.push(e.term);
      }
      m.hardState = hardState;
      this.initial = null;
      this.scheduleCleanup();
    });
  }

  saveSnapshot(snapshot: Snapshot): Promise<void> {
    return this.run(async () => {
      const m = this.model;
      const refuse = (problem: string): StorageError => corrupt(this.path, `saveSnapshot refused (nothing written): ${problem}`);
      const snap = encodeCheckedSnapshot(snapshot);
      if (!snap.ok) throw refuse(`invalid snapshot: ${snap.error}`);
      const { index, term } = snapshot.meta;
      if (index < m.snapIndex) return; // older than the stored one: nothing to compact
      if (index > lastIndex(m)) throw refuse(`snapshot at ${index} is beyond the last stored index ${lastIndex(m)}`);
      const stored = termAt(m, index);
      if (stored !== term) throw refuse(`snapshot at ${index} has term ${term}, the stored log has term ${String(stored)} there`);

      const ops: KvOp[] = [{ type: 'put', key: SNAPSHOT_KEY, value: snap.bytes }];
      const inline = index - m.cleared <= INLINE_DELETE_LIMIT;
      if (inline) for (let i = m.cleared + 1; i <= index; i++) ops.push({ type: 'del', key: entryKey(i) });
      await this.write(ops);

      m.terms.splice(0, index - m.snapIndex);
      m.snapIndex = index;
      m.snapTerm = term;
      if (inline) m.cleared = index;
      this.initial = null;
      this.scheduleCleanup();
    });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      // Let queued writes and the cleanup they scheduled finish, then release the store.
      await this.settled();
      await this.kv.close();
    })();
    return this.closing;
  }

  /** Throws STORAGE_CLOSED once close() was called. */
  protected assertOpen(): void {
    if (this.closing !== null) throw new StorageError('STORAGE_CLOSED', `${this.path}: store is closed`);
  }

  /** Resolves once every write queued so far and the deletion of compacted entries are done. */
  async settled(): Promise<void> {
    for (;;) {
      const tail = this.tail;
      await tail;
      if (tail === this.tail) return;
    }
  }

  // ------------------------------------------------------------------------------- internals

  /** Runs `task` after every earlier one (writes never interleave); refuses once closed or failed. */
  private run<T>(task: () => Promise<T>): Promise<T> {
    try {
      this.assertOpen();
    } catch (err: unknown) {
      return Promise.reject(err);
    }
    return this.enqueue(async () => {
      if (this.failure !== null) throw this.failure;
      return task();
    });
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.catch(() => undefined);
    return result;
  }

  private async write(ops: readonly KvOp[], options: { readonly sync?: boolean } = {}): Promise<void> {
    try {
      await this.kv.write(ops, options);
    } catch (err: unknown) {
      this.failure = new StorageError(
        'STORAGE_IO',
        `${this.path}: a write failed (${describe(err)}); what reached the disk is unknown, the store refuses further use until reopened`,
        { cause: err },
      );
      throw this.failure;
    }
  }

  /** Deletes compaction leftovers (entries at or below the snapshot), a chunk at a time. */
  private scheduleCleanup(): void {
    if (this.cleanupQueued || this.failure !== null || this.model.cleared >= this.model.snapIndex) return;
    this.cleanupQueued = true;
    void this.enqueue(async () => {
      this.cleanupQueued = false;
      const m = this.model;
      if (this.failure !== null || m.cleared >= m.snapIndex) return;
      const to = Math.min(m.snapIndex, m.cleared + CLEANUP_CHUNK);
      try {
        await this.kv.clearRange(entryKey(m.cleared), entryKey(to));
      } catch {
        // Harmless: leftovers are ignored by load() and retried after the next snapshot or open.
        return;
      }
      m.cleared = Math.max(m.cleared, to);
      this.scheduleCleanup();
    });
  }
}
