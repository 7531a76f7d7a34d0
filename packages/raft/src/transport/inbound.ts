/**
 * The server side of RaftPeer.Stream: checks every PeerBatch (cluster, recipient, sender),
 * decodes and validates each message with the codec, reassembles snapshot transfers and delivers.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { decodeMessage } from '../codec/message-codec.js';
import type { Message, NodeId } from '../core/types.js';
import { MessageType } from '../core/types.js';
import { RAFT_FROM_HEADER } from './frames.js';
import type { AckFrame, BatchFrame, Decoded, SnapshotChunkFrame } from './frames.js';
import type { ResolvedLimits } from './options.js';

export const REJECT_REASONS = ['malformed', 'cluster-id', 'recipient', 'unknown-sender', 'sender-changed'] as const;
/** Why a whole PeerBatch (and its stream) was refused. */
export type RejectReason = (typeof REJECT_REASONS)[number];

export interface InboundCounters {
  /** Streams opened by peers since start. */
  streamsOpened: number;
  receivedBatches: number;
  receivedMessages: number;
  rejectedBatches: number;
  readonly rejectedByReason: Record<RejectReason, number>;
  /** Messages dropped because the codec (or a from/to check) refused them. */
  invalidMessages: number;
  snapshotChunksReceived: number;
  snapshotsReceived: number;
  /** Transfers abandoned: too large, out of order, superseded, undecodable or stream ended. */
  snapshotsAbandoned: number;
}

export function newInboundCounters(): InboundCounters {
  const rejectedByReason = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>;
  return {
    streamsOpened: 0,
    receivedBatches: 0,
    receivedMessages: 0,
    rejectedBatches: 0,
    rejectedByReason,
    invalidMessages: 0,
    snapshotChunksReceived: 0,
    snapshotsReceived: 0,
    snapshotsAbandoned: 0,
  };
}

export interface InboundContext {
  readonly clusterId: string;
  readonly self: NodeId;
  readonly logger: Logger;
  readonly limits: ResolvedLimits;
  /** Whether `id` is currently a peer (the address book, not counting ourselves). */
  isPeer(id: NodeId): boolean;
  deliver(message: Message): void;
  /** A peer (by its stream's RAFT_FROM_HEADER, not yet checked by any batch) opened a stream. */
  peerOpenedStream(peer: NodeId): void;
}

type PeerCall = grpc.ServerDuplexStream<Decoded<BatchFrame>, AckFrame>;

interface InboundStream {
  readonly call: PeerCall;
  readonly remote: string;
  /** The peer this stream carries batches from, fixed by its first accepted batch. */
  sender: NodeId | null;
  accepted: number;
  /** The last transfer refused or abandoned on this stream: its remaining chunks are ignored. */
  failedTransfer: number | null;
  closed: boolean;
}

interface Transfer {
  readonly stream: InboundStream;
  readonly id: number;
  readonly total: number;
  readonly parts: Uint8Array[];
  received: number;
}

export class InboundService {
  readonly counters = newInboundCounters();
  private readonly streams = new Set<InboundStream>();
  /** At most one snapshot being reassembled per sender. */
  private readonly transfers = new Map<NodeId, Transfer>();

  constructor(private readonly ctx: InboundContext) {}

  /** The grpc-js handler for RaftPeer.Stream. */
  readonly handle = (call: PeerCall): void => {
    const s: InboundStream = { call, remote: safePeer(call), sender: null, accepted: 0, failedTransfer: null, closed: false };
    this.streams.add(s);
    this.counters.streamsOpened++;
    // Response headers right away: the client counts the stream as open once they arrive.
    call.sendMetadata(new grpc.Metadata());
    const claimed = call.metadata.get(RAFT_FROM_HEADER)[0];
    if (typeof claimed === 'string' && claimed !== this.ctx.self && this.ctx.isPeer(claimed)) this.ctx.peerOpenedStream(claimed);
    call.on('data', (decoded: Decoded<BatchFrame>) => this.onBatch(s, decoded));
    call.on('end', () => {
      this.finish(s, 'ended by the peer');
      if (!call.writableEnded) call.end();
    });
    call.on('cancelled', () => this.finish(s, 'cancelled'));
    call.on('error', () => this.finish(s, 'failed'));
    call.on('close', () => this.finish(s, 'closed'));
  };

