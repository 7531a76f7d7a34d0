/**
 * Watch fan-out, pure: a bounded history of the state machine's events by revision, and
 * subscriptions to a key or a prefix from a start revision. The node layer publishes each
 * apply's events and sends every delivery to its stream; it owns flow control and timers.
 */
import { CoordUsageError } from './errors.js';
import type { WatchEvent } from './types.js';

export interface WatchHubOptions {
  /** Events kept for watchers that start in the past. Default 10000. */
  readonly capacity?: number;
  /** The store's revision when the hub starts: earlier events are unknown (compacted). */
  readonly revision?: number;
}

export interface WatchFilter {
  /** A key, or (prefix) every key starting with it; with prefix, empty means every key. */
  readonly key: string;
  readonly prefix?: boolean;
  /** Events from this revision on; 0 or absent: from the next revision. */
  readonly startRevision?: number;
}

export type WatchStart =
  /** `events`: the history from the start revision that matches, in order. */
  | { readonly ok: true; readonly id: number; readonly startRevision: number; readonly events: readonly WatchEvent[] }
  /** The start revision is at or before compactRevision: re-read, then watch from after it. */
  | { readonly ok: false; readonly reason: 'compacted'; readonly compactRevision: number };

export interface WatchDelivery {
  readonly id: number;
  /** In revision order; never a partial revision. */
  readonly events: readonly WatchEvent[];
}

interface Subscription {
  readonly key: string;
  readonly prefix: boolean;
  readonly startRevision: number;
}

export const DEFAULT_WATCH_HISTORY = 10_000;

function matches(sub: Subscription, key: string): boolean {
  return sub.prefix ? key.startsWith(sub.key) : key === sub.key;
}

export class WatchHub {
  private readonly capacity: number;
  private readonly ring: (WatchEvent | undefined)[];
  private head = 0;
  private count = 0;
  private compacted: number;
  private current: number;
  private readonly subs = new Map<number, Subscription>();
  private nextId = 1;

  constructor(options: WatchHubOptions = {}) {
    const capacity = options.capacity ?? DEFAULT_WATCH_HISTORY;
    const revision = options.revision ?? 0;
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new CoordUsageError(`WatchHub: capacity must be a positive integer, got ${capacity}`);
    if (!Number.isSafeInteger(revision) || revision < 0) throw new CoordUsageError(`WatchHub: revision must be a non-negative integer, got ${revision}`);
    this.capacity = capacity;
    this.ring = new Array<WatchEvent | undefined>(capacity);
    this.compacted = revision;
    this.current = revision;
  }

  /** The latest revision published. */
  get revision(): number {
    return this.current;
  }

  /** Watching from this revision or earlier is refused: its events are gone. */
  get compactRevision(): number {
    return this.compacted;
  }

  get historySize(): number {
    return this.count;
  }

  get subscriptionCount(): number {
    return this.subs.size;
  }

  private at(i: number): WatchEvent {
    return this.ring[(this.head + i) % this.capacity] as WatchEvent;
  }

  private push(e: WatchEvent): void {
    if (this.count === this.capacity) {
      const oldest = this.at(0);
      this.compacted = Math.max(this.compacted, oldest.revision);
      this.ring[this.head] = undefined;
      this.head = (this.head + 1) % this.capacity;
      this.count--;
    }
    this.ring[(this.head + this.count) % this.capacity] = e;
    this.count++;
  }

  /** Subscribes; the backlog from the start revision comes with the answer. */
  watch(filter: WatchFilter): WatchStart {
    const requested = filter.startRevision ?? 0;
    if (!Number.isSafeInteger(requested) || requested < 0) throw new CoordUsageError(`watch: startRevision must be a non-negative integer, got ${requested}`);
    const startRevision = requested === 0 ? this.current + 1 : requested;
    if (startRevision <= this.compacted) return { ok: false, reason: 'compacted', compactRevision: this.compacted };
    const sub: Subscription = { key: filter.key, prefix: filter.prefix === true, startRevision };
    // The first retained event at or after the start revision (revisions ascend in the ring).
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.at(mid).revision < startRevision) lo = mid + 1;
      else hi = mid;
    }
    const events: WatchEvent[] = [];
    for (let i = lo; i < this.count; i++) {
      const e = this.at(i);
      if (matches(sub, e.key)) events.push(e);
    }
    const id = this.nextId++;
    this.subs.set(id, sub);
    return { ok: true, id, startRevision, events };
  }

  cancel(id: number): boolean {
    return this.subs.delete(id);
  }

  /**
   * Records one apply's events (revisions after every earlier one, ascending) and returns what
   * each subscription receives, in subscription order. `revision`: the store's revision after the
   * apply, when it moved without events (e.g. a lease renewal).
   */
  publish(events: readonly WatchEvent[], revision?: number): WatchDelivery[] {
    let last = this.current;
    for (const e of events) {
      if (e.revision <= this.current || e.revision < last) {
        throw new CoordUsageError(`WatchHub.publish: event revision ${e.revision} after revision ${Math.max(last, this.current)}`);
      }
      last = e.revision;
    }
    for (const e of events) this.push(e);
    this.current = Math.max(last, revision ?? 0);
    if (events.length === 0) return [];
    const out: WatchDelivery[] = [];
    for (const [id, sub] of this.subs) {
      const mine = events.filter((e) => e.revision >= sub.startRevision && matches(sub, e.key));
      if (mine.length > 0) out.push({ id, events: mine });
    }
    return out;
  }

  /**
   * The state machine was replaced by a snapshot at `revision`: the history no longer connects, so
   * every subscription ends (returned, to be told "compacted") and watching restarts after it.
   */
  reset(revision: number): number[] {
    const ended = [...this.subs.keys()];
    this.subs.clear();
    this.ring.fill(undefined);
    this.head = 0;
    this.count = 0;
    this.compacted = revision;
    this.current = revision;
    return ended;
  }
}
