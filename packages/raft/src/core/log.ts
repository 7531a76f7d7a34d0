import type { ConfState, Entry, Snapshot, SnapshotMeta } from './types.js';
import { EntryType } from './types.js';
import { applyConfChange, decodeConfChange } from './confchange.js';
import { invariant } from './results.js';

/** Payload bytes of an entry, the unit of every byte bound in the core. */
export function entryBytes(entry: Entry): number {
  return entry.data.length;
}

/**
 * The in-memory Raft log: a snapshot (everything up to snapshot.meta.index, compacted) followed
 * by the entries after it. The application persists what `ready()` hands out; `persistedIndex`
 * says how far the disk is known to hold this log, which is what the leader may count for itself.
 */
export class RaftLog {
  private snap: Snapshot;
  private entries: Entry[];
  /** A snapshot received from the leader and not yet persisted by the application. */
  private pendingSnapshot: Snapshot | null = null;
  private persisted: number;
  committed: number;
  applied: number;

  constructor(snapshot: Snapshot, entries: readonly Entry[], committed: number) {
    this.snap = snapshot;
    this.entries = [...entries];
    for (let k = 0; k < this.entries.length; k++) {
      const entry = this.entries[k]!;
      invariant(entry.index === snapshot.meta.index + 1 + k, () => `stored entries not contiguous after snapshot ${snapshot.meta.index}: entry ${entry.index} at position ${k}`);
      invariant(entry.term >= (k === 0 ? snapshot.meta.term : this.entries[k - 1]!.term), () => `stored entry ${entry.index} has a term lower than its predecessor`);
    }
    this.persisted = this.lastIndex();
    // The commit index on disk may trail (it is persisted lazily); it never exceeds the log.
    this.committed = Math.max(snapshot.meta.index, Math.min(committed, this.lastIndex()));
    this.applied = snapshot.meta.index;
  }

  snapshotMeta(): SnapshotMeta {
    return this.snap.meta;
  }

  /** The latest snapshot, for followers too far behind. */
  snapshot(): Snapshot {
    return this.snap;
  }

  firstIndex(): number {
    return this.snap.meta.index + 1;
  }

  lastIndex(): number {
    return this.snap.meta.index + this.entries.length;
  }

  lastTerm(): number {
    return this.entries.length > 0 ? this.entries[this.entries.length - 1]!.term : this.snap.meta.term;
  }

  persistedIndex(): number {
    return this.persisted;
  }

  /** The term of the entry at `index`, or undefined when compacted away or not in the log. */
  term(index: number): number | undefined {
    if (index === this.snap.meta.index) return this.snap.meta.term;
    if (index < this.snap.meta.index || index > this.lastIndex()) return undefined;
    return this.entries[index - this.snap.meta.index - 1]!.term;
  }

  entry(index: number): Entry | undefined {
    if (index <= this.snap.meta.index || index > this.lastIndex()) return undefined;
    return this.entries[index - this.snap.meta.index - 1];
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Raft §5.4.1: a candidate's log is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Entries in [from, lastIndex] up to `maxBytes` (always at least one entry when any exist), or
   * undefined when `from` has been compacted away.
   */
  slice(from: number, maxBytes: number): Entry[] | undefined {
    if (from <= this.snap.meta.index) return undefined;
    const out: Entry[] = [];
    let bytes = 0;
    for (let index = from; index <= this.lastIndex(); index++) {
      const entry = this.entry(index)!;
      bytes += entryBytes(entry);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(entry);
    }
    return out;
  }

  /** Leader only: appends new entries of its own at the end. */
  append(entries: readonly Entry[]): void {
    for (const entry of entries) {
      invariant(entry.index === this.lastIndex() + 1, () => `append of entry ${entry.index} after last index ${this.lastIndex()}`);
      invariant(entry.term >= this.lastTerm(), () => `append of entry ${entry.index} with term ${entry.term} below last term ${this.lastTerm()}`);
      this.entries.push(entry);
    }
  }

  /**
   * Follower: accepts entries following (prevIndex, prevTerm) from the leader. Returns the index
   * of the last new entry and whether the membership may have changed (a ConfChange entry was
   * appended or truncated away), or null when our log does not contain (prevIndex, prevTerm).
   */
  maybeAppend(prevIndex: number, prevTerm: number, leaderCommit: number, entries: readonly Entry[]): { lastNewIndex: number; confChanged: boolean } | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null;
    const lastNewIndex = prevIndex + entries.length;
    let confChanged = false;
    for (let k = 0; k < entries.length; k++) {
      const entry = entries[k]!;
      invariant(entry.index === prevIndex + 1 + k, () => `append message entries not contiguous at ${entry.index}`);
      const existing = this.term(entry.index);
      if (existing === entry.term) continue;
      if (existing !== undefined) {
        // Overwriting committed history would break state machine safety: a bug, never tolerated.
        invariant(entry.index > this.committed, () => `conflicting entry ${entry.index} (term ${existing} vs ${entry.term}) at or below commit ${this.committed}`);
        confChanged = this.lastConfIndex() >= entry.index;
        this.truncateFrom(entry.index);
      }
      const appended = entries.slice(k);
      this.append(appended);
      confChanged ||= appended.some((e) => e.type === EntryType.ConfChange);
      break;
    }
    this.commitTo(Math.min(leaderCommit, lastNewIndex));
    return { lastNewIndex, confChanged };
  }

