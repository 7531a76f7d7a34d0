/**
 * Decoding of the servers' answers (protobufjs shapes) into the client's plain values. The answer
 * is checked, not trusted: a uint64 beyond Number.MAX_SAFE_INTEGER, an unknown enum value, a
 * missing required message is a CoordClientError 'malformed-response', never a wrong number.
 */
import type { hubha } from '@hubha/proto/coord';
import { hubha as pbRoot } from '@hubha/proto/coord';
import type { KeyValue, LeaseInfo, LeaseRef, Member, Metadata, TxnOpResult, WatchEvent } from '../state/types.js';
import { CoordClientError, invalidArgument } from './errors.js';
import type { ResponseHeader } from './types.js';

const pb = pbRoot.coord;

/** A field of an answer is not a valid value. */
export function malformed(message: string): never {
  throw new CoordClientError('malformed-response', `malformed response: ${message}`);
}

/** A decoded uint64 (number or Long) as an exact JS number; beyond 2^53 - 1: malformed. */
export function u64(value: unknown, field: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return value;
    return malformed(`${field}: ${value} is not a non-negative safe integer`);
  }
  if (typeof value === 'object') {
    const { low, high } = value as { low?: unknown; high?: unknown };
    if (typeof low === 'number' && typeof high === 'number') {
      const hi = high >>> 0;
      if (hi > 0x1f_ffff) return malformed(`${field}: exceeds Number.MAX_SAFE_INTEGER`);
      return hi * 0x1_0000_0000 + (low >>> 0);
    }
  }
  return malformed(`${field}: not an integer`);
}

/** A number the caller gives for a uint64 field: a non-negative safe integer. */
export function checkU64(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw invalidArgument(`${field} must be a non-negative safe integer, got ${String(value)}`);
  return value;
}

