/**
 * The outbound side for one peer: a bounded queue, one long-lived RaftPeer.Stream call, a flush
 * loop that batches the queue into PeerBatch writes under stream backpressure, snapshot transfers
 * in chunks, and reconnects with exponential backoff.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { encodeMessage } from '../codec/message-codec.js';
import type { Message, NodeId } from '../core/types.js';
import { MessageType } from '../core/types.js';
import { backoffDelay } from './backoff.js';
import type { AckFrame, BatchFrame, Decoded, SnapshotAckFrame, SnapshotChunkFrame } from './frames.js';
import { RAFT_FROM_HEADER, RAFT_PEER_STREAM_PATH, decodeAck, encodeBatch } from './frames.js';
import type { ResolvedBackoff, ResolvedLimits } from './options.js';
import { FRAME_HEADROOM_BYTES, PER_MESSAGE_OVERHEAD_BYTES } from './options.js';
import { BoundedMessageQueue } from './queue.js';
import type { PeerAddress } from './transport.js';

export interface PeerStats {
  readonly address: PeerAddress;
  /** The stream is open (the peer answered with response headers) and not failed since. */
  readonly connected: boolean;
  readonly queuedMessages: number;
  readonly queuedBytes: number;
  /** Messages written to the stream (delivery is not confirmed: Raft tolerates loss). */
  readonly sentMessages: number;
  /** PeerBatch writes on the stream: one per flush of everything queued (and/or a snapshot chunk). */
  readonly sentBatches: number;
  /** Messages dropped: queue overflow (oldest first) or too large to ever fit a PeerBatch. */
  readonly droppedMessages: number;
  readonly connectAttempts: number;
  /** Attempts that opened the stream. */
  readonly connects: number;
  /** Attempts that failed before the stream opened, or open streams that failed later. */
  readonly connectFailures: number;
  /** Streams the peer refused with an error ack (wrong cluster, unknown sender, …). */
  readonly refusals: number;
  readonly snapshotChunksSent: number;
  /** Snapshot transfers the peer acknowledged whole. */
  readonly snapshotsSent: number;
  readonly snapshotsFailed: number;
}

type Counters = { -readonly [K in Exclude<keyof PeerStats, 'address' | 'connected' | 'queuedMessages' | 'queuedBytes'>]: number };

export interface SenderTotals {
  sentBatches: number;
  sentMessages: number;
  droppedMessages: number;
}

export interface SenderContext {
  readonly clusterId: string;
  readonly self: NodeId;
  readonly logger: Logger;
  readonly limits: ResolvedLimits;
  readonly backoff: ResolvedBackoff;
  readonly random: () => number;
  readonly connectTimeoutMs: number;
  readonly credentials: grpc.ChannelCredentials;
  readonly channelOptions: grpc.ChannelOptions;
  readonly totals: SenderTotals;
  /** Both are called asynchronously by the transport (never from inside send()). */
  notifyUnreachable(peer: NodeId): void;
  notifySnapshot(peer: NodeId, ok: boolean): void;
}

type PeerCall = grpc.ClientDuplexStream<BatchFrame, Decoded<AckFrame>>;

interface Connection {
  readonly client: grpc.Client;
  readonly call: PeerCall;
  /** Response headers arrived: the peer's server accepted the call. */
  open: boolean;
  done: boolean;
  connectTimer: NodeJS.Timeout | null;
  /** Resolvers of promises waiting on this stream (drain, write callbacks); called on teardown. */
  readonly waiters: Set<() => void>;
}

interface OutboundTransfer {
  readonly id: number;
  /** The whole encoded Snap message. */
  readonly bytes: Uint8Array;
  /** Bytes written so far; the transfer then awaits the peer's SnapshotAck. */
  sent: number;
}

export class PeerSender {
  private readonly log: Logger;
  private readonly queue: BoundedMessageQueue;
  private readonly counters: Counters = {
    sentMessages: 0,
    sentBatches: 0,
    droppedMessages: 0,
    connectAttempts: 0,
    connects: 0,
    connectFailures: 0,
    refusals: 0,
    snapshotChunksSent: 0,
    snapshotsSent: 0,
    snapshotsFailed: 0,
  };
  private conn: Connection | null = null;
  /** Consecutive failed attempts since the stream was last open. */
  private failures = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private flushTimer: NodeJS.Immediate | null = null;
  private flushing = false;
  private transfer: OutboundTransfer | null = null;
  /** The next Snap to send once `transfer` is done; a newer one replaces it. */
  private pendingSnapshot: Message | null = null;
  private nextTransferId = 1;
  private overflowLogged = false;
  private closed = false;