  private truncateFrom(index: number): void {
    this.entries.length = index - this.snap.meta.index - 1;
    this.persisted = Math.min(this.persisted, index - 1);
  }

  /**
   * Fast backtracking: the largest index <= `index` whose term is <= `term`. A leader uses it
   * with a follower's rejection hint to skip a whole term of mismatching entries at once.
   */
  findConflictByTerm(index: number, term: number): number {
    let i = Math.min(index, this.lastIndex());
    while (i > this.snap.meta.index) {
      const t = this.term(i)!;
      if (t <= term) return i;
      i--;
    }
    return i;
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    invariant(index <= this.lastIndex(), () => `commit ${index} beyond last index ${this.lastIndex()}`);
    this.committed = index;
  }

  /** Leader: commit `index` only when it is of the current term (Raft §5.4.2, Figure 8). */
  maybeCommit(index: number, currentTerm: number): boolean {
    if (index > this.committed && this.term(index) === currentTerm) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  restore(snapshot: Snapshot): void {
    invariant(snapshot.meta.index > this.committed, () => `restore of snapshot ${snapshot.meta.index} at or below commit ${this.committed}`);
    this.snap = snapshot;
    this.entries = [];
    this.pendingSnapshot = snapshot;
    this.committed = snapshot.meta.index;
    this.persisted = Math.min(this.persisted, snapshot.meta.index - 1);
  }

  takePendingSnapshot(): Snapshot | null {
    return this.pendingSnapshot;
  }

  /** Entries the application has not yet been handed for persistence. */
  unstableEntries(): Entry[] {
    const from = Math.max(this.persisted, this.snap.meta.index) + 1;
    return from > this.lastIndex() ? [] : this.entries.slice(from - this.snap.meta.index - 1);
  }

  hasUnstable(): boolean {
    return this.pendingSnapshot !== null || Math.max(this.persisted, this.snap.meta.index) < this.lastIndex();
  }

  /** Committed entries not yet applied, at most `maxBytes` (at least one). */
  nextCommittedEntries(maxBytes: number): Entry[] {
    const from = Math.max(this.applied, this.snap.meta.index) + 1;
    if (from > this.committed) return [];
    const out: Entry[] = [];
    let bytes = 0;
    for (let index = from; index <= this.committed; index++) {
      const entry = this.entry(index)!;
      bytes += entryBytes(entry);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(entry);
    }
    return out;
  }

  hasNextCommitted(): boolean {
    return this.committed > Math.max(this.applied, this.snap.meta.index);
  }

  /** The application persisted everything handed out up to (index, term). */
  stableTo(index: number, term: number): void {
    if (this.term(index) === term && index > this.persisted) this.persisted = index;
  }

  stableSnapshot(snapshot: Snapshot): void {
    if (this.pendingSnapshot === snapshot) {
      this.pendingSnapshot = null;
      this.persisted = Math.max(this.persisted, snapshot.meta.index);
      this.applied = Math.max(this.applied, snapshot.meta.index);
    }
  }

  appliedTo(index: number): void {
    invariant(index <= this.committed, () => `applied ${index} beyond commit ${this.committed}`);
    if (index > this.applied) this.applied = index;
  }

  /**
   * Takes a snapshot at `index` (already applied) with the application's state `data`, and
   * drops the entries it covers.
   */
  compact(index: number, data: Uint8Array): void {
    invariant(index <= this.applied, () => `snapshot at ${index} beyond applied ${this.applied}`);
    invariant(index <= this.persisted, () => `snapshot at ${index} beyond persisted ${this.persisted}`);
    if (index <= this.snap.meta.index) return;
    const term = this.term(index)!;
    const conf = this.confAt(index);
    this.entries = this.entries.slice(index - this.snap.meta.index);
    this.snap = { meta: { index, term, conf }, data };
  }

  /** The membership in force at `index`: the snapshot's, with every ConfChange up to `index`. */
  confAt(index: number): ConfState {
    let conf = this.snap.meta.conf;
    const last = Math.min(index, this.lastIndex());
    for (let i = this.snap.meta.index + 1; i <= last; i++) {
      const entry = this.entry(i)!;
      if (entry.type !== EntryType.ConfChange) continue;
      const change = decodeConfChange(entry.data);
      if (change !== null) conf = applyConfChange(conf, change);
    }
    return conf;
  }

  /** The index of the latest ConfChange entry in the log, or the snapshot's index if none. */
  lastConfIndex(): number {
    for (let k = this.entries.length - 1; k >= 0; k--) {
      if (this.entries[k]!.type === EntryType.ConfChange) return this.entries[k]!.index;
    }
    return this.snap.meta.index;
  }
}
