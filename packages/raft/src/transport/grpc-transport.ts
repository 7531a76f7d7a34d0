/**
 * GrpcRaftTransport: Raft peer messages over gRPC (RaftPeer.Stream in proto/raft.proto).
 *
 * Inbound: a gRPC server; every PeerBatch must name our cluster, be addressed to us and come from
 * a current peer, else the stream is refused (logged at warn, counted in stats()). Each message is
 * decoded and validated by the codec; invalid ones are dropped and logged.
 *
 * Outbound: per peer one long-lived client stream fed by a bounded queue (overflow drops the
 * oldest messages and reports the peer unreachable), flushed in batches under backpressure,
 * reconnecting with exponential backoff and jitter. Snap messages travel in chunks and are
 * acknowledged by the receiver, which drives onSnapshotStatus.
 *
 * Handlers are never called from inside send() or setPeers(): overflow and failure reports are
 * delivered on a later turn of the event loop, so a node may call send() between the core's
 * ready() and advance() without re-entering the core.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { isValidNodeId } from '../core/confchange.js';
import { childLogger } from '../log/child-logger.js';
import type { Message, NodeId } from '../core/types.js';
import { raftPeerService } from './frames.js';
import type { InboundCounters, RejectReason } from './inbound.js';
import { InboundService } from './inbound.js';
import type { GrpcRaftTransportOptions, ResolvedBackoff, ResolvedLimits } from './options.js';
import { checkIdentity, resolveBackoff, resolveLimits } from './options.js';
import type { PeerStats, SenderContext, SenderTotals } from './peer-sender.js';
import { PeerSender } from './peer-sender.js';
import { loadCredentials } from './tls.js';
import type { PeerAddress, RaftTransport, TransportHandlers } from './transport.js';

export interface GrpcTransportStats {
  /** Outbound, per current peer. */
  readonly peers: ReadonlyMap<NodeId, PeerStats>;
  /** Outbound totals since start (including peers since removed). */
  readonly sentBatches: number;
  readonly sentMessages: number;
  readonly droppedMessages: number;
  /** Messages handed to send() for a node that is not in the address book (dropped). */
  readonly unknownPeerMessages: number;
  /** Inbound. */
  readonly streamsOpened: number;
  readonly receivedBatches: number;
  readonly receivedMessages: number;
  readonly rejectedBatches: number;
  readonly rejectedByReason: Readonly<Record<RejectReason, number>>;
  readonly invalidMessages: number;
  readonly snapshotChunksReceived: number;
  readonly snapshotsReceived: number;
  readonly snapshotsAbandoned: number;
}

type State = 'new' | 'starting' | 'running' | 'closed';

const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
const DEFAULT_KEEPALIVE_MS = 10_000;

export class GrpcRaftTransport implements RaftTransport {
  readonly clusterId: string;
  readonly self: NodeId;
  private readonly listen: string;
  private readonly log: Logger;
  private readonly limits: ResolvedLimits;
  private readonly backoff: ResolvedBackoff;
  private readonly random: () => number;
  private readonly connectTimeoutMs: number;
  private readonly keepaliveMs: number;
  private peers: Map<NodeId, PeerAddress>;
  private readonly senders = new Map<NodeId, PeerSender>();
  private readonly inbound: InboundService;
  private readonly totals: SenderTotals & { unknownPeerMessages: number } = {
    sentBatches: 0,
    sentMessages: 0,
    droppedMessages: 0,
    unknownPeerMessages: 0,
  };
  private readonly notifications = new Set<NodeJS.Immediate>();
  private readonly options: GrpcRaftTransportOptions;
  private state: State = 'new';
  private handlers: TransportHandlers | null = null;
  private server: grpc.Server | null = null;
  private clientCredentials: grpc.ChannelCredentials | null = null;
  private boundPort: number | null = null;
  private closing: Promise<void> | null = null;

  constructor(options: GrpcRaftTransportOptions) {
    checkIdentity(options.clusterId, options.self);
    this.options = options;
    this.clusterId = options.clusterId;
    this.self = options.self;
    this.listen = options.listen;
    this.log = childLogger(options.logger, { component: 'raft-transport', node: options.self });
    this.limits = resolveLimits(options.limits);
    this.backoff = resolveBackoff(options.backoff);
    this.random = options.random ?? Math.random;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.keepaliveMs = options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS;
    splitHostPort(options.listen);
    this.peers = this.cleanPeers(options.peers);
    this.inbound = new InboundService({
      clusterId: this.clusterId,
      self: this.self,
      logger: this.log,
      limits: this.limits,
      isPeer: (id) => this.peers.has(id),
      deliver: (m) => this.deliver(m),
      peerOpenedStream: (peer) => this.senders.get(peer)?.retryNow(),
    });
  }