  /** Forgets `peer`'s snapshot transfer (the peer left the address book). */
  forgetSender(peer: NodeId): void {
    const t = this.transfers.get(peer);
    if (t !== undefined) this.abandon(t, 'the sender is no longer a peer');
  }

  /** Marks every stream closed (the server is shutting down); no acks or deliveries follow. */
  closeAll(): void {
    for (const s of this.streams) s.closed = true;
    this.streams.clear();
    this.transfers.clear();
  }

  private onBatch(s: InboundStream, decoded: Decoded<BatchFrame>): void {
    if (s.closed) return;
    if (!decoded.ok) {
      this.reject(s, 'malformed', decoded.error, null);
      return;
    }
    const b = decoded.value;
    const { clusterId, self } = this.ctx;
    if (b.clusterId !== clusterId) {
      this.reject(s, 'cluster-id', `cluster id ${JSON.stringify(b.clusterId)} is not ${JSON.stringify(clusterId)}`, b.from);
      return;
    }
    if (b.to !== self) {
      this.reject(s, 'recipient', `batch for ${JSON.stringify(b.to)} reached ${JSON.stringify(self)}`, b.from);
      return;
    }
    if (b.from === self || !this.ctx.isPeer(b.from)) {
      this.reject(s, 'unknown-sender', `${JSON.stringify(b.from)} is not a peer`, b.from);
      return;
    }
    if (s.sender !== null && s.sender !== b.from) {
      this.reject(s, 'sender-changed', `stream of ${JSON.stringify(s.sender)} carried a batch from ${JSON.stringify(b.from)}`, b.from);
      return;
    }
    s.sender = b.from;
    s.accepted++;
    this.counters.receivedBatches++;
    for (const bytes of b.messages) {
      const result = decodeMessage(bytes);
      if (!result.ok) {
        this.invalid(b.from, result.error);
        continue;
      }
      const m = result.message;
      if (m.from !== b.from || m.to !== self) {
        this.invalid(b.from, `message from ${JSON.stringify(m.from)} to ${JSON.stringify(m.to)} in a batch from ${JSON.stringify(b.from)} to ${JSON.stringify(self)}`);
        continue;
      }
      if (m.type === MessageType.Snap) {
        this.invalid(b.from, 'a snap message outside a snapshot transfer');
        continue;
      }
      this.counters.receivedMessages++;
      this.ctx.deliver(m);
    }
    if (b.chunk !== null && !s.closed) this.onChunk(s, b.from, b.chunk);
  }

  private onChunk(s: InboundStream, from: NodeId, c: SnapshotChunkFrame): void {
    this.counters.snapshotChunksReceived++;
    // The sender learns of a failure from our ack; chunks it wrote before reading it are moot.
    if (c.transferId === s.failedTransfer) return;
    const { maxSnapshotBytes } = this.ctx.limits;
    let t = this.transfers.get(from);
    if (c.offset === 0) {
      if (t !== undefined) this.abandon(t, `superseded by transfer ${c.transferId}`);
      if (c.totalSize === 0 || c.totalSize > maxSnapshotBytes) {
        this.refuseTransfer(s, from, c.transferId, `snapshot of ${c.totalSize} bytes is outside 1..${maxSnapshotBytes}`);
        return;
      }
      t = { stream: s, id: c.transferId, total: c.totalSize, parts: [], received: 0 };
      this.transfers.set(from, t);
    } else if (t === undefined || t.stream !== s || t.id !== c.transferId) {
      this.refuseTransfer(s, from, c.transferId, `chunk at offset ${c.offset} of transfer ${c.transferId}, which is not in progress`);
      return;
    } else if (c.offset !== t.received || c.totalSize !== t.total) {
      this.abandon(t, `chunk at offset ${c.offset} (of ${c.totalSize}) where ${t.received} (of ${t.total}) was due`);
      return;
    }
    if (c.data.length === 0 || t.received + c.data.length > t.total) {
      this.abandon(t, `chunk of ${c.data.length} bytes at ${t.received} of ${t.total}`);
      return;
    }
    t.parts.push(c.data);
    t.received += c.data.length;
    if (t.received < t.total) return;

    this.transfers.delete(from);
    const result = decodeMessage(Buffer.concat(t.parts, t.total));
    t.parts.length = 0;
    if (!result.ok) {
      this.counters.invalidMessages++;
      this.failTransfer(t, from, `invalid snap message: ${result.error}`);
      return;
    }
    const m = result.message;
    if (m.type !== MessageType.Snap || m.from !== from || m.to !== this.ctx.self) {
      this.counters.invalidMessages++;
      this.failTransfer(t, from, `transfer carried ${m.type} from ${JSON.stringify(m.from)} to ${JSON.stringify(m.to)}`);
      return;
    }
    this.counters.snapshotsReceived++;
    this.ctx.logger.debug({ peer: from, transfer: t.id, bytes: t.total }, 'raft transport: snapshot received');
    this.ctx.deliver(m);
    this.ack(s, { transferId: t.id, ok: true, error: '' });
  }

