/**
 * An in-process RaftTransport for node-level tests. Messages go through the codec (encode, then
 * the validating decode), as on the wire, and arrive asynchronously (setImmediate), in order per
 * sender. Like GrpcRaftTransport, delivery needs the recipient in the sender's address book and
 * the sender in the recipient's; a Snap is acknowledged with onSnapshotStatus once delivered.
 * Directed links can be blocked to model partitions; a blocked link (or a recipient that is down
 * or refuses the sender) drops the message and reports the recipient unreachable.
 */
import { decodeMessage, encodeMessage } from '../codec/message-codec.js';
import type { Message, NodeId } from '../core/types.js';
import { MessageType } from '../core/types.js';
import type { PeerAddress, RaftTransport, TransportHandlers } from './transport.js';

export interface MemoryNetworkStats {
  readonly delivered: number;
  /** Dropped: blocked link, recipient unknown, down or refusing the sender. */
  readonly dropped: number;
  /** Refused by the codec's validation (a bug in the sender): see `invalid`. */
  readonly invalid: number;
}

export class MemoryNetwork {
  private readonly nodes = new Map<NodeId, MemoryTransport>();
  private readonly blocked = new Set<string>();
  private readonly counters = { delivered: 0, dropped: 0, invalid: 0 };
  /** Messages the codec refused, with the reason (tests may assert this stays empty). */
  readonly invalidMessages: { readonly message: Message; readonly error: string }[] = [];

  /** A transport for `self`; its address book starts as `peers` (addresses are not used). */
  createTransport(self: NodeId, peers: ReadonlyMap<NodeId, PeerAddress> | Iterable<NodeId> = new Map()): MemoryTransport {
    if (this.nodes.has(self)) throw new Error(`memory network: ${self} already has a transport`);
    const book = peers instanceof Map ? new Map(peers as ReadonlyMap<NodeId, PeerAddress>) : new Map([...(peers as Iterable<NodeId>)].map((id) => [id, `memory:${id}`]));
    const t = new MemoryTransport(this, self, book);
    this.nodes.set(self, t);
    return t;
  }

  /** Drops every message from `from` to `to` until unblock(). */
  block(from: NodeId, to: NodeId): void {
    this.blocked.add(linkKey(from, to));
  }

  unblock(from: NodeId, to: NodeId): void {
    this.blocked.delete(linkKey(from, to));
  }

  /** Blocks both directions between `a` and `b`. */
  partition(a: NodeId, b: NodeId): void {
    this.block(a, b);
    this.block(b, a);
  }

  /** Cuts `node` off from every node that has a transport now (until unblocked or healed). */
  isolate(node: NodeId): void {
    for (const other of this.nodes.keys()) if (other !== node) this.partition(node, other);
  }

  /** Unblocks every link. */
  heal(): void {
    this.blocked.clear();
  }

  isBlocked(from: NodeId, to: NodeId): boolean {
    return this.blocked.has(linkKey(from, to));
  }

  stats(): MemoryNetworkStats {
    return { ...this.counters };
  }

  /** @internal Called by MemoryTransport.send, one call per send() batch. */
  route(sender: MemoryTransport, messages: readonly Message[]): void {
    const wire: { message: Message; decoded: Message }[] = [];
    for (const m of messages) {
      let result;
      try {
        result = decodeMessage(encodeMessage(m));
      } catch (err: unknown) {
        result = { ok: false as const, error: err instanceof Error ? err.message : String(err) };
      }
      if (!result.ok) {
        this.counters.invalid++;
        this.invalidMessages.push({ message: m, error: result.error });
        continue;
      }
      wire.push({ message: m, decoded: result.message });
    }
    if (wire.length === 0) return;
    sender.later(() => {
      for (const { decoded } of wire) {
        const to = this.nodes.get(decoded.to);
        const ok = !this.isBlocked(decoded.from, decoded.to) && to !== undefined && to.accept(decoded);
        if (ok) this.counters.delivered++;
        else this.counters.dropped++;
        if (!ok) sender.report((h) => h.onUnreachable(decoded.to));
        if (decoded.type === MessageType.Snap) sender.report((h) => h.onSnapshotStatus(decoded.to, ok));
      }
    });
  }

  /** @internal */
  forget(node: NodeId, t: MemoryTransport): void {
    if (this.nodes.get(node) === t) this.nodes.delete(node);
  }
}

export class MemoryTransport implements RaftTransport {
  private handlers: TransportHandlers | null = null;
  private closed = false;
  private readonly pending = new Set<NodeJS.Immediate>();

  constructor(
    private readonly network: MemoryNetwork,
    readonly self: NodeId,
    private peers: Map<NodeId, PeerAddress>,
  ) {}

  start(handlers: TransportHandlers): Promise<void> {
    if (this.handlers !== null || this.closed) return Promise.reject(new Error('memory transport: already started or closed'));
    this.handlers = handlers;
    return Promise.resolve();
  }

  send(messages: readonly Message[]): void {
    if (this.handlers === null || this.closed) return;
    const routed: Message[] = [];
    for (const m of messages) {
      if (m.from === this.self && m.to !== this.self && this.peers.has(m.to)) routed.push(m);
      else this.report((h) => h.onUnreachable(m.to));
    }
    if (routed.length > 0) this.network.route(this, routed);
  }

  setPeers(peers: ReadonlyMap<NodeId, PeerAddress>): void {
    this.peers = new Map(peers);
    this.peers.delete(this.self);
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      for (const p of this.pending) clearImmediate(p);
      this.pending.clear();
      this.network.forget(this.self, this);
    }
    return Promise.resolve();
  }

  /** @internal Whether this transport takes `m` (running, and `m.from` in its address book). */
  accept(m: Message): boolean {
    const handlers = this.handlers;
    if (handlers === null || this.closed || !this.peers.has(m.from)) return false;
    handlers.onMessage(m);
    return true;
  }

  /** @internal Runs `fn` on a later turn unless this transport is closed by then. */
  later(fn: () => void): void {
    if (this.closed) return;
    const immediate = setImmediate(() => {
      this.pending.delete(immediate);
      if (!this.closed) fn();
    });
    this.pending.add(immediate);
  }

  /** @internal */
  report(call: (h: TransportHandlers) => void): void {
    const handlers = this.handlers;
    if (handlers !== null) this.later(() => call(handlers));
  }
}

function linkKey(from: NodeId, to: NodeId): string {
  return `${from}\u0000${to}`;
}
