import type { Prng } from '../core/prng.js';
import { chance, randomBelow } from '../core/prng.js';

/**
 * An in-memory, deterministic network for tests and the simulator. Time is virtual (the owner
 * passes `now`, in ticks); every random choice comes from the injected Prng, so a run replays
 * exactly from its seed. Messages get a random delivery delay (which reorders them), may be
 * dropped or duplicated, and are never delivered across a blocked link. Blocked links model
 * partitions: symmetric splits, one-way (asymmetric) cuts, and isolated nodes.
 *
 * Generic over the message type: anything with `from` and `to` node ids can travel on it, so
 * other packages can reuse it as a transport fake.
 */

export interface Addressed {
  readonly from: string;
  readonly to: string;
}

export interface NetworkFaults {
  /** Smallest delivery delay in ticks (0: deliverable at the same virtual time). */
  readonly minDelay: number;
  /** Largest delivery delay in ticks (inclusive). */
  readonly maxDelay: number;
  /** Probability that a sent message is lost. */
  readonly dropRate: number;
  /** Probability that a sent message is delivered twice (with independent delays). */
  readonly duplicateRate: number;
  /**
   * False: each directed link is FIFO (like one TCP stream per peer: a message is never
   * delivered before one sent earlier on the same link, duplicates aside). True: every message
   * gets an independent delay, so messages on a link overtake each other.
   */
  readonly reorder: boolean;
}

export interface NetworkOptions extends NetworkFaults {
  /** At most this many messages in flight; a send beyond it is dropped (counted as overflow). */
  readonly maxQueue: number;
}

export const DEFAULT_NETWORK_OPTIONS: NetworkOptions = {
  minDelay: 0,
  maxDelay: 2,
  dropRate: 0,
  duplicateRate: 0,
  reorder: true,
  maxQueue: 10_000,
};

export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  blocked: number;
  overflow: number;
}

export type SendOutcome = 'queued' | 'dropped' | 'blocked' | 'overflow';

/** Why a message never arrived: lost, cut off by a partition (at send or delivery), queue full. */
export type LossReason = 'dropped' | 'blocked' | 'overflow';

interface InFlight<M> {
  readonly message: M;
  readonly deliverAt: number;
  readonly seq: number;
}

