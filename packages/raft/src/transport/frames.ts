/**
 * The RaftPeer service on the wire (proto/raft.proto): PeerBatch frames client → server, PeerAck
 * frames server → client. The transport reads and writes PeerBatch through its PeerBatchFrame view
 * (same field numbers, messages left encoded) so that every message is decoded and validated by
 * the codec on its own. Deserializers never throw: gRPC would turn a throw into a failed call.
 */
import type * as grpc from '@grpc/grpc-js';
import { hubha } from '@hubha/proto/raft';
import { guard, u64 } from '../codec/wire.js';

const pb = hubha.raft;

export const RAFT_PEER_SERVICE = 'hubha.raft.RaftPeer';
export const RAFT_PEER_STREAM_PATH = `/${RAFT_PEER_SERVICE}/Stream`;
/**
 * Call metadata naming the node that opens a RaftPeer.Stream. Only a hint: the receiver uses it
 * to retry its own stream back to that peer at once (the peer is evidently up again) instead of
 * waiting out its reconnect backoff. Every batch is still checked on its own `from`.
 */
export const RAFT_FROM_HEADER = 'hubha-raft-from';

export interface SnapshotChunkFrame {
  readonly transferId: number;
  readonly offset: number;
  readonly totalSize: number;
  readonly data: Uint8Array;
}

export interface BatchFrame {
  readonly clusterId: string;
  readonly from: string;
  readonly to: string;
  /** Each an encoded hubha.raft.Message. */
  readonly messages: readonly Uint8Array[];
  readonly chunk: SnapshotChunkFrame | null;
}

export interface SnapshotAckFrame {
  readonly transferId: number;
  readonly ok: boolean;
  readonly error: string;
}

export interface AckFrame {
  readonly received: number;
  readonly error: string;
  readonly snapshot: SnapshotAckFrame | null;
}

export type Decoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function str(value: unknown, field: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  throw new TypeError(`${field}: not a string`);
}

export function encodeBatch(frame: BatchFrame): Buffer {
  return toBuffer(
    pb.PeerBatchFrame.encode({
      clusterId: frame.clusterId,
      from: frame.from,
      to: frame.to,
      messages: [...frame.messages],
      snapshotChunk:
        frame.chunk === null
          ? null
          : { transferId: frame.chunk.transferId, offset: frame.chunk.offset, totalSize: frame.chunk.totalSize, data: frame.chunk.data },
    }).finish(),
  );
}

export function decodeBatch(buffer: Buffer): Decoded<BatchFrame> {
  return guard(() => {
    const w = pb.PeerBatchFrame.decode(buffer);
    const c = w.snapshotChunk;
    return {
      clusterId: str(w.clusterId, 'batch.clusterId'),
      from: str(w.from, 'batch.from'),
      to: str(w.to, 'batch.to'),
      messages: Array.isArray(w.messages) ? w.messages : [],
      chunk:
        c === null || c === undefined
          ? null
          : {
              transferId: u64(c.transferId, 'chunk.transferId'),
              offset: u64(c.offset, 'chunk.offset'),
              totalSize: u64(c.totalSize, 'chunk.totalSize'),
              data: c.data instanceof Uint8Array ? c.data : new Uint8Array(0),
            },
    };
  });
}

export function encodeAck(ack: AckFrame): Buffer {
  return toBuffer(
    pb.PeerAck.encode({
      received: ack.received,
      error: ack.error,
      snapshot: ack.snapshot === null ? null : { transferId: ack.snapshot.transferId, ok: ack.snapshot.ok, error: ack.snapshot.error },
    }).finish(),
  );
}

export function decodeAck(buffer: Buffer): Decoded<AckFrame> {
  return guard(() => {
    const w = pb.PeerAck.decode(buffer);
    const s = w.snapshot;
    return {
      received: u64(w.received, 'ack.received'),
      error: str(w.error, 'ack.error'),
      snapshot:
        s === null || s === undefined
          ? null
          : { transferId: u64(s.transferId, 'ack.snapshot.transferId'), ok: s.ok === true, error: str(s.error, 'ack.snapshot.error') },
    };
  });
}

/**
 * The RaftPeer service for grpc-js, without @grpc/proto-loader: our own (de)serializers. Writers
 * hand BatchFrame / AckFrame objects in; readers get Decoded<…> out (grpc-js types one type per
 * direction, hence the untyped definition).
 */
export const raftPeerService: grpc.ServiceDefinition = {
  Stream: {
    path: RAFT_PEER_STREAM_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: encodeBatch,
    requestDeserialize: decodeBatch,
    responseSerialize: encodeAck,
    responseDeserialize: decodeAck,
    originalName: 'stream',
  },
};
