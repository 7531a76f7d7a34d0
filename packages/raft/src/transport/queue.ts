/** One encoded outbound message waiting for its peer's stream. */
export interface QueuedMessage {
  readonly bytes: Uint8Array;
}

/**
 * A per-peer FIFO bounded by message count and total bytes. When a push would exceed a bound,
 * the OLDEST messages are evicted: for Raft the newest message supersedes older ones (a later
 * heartbeat carries a newer commit, a later append or vote a newer term), while an old message
 * that reaches a peer after a long outage is at best ignored. Raft recovers from the gap: the
 * transport reports the peer unreachable and the leader probes it again.
 */
export class BoundedMessageQueue {
  private items: (QueuedMessage | undefined)[] = [];
  private head = 0;
  private totalBytes = 0;

  constructor(
    private readonly maxMessages: number,
    private readonly maxBytes: number,
  ) {}

  get length(): number {
    return this.items.length - this.head;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** Appends `item`, returns how many messages were dropped (evicted ones, or `item` itself if it alone exceeds the byte bound). */
  push(item: QueuedMessage): number {
    if (item.bytes.length > this.maxBytes) return 1;
    let dropped = 0;
    while (this.length > 0 && (this.length + 1 > this.maxMessages || this.totalBytes + item.bytes.length > this.maxBytes)) {
      this.shift();
      dropped++;
    }
    this.items.push(item);
    this.totalBytes += item.bytes.length;
    return dropped;
  }

  /**
   * Removes and returns messages from the front while their cost (size + `overhead` each) fits in
   * `budget` bytes. May return none when even the first does not fit.
   */
  take(budget: number, overhead: number): QueuedMessage[] {
    const out: QueuedMessage[] = [];
    let used = 0;
    while (this.length > 0) {
      const next = this.items[this.head];
      if (next === undefined) break;
      const cost = next.bytes.length + overhead;
      if (used + cost > budget) break;
      used += cost;
      out.push(next);
      this.shift();
    }
    return out;
  }

  /** The first message, without removing it. */
  peek(): QueuedMessage | undefined {
    return this.items[this.head];
  }

  clear(): number {
    const n = this.length;
    this.items = [];
    this.head = 0;
    this.totalBytes = 0;
    return n;
  }

  private shift(): void {
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head++;
    if (item !== undefined) this.totalBytes -= item.bytes.length;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