  constructor(
    readonly peer: NodeId,
    readonly address: PeerAddress,
    private readonly ctx: SenderContext,
  ) {
    this.log = ctx.logger.child({ peer, address });
    this.queue = new BoundedMessageQueue(ctx.limits.maxQueuedMessagesPerPeer, ctx.limits.maxQueuedBytesPerPeer);
  }

  start(): void {
    this.connect();
  }

  /**
   * Queues `m` (a Snap becomes the pending snapshot transfer). Returns how many messages were
   * dropped for lack of room; the transport then reports the peer unreachable.
   */
  enqueue(m: Message): number {
    if (this.closed) return 0;
    if (m.type === MessageType.Snap) {
      this.enqueueSnapshot(m);
      return 0;
    }
    let bytes: Uint8Array;
    try {
      bytes = encodeMessage(m);
    } catch (err: unknown) {
      this.log.error({ err, type: m.type }, 'raft transport: cannot encode a message; dropped');
      return this.drop(1);
    }
    const room = this.ctx.limits.maxMessageBytes - FRAME_HEADROOM_BYTES - PER_MESSAGE_OVERHEAD_BYTES;
    if (bytes.length > room) {
      this.log.warn({ type: m.type, bytes: bytes.length, limit: room }, 'raft transport: message exceeds maxMessageBytes; dropped');
      return this.drop(1);
    }
    const dropped = this.queue.push({ bytes });
    if (dropped > 0) {
      const fields = { dropped, queued: this.queue.length, queuedBytes: this.queue.bytes, connected: this.isConnected() };
      if (!this.overflowLogged) this.log.warn(fields, 'raft transport: peer queue full; dropping the oldest messages');
      else this.log.debug(fields, 'raft transport: peer queue full; dropping the oldest messages');
      this.overflowLogged = true;
    }
    this.scheduleFlush();
    return this.drop(dropped);
  }

  /**
   * The peer just opened a stream to us, so it is up: if we are waiting out a reconnect backoff,
   * connect now. A restarted peer would otherwise not hear from us for up to backoff.maxMs: as
   * the leader we could not reach it, and losing another voter in that window loses the quorum.
   * Returns whether a new attempt started.
   */
  retryNow(): boolean {
    if (this.closed || this.conn !== null || this.retryTimer === null) return false;
    clearTimeout(this.retryTimer);
    this.log.info({ failures: this.failures }, 'raft transport: the peer connected to us; reconnecting now');
    this.connect();
    return true;
  }

  isConnected(): boolean {
    return this.conn !== null && this.conn.open && !this.conn.done;
  }

  stats(): PeerStats {
    return {
      address: this.address,
      connected: this.isConnected(),
      queuedMessages: this.queue.length,
      queuedBytes: this.queue.bytes,
      ...this.counters,
    };
  }

  /**
   * Stops for good: cancels the stream, timers and the queue. With `reportSnapshots`, a snapshot
   * in flight or pending is reported failed (the peer left the address book while running).
   */
  close(reportSnapshots: boolean): void {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    if (this.flushTimer !== null) clearImmediate(this.flushTimer);
    this.retryTimer = null;
    this.flushTimer = null;
    const conn = this.conn;
    this.conn = null;
    if (conn !== null) {
      conn.done = true;
      this.teardown(conn);
    }
    this.queue.clear();
    if (reportSnapshots) this.failSnapshots('the peer was removed');
    this.transfer = null;
    this.pendingSnapshot = null;
  }

  private drop(n: number): number {
    this.counters.droppedMessages += n;
    this.ctx.totals.droppedMessages += n;
    return n;
  }

  private enqueueSnapshot(m: Message): void {
    if (this.pendingSnapshot !== null) {
      this.log.info({ index: this.pendingSnapshot.snapshot?.meta.index }, 'raft transport: pending snapshot superseded by a newer one');
      this.counters.snapshotsFailed++;
      this.ctx.notifySnapshot(this.peer, false);
    }
    this.pendingSnapshot = m;
    this.scheduleFlush();
  }

  // ---------------------------------------------------------------------------------------------
  // Connection