export class SimNetwork<M extends Addressed> {
  private faults: NetworkFaults;
  private readonly maxQueue: number;
  /** Binary min-heap on (deliverAt, seq): delivery order is total and deterministic. */
  private readonly heap: InFlight<M>[] = [];
  private seq = 0;
  private readonly blockedLinks = new Set<string>();
  private readonly isolatedNodes = new Set<string>();
  /** FIFO mode: the latest delivery time queued per directed link. */
  private readonly linkTail = new Map<string, number>();
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, blocked: 0, overflow: 0 };
  /** Called for every message that will never be delivered (e.g. to give transport feedback). */
  onLoss: ((message: M, reason: LossReason) => void) | null = null;

  constructor(
    private readonly prng: Prng,
    options: Partial<NetworkOptions> = {},
  ) {
    const resolved = { ...DEFAULT_NETWORK_OPTIONS, ...options };
    validateFaults(resolved);
    if (!Number.isInteger(resolved.maxQueue) || resolved.maxQueue <= 0) throw new RangeError(`maxQueue must be a positive integer, got ${resolved.maxQueue}`);
    this.faults = { minDelay: resolved.minDelay, maxDelay: resolved.maxDelay, dropRate: resolved.dropRate, duplicateRate: resolved.duplicateRate, reorder: resolved.reorder };
    this.maxQueue = resolved.maxQueue;
  }

  /** Changes delay/drop/duplicate behaviour from now on (messages in flight keep their times). */
  setFaults(faults: Partial<NetworkFaults>): void {
    const next = { ...this.faults, ...faults };
    validateFaults(next);
    this.faults = next;
  }

  getFaults(): NetworkFaults {
    return this.faults;
  }

  /** Messages in flight. */
  get size(): number {
    return this.heap.length;
  }

  send(message: M, now: number): SendOutcome {
    this.stats.sent++;
    if (this.isBlocked(message.from, message.to)) {
      this.stats.blocked++;
      this.onLoss?.(message, 'blocked');
      return 'blocked';
    }
    if (this.faults.dropRate > 0 && chance(this.prng, this.faults.dropRate)) {
      this.stats.dropped++;
      this.onLoss?.(message, 'dropped');
      return 'dropped';
    }
    const outcome = this.enqueue(message, now);
    if (outcome === 'queued' && this.faults.duplicateRate > 0 && chance(this.prng, this.faults.duplicateRate)) {
      // a duplicate is a retransmission: it may arrive after later messages even on a FIFO link
      if (this.enqueue(message, now, true) === 'queued') this.stats.duplicated++;
    }
    return outcome;
  }

  /** The earliest delivery time in flight, if any. */
  nextDeliveryTime(): number | undefined {
    return this.heap[0]?.deliverAt;
  }

  /** Whether some message can be delivered at `now`. */
  hasDue(now: number): boolean {
    const top = this.heap[0];
    return top !== undefined && top.deliverAt <= now;
  }

  /**
   * Removes and returns the next message due at `now` (in (deliverAt, send order) order), or
   * undefined. Messages whose link is blocked at delivery time are dropped on the way.
   */
  takeNext(now: number): M | undefined {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.deliverAt > now) return undefined;
      this.pop();
      if (this.isBlocked(top.message.from, top.message.to)) {
        this.stats.blocked++;
        this.onLoss?.(top.message, 'blocked');
        continue;
      }
      this.stats.delivered++;
      return top.message;
    }
  }

  /** Removes and returns up to `max` messages due at `now`, in delivery order. */
  takeDue(now: number, max = Number.POSITIVE_INFINITY): M[] {
    const out: M[] = [];
    while (out.length < max) {
      const message = this.takeNext(now);
      if (message === undefined) break;
      out.push(message);
    }
    return out;
  }

  /** Drops every message in flight matching `predicate`; returns how many. */
  discard(predicate: (message: M) => boolean): number {
    const kept = this.heap.filter((f) => !predicate(f.message));
    const removed = this.heap.length - kept.length;
    if (removed > 0) {
      const lost = this.heap.filter((f) => predicate(f.message));
      this.heap.length = 0;
      for (const f of kept) this.push(f);
      this.stats.dropped += removed;
      for (const f of lost) this.onLoss?.(f.message, 'dropped');
    }
    return removed;
  }

  // ---- partitions -------------------------------------------------------------------------

  isBlocked(from: string, to: string): boolean {
    if (this.isolatedNodes.size > 0 && (this.isolatedNodes.has(from) || this.isolatedNodes.has(to))) return true;
    return this.blockedLinks.size > 0 && this.blockedLinks.has(linkKey(from, to));
  }

  /** Blocks the one-way link from → to. */
  block(from: string, to: string): void {
    if (from !== to) this.blockedLinks.add(linkKey(from, to));
  }

  unblock(from: string, to: string): void {
    this.blockedLinks.delete(linkKey(from, to));
  }

  /** Blocks both directions between a and b. */
  blockBoth(a: string, b: string): void {
    this.block(a, b);
    this.block(b, a);
  }

  /** Symmetric partition: no traffic between nodes of different groups. */
  partition(groups: readonly (readonly string[])[]): void {
    for (let g = 0; g < groups.length; g++) {
      for (let h = 0; h < groups.length; h++) {
        if (g === h) continue;
        for (const a of groups[g]!) for (const b of groups[h]!) this.block(a, b);
      }
    }
  }

  /** Asymmetric cut: traffic from any of `from` to any of `to` is lost; the reverse still flows. */
  cutOneWay(from: readonly string[], to: readonly string[]): void {
    for (const a of from) for (const b of to) this.block(a, b);
  }

  /** Cuts `node` off from everyone (including nodes that appear later). */
  isolate(node: string): void {
    this.isolatedNodes.add(node);
  }

  /** Removes every partition, cut and isolation. */
  heal(): void {
    this.blockedLinks.clear();
    this.isolatedNodes.clear();
  }

  /** Whether any link is currently blocked. */
  isPartitioned(): boolean {
    return this.blockedLinks.size > 0 || this.isolatedNodes.size > 0;
  }

  /** A readable description of the current blocks (sorted, deterministic). */
  describeBlocks(): string {
    const parts: string[] = [];
    for (const node of [...this.isolatedNodes].sort()) parts.push(`isolated(${node})`);
    for (const key of [...this.blockedLinks].sort()) {
      const [from, to] = key.split('\u0000');
      parts.push(`${from}->${to}`);
    }
    return parts.length === 0 ? 'none' : parts.join(' ');
  }

  // ---- internals --------------------------------------------------------------------------

  private enqueue(message: M, now: number, duplicate = false): SendOutcome {
    if (this.heap.length >= this.maxQueue) {
      this.stats.overflow++;
      if (!duplicate) this.onLoss?.(message, 'overflow');
      return 'overflow';
    }
    const span = this.faults.maxDelay - this.faults.minDelay + 1;
    let deliverAt = now + this.faults.minDelay + (span > 1 ? randomBelow(this.prng, span) : 0);
    if (!this.faults.reorder && !duplicate) {
      // FIFO link: not before the last message queued on it (equal times keep send order)
      const key = linkKey(message.from, message.to);
      const last = this.linkTail.get(key) ?? 0;
      if (deliverAt < last) deliverAt = last;
      this.linkTail.set(key, deliverAt);
    }
    this.push({ message, deliverAt, seq: this.seq++ });
    return 'queued';
  }

  private push(item: InFlight<M>): void {
    const heap = this.heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
      if (m === i) break;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  }
}

function before<M>(a: InFlight<M>, b: InFlight<M>): boolean {
  return a.deliverAt < b.deliverAt || (a.deliverAt === b.deliverAt && a.seq < b.seq);
}

function linkKey(from: string, to: string): string {
  return `${from}\u0000${to}`;
}

function validateFaults(f: NetworkFaults): void {
  if (!Number.isInteger(f.minDelay) || f.minDelay < 0) throw new RangeError(`minDelay must be a non-negative integer, got ${f.minDelay}`);
  if (!Number.isInteger(f.maxDelay) || f.maxDelay < f.minDelay) throw new RangeError(`maxDelay must be an integer >= minDelay, got ${f.maxDelay}`);
  if (!(f.dropRate >= 0 && f.dropRate <= 1)) throw new RangeError(`dropRate must be in [0, 1], got ${f.dropRate}`);
  if (!(f.duplicateRate >= 0 && f.duplicateRate <= 1)) throw new RangeError(`duplicateRate must be in [0, 1], got ${f.duplicateRate}`);
}
