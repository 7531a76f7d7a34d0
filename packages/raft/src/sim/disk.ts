import type { ConfState, Entry, HardState, PersistedState, Snapshot } from '../core/types.js';
import { EntryType, NO_NODE } from '../core/types.js';
import { applyConfChange, decodeConfChange } from '../core/confchange.js';

/**
 * A node's simulated stable storage: hard state, snapshot and the log entries after it.
 *
 * `visible` is what the process has written (and reads back); `durable` is what survives a crash.
 * A correct driver makes every write durable before going on (mode 'sync': both are one object).
 * The injected bugs weaken that: 'lose-vote' never makes the hard state's vote durable, 'lazy'
 * makes writes durable only when `sync()` is called (a delayed fsync).
 */

export type Durability = 'sync' | 'lose-vote' | 'lazy';

const EMPTY_CONF: ConfState = { voters: [], learners: [] };

class Store {
  constructor(
    public hardState: HardState,
    public snapshot: Snapshot | null,
    public entries: Entry[],
  ) {}

  static from(state: PersistedState): Store {
    return new Store(state.hardState, state.snapshot, [...state.entries]);
  }

  clone(): Store {
    return new Store(this.hardState, this.snapshot, this.entries.slice());
  }

  snapIndex(): number {
    return this.snapshot?.meta.index ?? 0;
  }

  snapTerm(): number {
    return this.snapshot?.meta.term ?? 0;
  }

  lastIndex(): number {
    return this.snapIndex() + this.entries.length;
  }

  /** Term at `index`: the snapshot's at its index, undefined when compacted or beyond the log. */
  term(index: number): number | undefined {
    const snapIndex = this.snapIndex();
    if (index === snapIndex) return this.snapTerm();
    if (index < snapIndex || index > this.lastIndex()) return undefined;
    return this.entries[index - snapIndex - 1]!.term;
  }

  entry(index: number): Entry | undefined {
    const snapIndex = this.snapIndex();
    if (index <= snapIndex || index > this.lastIndex()) return undefined;
    return this.entries[index - snapIndex - 1];
  }

  /** Overwrites the log from entries[0].index on. Returns an error text when not contiguous. */
  writeEntries(entries: readonly Entry[]): string | null {
    if (entries.length === 0) return null;
    const first = entries[0]!.index;
    const snapIndex = this.snapIndex();
    if (first <= snapIndex) return `entries from ${first} overlap the snapshot at ${snapIndex}`;
    if (first > this.lastIndex() + 1) return `entries from ${first} leave a gap after last index ${this.lastIndex()}`;
    this.entries.length = first - snapIndex - 1;
    for (let k = 0; k < entries.length; k++) {
      const entry = entries[k]!;
      if (entry.index !== first + k) return `entries not contiguous: ${entry.index} at position ${k} from ${first}`;
      this.entries.push(entry);
    }
    return null;
  }

  /** A snapshot from the leader replaces the whole log. */
  writeSnapshot(snapshot: Snapshot): void {
    this.snapshot = snapshot;
    this.entries = [];
  }

  /** A local snapshot: drops the entries it covers, keeps the rest. */
  compact(snapshot: Snapshot): void {
    const drop = snapshot.meta.index - this.snapIndex();
    if (drop <= 0) return;
    this.entries = this.entries.slice(drop);
    this.snapshot = snapshot;
  }
}

export class SimDisk {
  private visible: Store;
  private durable: Store;
  /** Writes since the last sync() (lazy mode only). */
  private dirty = false;

  constructor(
    initial: PersistedState,
    readonly durability: Durability = 'sync',
  ) {
    this.visible = Store.from(initial);
    this.durable = durability === 'sync' ? this.visible : this.visible.clone();
  }

  // ---- reads (the process's view) --------------------------------------------------------

  get hardState(): HardState {
    return this.visible.hardState;
  }

  get snapshot(): Snapshot | null {
    return this.visible.snapshot;
  }

  snapIndex(): number {
    return this.visible.snapIndex();
  }

  lastIndex(): number {
    return this.visible.lastIndex();
  }

  term(index: number): number | undefined {
    return this.visible.term(index);
  }

  entry(index: number): Entry | undefined {
    return this.visible.entry(index);
  }

  /** The entries after the snapshot (do not mutate). */
  entries(): readonly Entry[] {
    return this.visible.entries;
  }

  /** The membership as of `index` (≤ last index): snapshot's plus the ConfChange entries. */
  confAt(index: number): ConfState {
    let conf = this.visible.snapshot?.meta.conf ?? EMPTY_CONF;
    const last = Math.min(index, this.visible.lastIndex());
    for (let i = this.visible.snapIndex() + 1; i <= last; i++) {
      const entry = this.visible.entry(i)!;
      if (entry.type !== EntryType.ConfChange) continue;
      const change = decodeConfChange(entry.data);
      if (change !== null) conf = applyConfChange(conf, change);
    }
    return conf;
  }

  /** What a restarting node finds: the durable state. */
  persistedState(): PersistedState {
    const d = this.durable;
    return { hardState: d.hardState, snapshot: d.snapshot, entries: d.entries.slice() };
  }

  // ---- writes -----------------------------------------------------------------------------

  writeHardState(hardState: HardState): void {
    this.visible.hardState = hardState;
    if (this.durability === 'lose-vote') this.durable.hardState = { ...hardState, vote: NO_NODE };
    else this.markDirty();
  }

  writeEntries(entries: readonly Entry[]): string | null {
    const error = this.visible.writeEntries(entries);
    if (error !== null) return error;
    if (this.durability === 'lose-vote') this.durable.writeEntries(entries);
    else this.markDirty();
    return null;
  }

  writeSnapshot(snapshot: Snapshot): void {
    this.visible.writeSnapshot(snapshot);
    if (this.durability === 'lose-vote') this.durable.writeSnapshot(snapshot);
    else this.markDirty();
  }

  compact(snapshot: Snapshot): void {
    this.visible.compact(snapshot);
    if (this.durability === 'lose-vote') this.durable.compact(snapshot);
    else this.markDirty();
  }

  /** Lazy mode: the delayed fsync. A no-op otherwise. */
  sync(): void {
    if (this.durability !== 'lazy' || !this.dirty) return;
    this.durable = this.visible.clone();
    this.dirty = false;
  }

  /** Whether writes are waiting for sync() (lazy mode). */
  hasUnsynced(): boolean {
    return this.dirty;
  }

  /** The process died: whatever was not durable is gone. */
  crash(): void {
    if (this.durability === 'sync') return;
    this.visible = this.durable.clone();
    this.dirty = false;
  }

  private markDirty(): void {
    if (this.durability === 'lazy') this.dirty = true;
  }
}