  /** Starts the server (bound once this resolves) and connects to the peers. */
  async start(handlers: TransportHandlers): Promise<void> {
    if (this.state !== 'new') throw new Error(`raft transport: start() called when ${this.state}`);
    this.state = 'starting';
    this.handlers = handlers;
    try {
      const credentials = await loadCredentials(this.options.tls);
      if (this.isClosed()) return;
      const server = new grpc.Server(this.serverOptions());
      server.addService(raftPeerService, { Stream: this.inbound.handle });
      this.server = server;
      const port = await new Promise<number>((resolve, reject) => {
        server.bindAsync(this.listen, credentials.server, (err, bound) => (err === null ? resolve(bound) : reject(err)));
      });
      if (this.isClosed()) return;
      this.boundPort = port;
      this.clientCredentials = credentials.client;
      this.state = 'running';
      this.log.info({ address: this.address(), tls: credentials.tls, peers: [...this.peers.keys()] }, 'raft transport: listening');
      for (const [id, address] of this.peers) this.addSender(id, address);
    } catch (err: unknown) {
      this.log.error({ err, listen: this.listen }, 'raft transport: cannot start');
      await this.close();
      throw err;
    }
  }

  /** "host:port" the server is bound to (the real port when `listen` asked for port 0). */
  address(): string {
    const { host } = splitHostPort(this.listen);
    if (this.boundPort === null) throw new Error('raft transport: not started');
    return `${host.includes(':') ? `[${host}]` : host}:${this.boundPort}`;
  }

  get port(): number | null {
    return this.boundPort;
  }

  send(messages: readonly Message[]): void {
    if (this.state !== 'running') {
      if (messages.length > 0) this.log.debug({ count: messages.length, state: this.state }, 'raft transport: not running; messages dropped');
      return;
    }
    let unreachable: Set<NodeId> | null = null;
    for (const m of messages) {
      const sender = this.senders.get(m.to);
      let dropped: number;
      if (m.from !== this.self) {
        this.log.warn({ from: m.from, to: m.to, type: m.type }, 'raft transport: message not from this node; dropped');
        continue;
      } else if (sender === undefined) {
        this.totals.unknownPeerMessages++;
        this.log.debug({ to: m.to, type: m.type }, 'raft transport: no address for the recipient; dropped');
        dropped = 1;
      } else {
        dropped = sender.enqueue(m);
      }
      if (dropped > 0) (unreachable ??= new Set()).add(m.to);
    }
    if (unreachable !== null) for (const peer of unreachable) this.notifyUnreachable(peer);
  }

  setPeers(peers: ReadonlyMap<NodeId, PeerAddress>): void {
    if (this.isClosed()) return;
    this.peers = this.cleanPeers(peers);
    if (this.state !== 'running') return;
    for (const [id, sender] of [...this.senders]) {
      const address = this.peers.get(id);
      if (address === sender.address) continue;
      this.log.info({ peer: id, address: sender.address, newAddress: address ?? null }, 'raft transport: peer removed or moved; closing its stream');
      sender.close(true);
      this.senders.delete(id);
      if (address === undefined) this.inbound.forgetSender(id);
    }
    for (const [id, address] of this.peers) if (!this.senders.has(id)) this.addSender(id, address);
  }

  stats(): GrpcTransportStats {
    const c: InboundCounters = this.inbound.counters;
    return {
      peers: new Map([...this.senders].map(([id, s]) => [id, s.stats()])),
      sentBatches: this.totals.sentBatches,
      sentMessages: this.totals.sentMessages,
      droppedMessages: this.totals.droppedMessages,
      unknownPeerMessages: this.totals.unknownPeerMessages,
      streamsOpened: c.streamsOpened,
      receivedBatches: c.receivedBatches,
      receivedMessages: c.receivedMessages,
      rejectedBatches: c.rejectedBatches,
      rejectedByReason: { ...c.rejectedByReason },
      invalidMessages: c.invalidMessages,
      snapshotChunksReceived: c.snapshotChunksReceived,
      snapshotsReceived: c.snapshotsReceived,
      snapshotsAbandoned: c.snapshotsAbandoned,
    };
  }