  private abandon(t: Transfer, reason: string): void {
    const from = t.stream.sender ?? '?';
    if (this.transfers.get(from) === t) this.transfers.delete(from);
    t.parts.length = 0;
    this.failTransfer(t, from, reason);
  }

  private failTransfer(t: Transfer, from: NodeId, reason: string): void {
    t.stream.failedTransfer = t.id;
    this.counters.snapshotsAbandoned++;
    this.ctx.logger.warn({ peer: from, transfer: t.id, reason }, 'raft transport: snapshot transfer abandoned');
    this.ack(t.stream, { transferId: t.id, ok: false, error: reason });
  }

  private refuseTransfer(s: InboundStream, from: NodeId, transferId: number, reason: string): void {
    s.failedTransfer = transferId;
    this.counters.snapshotsAbandoned++;
    this.ctx.logger.warn({ peer: from, transfer: transferId, reason }, 'raft transport: snapshot chunk refused');
    this.ack(s, { transferId, ok: false, error: reason });
  }

  private invalid(from: NodeId, error: string): void {
    this.counters.invalidMessages++;
    this.ctx.logger.warn({ peer: from, error }, 'raft transport: invalid message dropped');
  }

  private ack(s: InboundStream, snapshot: AckFrame['snapshot']): void {
    if (s.closed) return;
    s.call.write({ received: s.accepted, error: '', snapshot });
  }

  /** Refuses the stream: counts and logs the reason, tells the sender, ends the call. */
  private reject(s: InboundStream, reason: RejectReason, detail: string, claimedSender: string | null): void {
    this.counters.rejectedBatches++;
    this.counters.rejectedByReason[reason]++;
    this.ctx.logger.warn({ reason, detail, peer: claimedSender, remote: s.remote }, 'raft transport: rejected a peer batch');
    s.call.write({ received: s.accepted, error: `${reason}: ${detail}`, snapshot: null });
    this.finish(s, `rejected (${reason})`);
    // grpc-js: an 'error' emitted on a server stream becomes the call's status (after the writes
    // queued before it), so the client sees the ack's reason and then PERMISSION_DENIED.
    const status: Partial<grpc.StatusObject> = { code: grpc.status.PERMISSION_DENIED, details: `${reason}: ${detail}` };
    s.call.emit('error', status);
  }

  private finish(s: InboundStream, why: string): void {
    if (!this.streams.delete(s) && s.closed) return;
    s.closed = true;
    for (const t of [...this.transfers.values()]) {
      if (t.stream !== s) continue;
      this.transfers.delete(t.stream.sender ?? '');
      this.counters.snapshotsAbandoned++;
      this.ctx.logger.info({ peer: s.sender, transfer: t.id, why }, 'raft transport: snapshot transfer abandoned with its stream');
    }
  }
}

function safePeer(call: PeerCall): string {
  try {
    return call.getPeer();
  } catch {
    return 'unknown';
  }
}
