/**
 * The current key-values: a map for lookups, the keys in a sorted array (code-point order, i.e.
 * UTF-8 byte order) for prefix ranges, and an index of the keys attached to each lease.
 * No history: watch history is the WatchHub's.
 */
import { compareKeys } from './text.js';
import type { KeyValue } from './types.js';

export class Keyspace {
  private readonly byKey = new Map<string, KeyValue>();
  private readonly sorted: string[] = [];
  private readonly byLease = new Map<string, Set<string>>();

  get size(): number {
    return this.byKey.size;
  }

  get(key: string): KeyValue | null {
    return this.byKey.get(key) ?? null;
  }

  /** The first position whose key is >= `key`. */
  private lowerBound(key: string): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(this.sorted[mid] as string, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Inserts or replaces `kv` (keeping the lease index in step). */
  set(kv: KeyValue): void {
    const old = this.byKey.get(kv.key);
    if (old === undefined) {
      this.sorted.splice(this.lowerBound(kv.key), 0, kv.key);
    } else if (old.lease !== null) {
      this.detach(old.lease.name, kv.key);
    }
    this.byKey.set(kv.key, kv);
    if (kv.lease !== null) {
      let keys = this.byLease.get(kv.lease.name);
      if (keys === undefined) {
        keys = new Set();
        this.byLease.set(kv.lease.name, keys);
      }
      keys.add(kv.key);
    }
  }

  private detach(lease: string, key: string): void {
    const keys = this.byLease.get(lease);
    if (keys === undefined) return;
    keys.delete(key);
    if (keys.size === 0) this.byLease.delete(lease);
  }

  /** Removes `key`; its old value, or null when absent. */
  delete(key: string): KeyValue | null {
    const old = this.byKey.get(key);
    if (old === undefined) return null;
    this.byKey.delete(key);
    const at = this.lowerBound(key);
    this.sorted.splice(at, 1);
    if (old.lease !== null) this.detach(old.lease.name, key);
    return old;
  }

  /** The keys starting with `prefix`, in order. */
  keysWithPrefix(prefix: string): string[] {
    const out: string[] = [];
    for (let i = this.lowerBound(prefix); i < this.sorted.length; i++) {
      const key = this.sorted[i] as string;
      if (!key.startsWith(prefix)) break;
      out.push(key);
    }
    return out;
  }

  /** The keys attached to lease `name`, in order. */
  keysOfLease(name: string): string[] {
    const keys = this.byLease.get(name);
    return keys === undefined ? [] : [...keys].sort(compareKeys);
  }

  /**
   * Up to `limit` key-values starting with `prefix`, in order, after `startAfter` when given;
   * `more` when further keys match.
   */
  range(prefix: string, limit: number, startAfter: string | null): { kvs: KeyValue[]; more: boolean } {
    let i = this.lowerBound(prefix);
    if (startAfter !== null) {
      let j = this.lowerBound(startAfter);
      if (j < this.sorted.length && this.sorted[j] === startAfter) j++;
      i = Math.max(i, j);
    }
    const kvs: KeyValue[] = [];
    for (; i < this.sorted.length; i++) {
      const key = this.sorted[i] as string;
      if (!key.startsWith(prefix)) return { kvs, more: false };
      if (kvs.length >= limit) return { kvs, more: true };
      kvs.push(this.byKey.get(key) as KeyValue);
    }
    return { kvs, more: false };
  }

  /** Every key-value in key order. */
  all(): KeyValue[] {
    return this.sorted.map((key) => this.byKey.get(key) as KeyValue);
  }
}