  /** Idempotent: stops the server and every stream, cancels timers; no handler runs afterwards. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const wasRunning = this.state === 'running';
    this.state = 'closed';
    for (const n of this.notifications) clearImmediate(n);
    this.notifications.clear();
    for (const sender of this.senders.values()) sender.close(false);
    this.senders.clear();
    this.inbound.closeAll();
    const server = this.server;
    this.server = null;
    // Peer streams are long-lived, so a graceful tryShutdown() would wait for peers to hang up.
    server?.forceShutdown();
    // Let the sockets' close callbacks run before reporting closed.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (wasRunning) this.log.info('raft transport: closed');
  }

  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private addSender(id: NodeId, address: PeerAddress): void {
    const credentials = this.clientCredentials;
    if (credentials === null) return;
    const ctx: SenderContext = {
      clusterId: this.clusterId,
      self: this.self,
      logger: this.log,
      limits: this.limits,
      backoff: this.backoff,
      random: this.random,
      connectTimeoutMs: this.connectTimeoutMs,
      credentials,
      channelOptions: this.channelOptions(),
      totals: this.totals,
      notifyUnreachable: (peer) => this.notifyUnreachable(peer),
      notifySnapshot: (peer, ok) => this.notify((h) => h.onSnapshotStatus(peer, ok)),
    };
    const sender = new PeerSender(id, address, ctx);
    this.senders.set(id, sender);
    sender.start();
  }

  private cleanPeers(peers: ReadonlyMap<NodeId, PeerAddress>): Map<NodeId, PeerAddress> {
    const out = new Map<NodeId, PeerAddress>();
    for (const [id, address] of peers) {
      if (id === this.self) continue;
      if (!isValidNodeId(id)) {
        this.log.warn({ peer: id }, 'raft transport: invalid peer id ignored');
        continue;
      }
      out.set(id, address);
    }
    return out;
  }

  private deliver(m: Message): void {
    const handlers = this.handlers;
    if (this.state !== 'running' || handlers === null) return;
    try {
      handlers.onMessage(m);
    } catch (err: unknown) {
      this.log.error({ err, from: m.from, type: m.type }, 'raft transport: onMessage threw');
    }
  }

  private notifyUnreachable(peer: NodeId): void {
    this.notify((h) => h.onUnreachable(peer));
  }

  /** Calls a handler on a later turn (never re-entrantly from send/setPeers), unless closed by then. */
  private notify(call: (h: TransportHandlers) => void): void {
    if (this.state === 'closed' || this.handlers === null) return;
    const handlers = this.handlers;
    const immediate = setImmediate(() => {
      this.notifications.delete(immediate);
      if (this.state === 'closed') return;
      try {
        call(handlers);
      } catch (err: unknown) {
        this.log.error({ err }, 'raft transport: handler threw');
      }
    });
    this.notifications.add(immediate);
  }

  private commonOptions(): grpc.ChannelOptions {
    return {
      'grpc.max_send_message_length': this.limits.maxMessageBytes,
      'grpc.max_receive_message_length': this.limits.maxMessageBytes,
      'grpc.keepalive_time_ms': this.keepaliveMs,
      'grpc.keepalive_timeout_ms': Math.max(1000, Math.floor(this.keepaliveMs / 2)),
      'grpc.enable_channelz': 0,
    };
  }

  private serverOptions(): grpc.ServerOptions {
    return this.commonOptions();
  }

  private channelOptions(): grpc.ChannelOptions {
    return {
      ...this.commonOptions(),
      // Each attempt gets its own connection, closed with its client (see PeerSender.connect).
      'grpc.use_local_subchannel_pool': 1,
      // Raft retransmits by itself; grpc-js retries would buffer stream writes for replay.
      'grpc.enable_retries': 0,
      // Peers are dialled directly, whatever http(s)_proxy the environment sets.
      'grpc.enable_http_proxy': 0,
    };
  }
}

/** Splits "host:port" / "[v6]:port"; throws on anything else. */
export function splitHostPort(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (host === undefined || !Number.isInteger(port) || port > 65535) throw new RangeError(`not a host:port address: ${JSON.stringify(address)}`);
  return { host, port };
}