  private connect(): void {
    this.retryTimer = null;
    if (this.closed) return;
    this.counters.connectAttempts++;
    // A fresh channel per attempt, so that our backoff alone decides when to retry: a grpc-js
    // channel would otherwise apply its own reconnect backoff (1 s doubling to 120 s) and fail
    // new calls fast while in TRANSIENT_FAILURE.
    const client = new grpc.Client(this.address, this.ctx.credentials, this.ctx.channelOptions);
    const metadata = new grpc.Metadata();
    metadata.set(RAFT_FROM_HEADER, this.ctx.self);
    const call: PeerCall = client.makeBidiStreamRequest(RAFT_PEER_STREAM_PATH, encodeBatch, decodeAck, metadata);
    const conn: Connection = { client, call, open: false, done: false, connectTimer: null, waiters: new Set() };
    this.conn = conn;
    call.on('metadata', () => this.onOpen(conn));
    call.on('data', (ack: Decoded<AckFrame>) => this.onAck(conn, ack));
    call.on('error', (err: Partial<grpc.ServiceError>) => this.onDown(conn, describeStatus(err)));
    call.on('status', (status: grpc.StatusObject) =>
      this.onDown(conn, status.code === grpc.status.OK ? 'stream ended by the peer' : describeStatus(status)),
    );
    conn.connectTimer = setTimeout(() => this.onDown(conn, `stream not open within ${this.ctx.connectTimeoutMs} ms`), this.ctx.connectTimeoutMs);
  }

  private onOpen(conn: Connection): void {
    if (conn.done || conn !== this.conn) return;
    conn.open = true;
    if (conn.connectTimer !== null) clearTimeout(conn.connectTimer);
    conn.connectTimer = null;
    this.counters.connects++;
    this.log.info({ attempts: this.failures + 1 }, 'raft transport: connected to peer');
    this.failures = 0;
    this.overflowLogged = false;
    this.scheduleFlush();
  }

  private onAck(conn: Connection, decoded: Decoded<AckFrame>): void {
    if (conn.done || conn !== this.conn) return;
    if (!decoded.ok) {
      this.onDown(conn, `malformed ack: ${decoded.error}`);
      return;
    }
    const ack = decoded.value;
    if (ack.error !== '') {
      this.counters.refusals++;
      this.log.warn({ error: ack.error }, 'raft transport: peer refused our stream');
      this.onDown(conn, `refused by the peer: ${ack.error}`);
      return;
    }
    if (ack.snapshot !== null) this.onSnapshotAck(ack.snapshot);
  }

  private onSnapshotAck(ack: SnapshotAckFrame): void {
    const t = this.transfer;
    if (t === null || t.id !== ack.transferId) {
      this.log.debug({ transfer: ack.transferId }, 'raft transport: ack for a snapshot transfer not in flight');
      return;
    }
    this.transfer = null;
    if (ack.ok) {
      this.counters.snapshotsSent++;
      this.log.info({ transfer: t.id, bytes: t.bytes.length }, 'raft transport: snapshot delivered');
    } else {
      this.counters.snapshotsFailed++;
      this.log.warn({ transfer: t.id, error: ack.error }, 'raft transport: peer abandoned the snapshot transfer');
    }
    this.ctx.notifySnapshot(this.peer, ack.ok);
    this.scheduleFlush();
  }