export function checkString(value: unknown, field: string): string {
  if (typeof value !== 'string') throw invalidArgument(`${field} must be a string`);
  return value;
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function bytes(value: unknown): Uint8Array {
  return value instanceof Uint8Array ? new Uint8Array(value) : new Uint8Array(0);
}

function list<T>(value: readonly T[] | null | undefined): readonly T[] {
  return Array.isArray(value) ? value : [];
}

const encoder = new TextEncoder();

/** A value given as a string is sent as its UTF-8 bytes. */
export function valueBytes(value: Uint8Array | string, field = 'value'): Uint8Array {
  if (typeof value === 'string') return encoder.encode(value);
  if (value instanceof Uint8Array) return value;
  throw invalidArgument(`${field} must be a Uint8Array or a string`);
}

export function metadataFromWire(value: { readonly [k: string]: string } | null | undefined): Metadata {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  if (value !== null && value !== undefined) {
    for (const key of Object.keys(value).sort()) {
      const v = value[key];
      if (typeof v === 'string') out[key] = v;
    }
  }
  return Object.freeze(out);
}

export function metadataToWire(metadata: Metadata | undefined, field: string): { [k: string]: string } {
  const out: { [k: string]: string } = {};
  if (metadata === undefined) return out;
  if (typeof metadata !== 'object' || metadata === null) throw invalidArgument(`${field} must be an object of strings`);
  for (const key of Object.keys(metadata)) {
    const v = metadata[key];
    if (typeof v !== 'string') throw invalidArgument(`${field}.${key} must be a string`);
    Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

export function headerFromWire(w: hubha.coord.ResponseHeader.$Properties | null | undefined): ResponseHeader {
  if (w === null || w === undefined) return malformed('header: missing');
  return {
    clusterId: str(w.clusterId),
    member: str(w.member),
    revision: u64(w.revision, 'header.revision'),
    raftTerm: u64(w.raftTerm, 'header.raftTerm'),
    leader: str(w.leader),
    serializable: w.serializable === true,
  };
}

function leaseRefFromWire(w: hubha.coord.LeaseRef.$Properties | null | undefined, field: string): LeaseRef | null {
  if (w === null || w === undefined) return null;
  return { name: str(w.name), epoch: u64(w.epoch, `${field}.epoch`) };
}

export function keyValueFromWire(w: hubha.coord.KeyValue.$Properties | null | undefined, field: string): KeyValue {
  if (w === null || w === undefined) return malformed(`${field}: missing`);
  return {
    key: str(w.key),
    value: bytes(w.value),
    createRevision: u64(w.createRevision, `${field}.createRevision`),
    modRevision: u64(w.modRevision, `${field}.modRevision`),
    version: u64(w.version, `${field}.version`),
    lease: leaseRefFromWire(w.lease, `${field}.lease`),
  };
}

export function optionalKeyValue(w: hubha.coord.KeyValue.$Properties | null | undefined, field: string): KeyValue | null {
  return w === null || w === undefined ? null : keyValueFromWire(w, field);
}

export function keyValuesFromWire(w: readonly hubha.coord.KeyValue.$Properties[] | null | undefined, field: string): KeyValue[] {
  return list(w).map((kv, i) => keyValueFromWire(kv, `${field}[${i}]`));
}

export function leaseInfoFromWire(w: hubha.coord.LeaseInfo.$Properties | null | undefined, field: string): LeaseInfo {
  if (w === null || w === undefined) return malformed(`${field}: missing`);
  return {
    name: str(w.name),
    holder: str(w.holder),
    ttlMs: u64(w.ttlMs, `${field}.ttlMs`),
    metadata: metadataFromWire(w.metadata),
    epoch: u64(w.epoch, `${field}.epoch`),
    grantRevision: u64(w.grantRevision, `${field}.grantRevision`),
    renewCount: u64(w.renewCount, `${field}.renewCount`),
  };
}

export function optionalLeaseInfo(w: hubha.coord.LeaseInfo.$Properties | null | undefined, field: string): LeaseInfo | null {
  return w === null || w === undefined ? null : leaseInfoFromWire(w, field);
}

export function memberFromWire(w: hubha.coord.Member.$Properties | null | undefined, field: string): Member {
  if (w === null || w === undefined) return malformed(`${field}: missing`);
  let role: Member['role'];
  if (w.role === pb.MemberRole.MEMBER_ROLE_VOTER) role = 'voter';
  else if (w.role === pb.MemberRole.MEMBER_ROLE_LEARNER) role = 'learner';
  else return malformed(`${field}.role: unknown value ${String(w.role)}`);
  const peer = str(w.peerAddress);
  const client = str(w.clientAddress);
  return {
    id: str(w.id),
    role,
    context: typeof w.context === 'string' ? w.context : null,
    peerAddress: peer === '' ? null : peer,
    clientAddress: client === '' ? null : client,
  };
}

export function membersFromWire(w: readonly hubha.coord.Member.$Properties[] | null | undefined): Member[] {
  return list(w).map((m, i) => memberFromWire(m, `members[${i}]`));
}

export function txnOpResultFromWire(w: hubha.coord.TxnOpResult.$Properties, field: string): TxnOpResult {
  if (w.put !== null && w.put !== undefined) {
    return { type: 'put', revision: u64(w.put.revision, `${field}.put.revision`), prevKv: optionalKeyValue(w.put.prevKv, `${field}.put.prevKv`) };
  }
  if (w.delete !== null && w.delete !== undefined) {
    return {
      type: 'delete',
      revision: u64(w.delete.revision, `${field}.delete.revision`),
      deleted: u64(w.delete.deleted, `${field}.delete.deleted`),
      prevKvs: keyValuesFromWire(w.delete.prevKvs, `${field}.delete.prevKvs`),
    };
  }
  if (w.get !== null && w.get !== undefined) {
    return { type: 'get', kv: optionalKeyValue(w.get.kv, `${field}.get.kv`) };
  }
  return malformed(`${field}: no result set`);
}

export function watchEventFromWire(w: hubha.coord.WatchEvent.$Properties, field: string): WatchEvent {
  let type: WatchEvent['type'];
  if (w.type === pb.EventType.EVENT_TYPE_PUT) type = 'put';
  else if (w.type === pb.EventType.EVENT_TYPE_DELETE) type = 'delete';
  else return malformed(`${field}.type: unknown value ${String(w.type)}`);
  const lease = leaseRefFromWire(w.lease, `${field}.lease`);
  return {
    type,
    key: str(w.key),
    value: bytes(w.value),
    ...(w.prevValue instanceof Uint8Array ? { prevValue: bytes(w.prevValue) } : {}),
    createRevision: u64(w.createRevision, `${field}.createRevision`),
    modRevision: u64(w.modRevision, `${field}.modRevision`),
    version: u64(w.version, `${field}.version`),
    ...(lease === null ? {} : { lease }),
    revision: u64(w.revision, `${field}.revision`),
  };
}

/** Runs a decoder; anything but a CoordClientError it throws is reported as malformed-response. */
export function decodeWith<T>(what: string, decode: () => T): T {
  try {
    return decode();
  } catch (err: unknown) {
    if (err instanceof CoordClientError) throw err;
    throw new CoordClientError('malformed-response', `malformed response to ${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}
