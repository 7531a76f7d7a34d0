import type { NodeId } from './types.js';

/** Upper bound on queued read requests at a leader; beyond it reads are refused. */
export const MAX_PENDING_READS = 4096;

interface PendingRead {
  readonly key: string;
  readonly context: Uint8Array;
  /** The leader's commit index when the read arrived: the read is served once it is applied. */
  readonly index: number;
  readonly from: NodeId;
  readonly acks: Set<NodeId>;
}

export interface ReleasedRead {
  readonly context: Uint8Array;
  readonly index: number;
  readonly from: NodeId;
}

export function contextKey(context: Uint8Array): string {
  let key = '';
  for (const byte of context) key += byte.toString(16).padStart(2, '0');
  return key;
}

/**
 * ReadIndex (Raft thesis §6.4): a read waits until a quorum has acknowledged a heartbeat sent
 * after it arrived, proving the leader was still the leader at that moment. Requests are
 * released in arrival order: an acknowledgement of a later heartbeat confirms all earlier reads.
 */
export class ReadOnlyQueue {
  private readonly queue: PendingRead[] = [];
  private readonly byKey = new Map<string, PendingRead>();

  size(): number {
    return this.queue.length;
  }

  /** Returns false when a request with this context is already pending (a duplicate). */
  add(index: number, context: Uint8Array, from: NodeId, self: NodeId): boolean {
    const key = contextKey(context);
    if (this.byKey.has(key)) return false;
    const read: PendingRead = { key, context, index, from, acks: new Set([self]) };
    this.queue.push(read);
    this.byKey.set(key, read);
    return true;
  }

  /** Records an acknowledgement; returns the acknowledging set, or undefined if unknown. */
  recvAck(from: NodeId, context: Uint8Array): ReadonlySet<NodeId> | undefined {
    const read = this.byKey.get(contextKey(context));
    if (read === undefined) return undefined;
    read.acks.add(from);
    return read.acks;
  }

  /** Releases every request up to and including the one with `context`. */
  advance(context: Uint8Array): ReleasedRead[] {
    const key = contextKey(context);
    const position = this.queue.findIndex((read) => read.key === key);
    if (position < 0) return [];
    const released = this.queue.splice(0, position + 1);
    for (const read of released) this.byKey.delete(read.key);
    return released.map(({ context: c, index, from }) => ({ context: c, index, from }));
  }

  lastContext(): Uint8Array | undefined {
    return this.queue[this.queue.length - 1]?.context;
  }

  reset(): void {
    this.queue.length = 0;
    this.byKey.clear();
  }
}