  /** The stream failed (or never opened): report, fail snapshots, retry after a backoff. */
  private onDown(conn: Connection, reason: string): void {
    if (conn.done) return;
    conn.done = true;
    this.teardown(conn);
    if (conn !== this.conn || this.closed) return;
    this.conn = null;
    this.counters.connectFailures++;
    this.failures++;
    const delay = backoffDelay(this.failures, this.ctx.backoff, this.ctx.random);
    const fields = { reason, failures: this.failures, retryInMs: delay };
    if (conn.open) this.log.warn(fields, 'raft transport: stream to peer lost');
    else if (this.failures === 1) this.log.info(fields, 'raft transport: cannot connect to peer');
    else this.log.debug(fields, 'raft transport: cannot connect to peer');
    this.failSnapshots(reason);
    this.ctx.notifyUnreachable(this.peer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  private teardown(conn: Connection): void {
    if (conn.connectTimer !== null) clearTimeout(conn.connectTimer);
    conn.connectTimer = null;
    for (const wake of [...conn.waiters]) wake();
    conn.waiters.clear();
    // cancel() makes the call emit 'error' (CANCELLED) and 'status'; onDown ignores them (done).
    conn.call.cancel();
    conn.client.close();
  }

  private failSnapshots(reason: string): void {
    for (const failed of [this.transfer !== null, this.pendingSnapshot !== null]) {
      if (!failed) continue;
      this.counters.snapshotsFailed++;
      this.log.warn({ reason }, 'raft transport: snapshot transfer failed');
      this.ctx.notifySnapshot(this.peer, false);
    }
    this.transfer = null;
    this.pendingSnapshot = null;
  }

  // ---------------------------------------------------------------------------------------------
  // Flushing

  private scheduleFlush(): void {
    if (this.closed || this.flushing || this.flushTimer !== null || !this.isConnected()) return;
    // setImmediate, not a microtask: every send() of the current turn lands in the same batch.
    this.flushTimer = setImmediate(() => {
      this.flushTimer = null;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      for (;;) {
        const conn = this.conn;
        if (this.closed || conn === null || !conn.open || conn.done) return;
        const frame = this.nextFrame();
        if (frame === null) return;
        let written: Promise<void> | null = null;
        let ready: boolean;
        if (frame.chunk !== null) {
          // At most one snapshot chunk buffered in grpc-js at a time: wait for its write callback.
          let done!: () => void;
          written = new Promise<void>((resolve) => (done = resolve));
          conn.waiters.add(done);
          ready = conn.call.write(frame, () => {
            conn.waiters.delete(done);
            done();
          });
          this.counters.snapshotChunksSent++;
        } else {
          ready = conn.call.write(frame);
        }
        this.counters.sentBatches++;
        this.counters.sentMessages += frame.messages.length;
        this.ctx.totals.sentBatches++;
        this.ctx.totals.sentMessages += frame.messages.length;
        if (!ready) await this.drained(conn);
        if (written !== null) await written;
      }
    } finally {
      this.flushing = false;
    }
  }

  private drained(conn: Connection): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        conn.call.off('drain', wake);
        conn.waiters.delete(wake);
        resolve();
      };
      conn.waiters.add(wake);
      conn.call.on('drain', wake);
    });
  }

  /** Everything queued that fits one PeerBatch, plus the next chunk of a snapshot transfer. */
  private nextFrame(): BatchFrame | null {
    let budget = this.ctx.limits.maxMessageBytes - FRAME_HEADROOM_BYTES;
    if (this.transfer === null && this.pendingSnapshot !== null) this.startTransfer();
    let chunk: SnapshotChunkFrame | null = null;
    const t = this.transfer;
    if (t !== null && t.sent < t.bytes.length) {
      const end = Math.min(t.bytes.length, t.sent + this.ctx.limits.snapshotChunkBytes);
      chunk = { transferId: t.id, offset: t.sent, totalSize: t.bytes.length, data: t.bytes.subarray(t.sent, end) };
      t.sent = end;
      budget -= chunk.data.length;
    }
    const messages = this.queue.take(budget, PER_MESSAGE_OVERHEAD_BYTES).map((q) => q.bytes);
    if (messages.length === 0 && chunk === null) return null;
    return { clusterId: this.ctx.clusterId, from: this.ctx.self, to: this.peer, messages, chunk };
  }

  private startTransfer(): void {
    const m = this.pendingSnapshot;
    this.pendingSnapshot = null;
    if (m === null) return;
    let bytes: Uint8Array;
    try {
      bytes = encodeMessage(m);
    } catch (err: unknown) {
      this.log.error({ err }, 'raft transport: cannot encode a snap message');
      this.counters.snapshotsFailed++;
      this.ctx.notifySnapshot(this.peer, false);
      return;
    }
    if (bytes.length > this.ctx.limits.maxSnapshotBytes) {
      this.log.warn({ bytes: bytes.length, limit: this.ctx.limits.maxSnapshotBytes }, 'raft transport: snapshot exceeds maxSnapshotBytes; not sent');
      this.counters.snapshotsFailed++;
      this.ctx.notifySnapshot(this.peer, false);
      return;
    }
    this.transfer = { id: this.nextTransferId++, bytes, sent: 0 };
    this.log.debug({ transfer: this.transfer.id, bytes: bytes.length, index: m.snapshot?.meta.index }, 'raft transport: sending snapshot');
  }
}

function describeStatus(s: Partial<grpc.StatusObject> & { message?: string }): string {
  const name = s.code === undefined ? 'UNKNOWN' : (grpc.status[s.code] ?? String(s.code));
  return `${name}: ${s.details ?? s.message ?? ''}`;
}
