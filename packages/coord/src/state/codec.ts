/**
 * State-machine values ↔ the generated protobuf shapes of proto/coord.proto.
 *
 * Decoding is for untrusted bytes: a uint64 beyond Number.MAX_SAFE_INTEGER, an unknown enum, a
 * missing oneof are Faults (refusals with a precise code), never wrong numbers. Bytes are copied
 * out of the input buffer. Encoding expects valid values.
 */
import { hubha } from '@hubha/proto/coord';
import { compareKeys } from './text.js';
import type {
  Command,
  CommandResult,
  Compare,
  CompareOp,
  CoordErrorCode,
  CoordRequest,
  DeleteResult,
  ErrorResult,
  KeyValue,
  LeaseInfo,
  LeaseRef,
  Member,
  MemberRole,
  Metadata,
  TxnOp,
  TxnOpResult,
  WatchEvent,
} from './types.js';
import { COORD_ERROR_CODES } from './types.js';
import { canonicalMetadata, checkCommand, checkSeq, checkClientId, fault, Fault, errorResult } from './validate.js';

const pb = hubha.coord;

type PbKeyValue = hubha.coord.KeyValue.$Properties;
type PbLeaseInfo = hubha.coord.LeaseInfo.$Properties;
type PbLeaseRef = hubha.coord.LeaseRef.$Properties;
type PbMember = hubha.coord.Member.$Properties;
type PbCommand = hubha.coord.Command.$Properties;
type PbRequest = hubha.coord.Request.$Properties;
type PbTxnOp = hubha.coord.TxnOp.$Properties;
type PbCompare = hubha.coord.Compare.$Properties;
type PbResult = hubha.coord.Result.$Properties;
type PbTxnOpResult = hubha.coord.TxnOpResult.$Properties;
type PbDeleteResult = hubha.coord.DeleteResult.$Properties;
type PbWatchEvent = hubha.coord.WatchEvent.$Properties;

// ------------------------------------------------------------------- wire primitives

/** 2^53: a uint64 whose high word exceeds this is beyond Number.MAX_SAFE_INTEGER. */
const MAX_SAFE_HIGH = 0x1f_ffff;

/** A decoded uint64 (Long-like or number) as an exact JS number; beyond 2^53 - 1 a Fault. */
export function u64(value: unknown, field: string, code: CoordErrorCode): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return value;
    return fault(code, `${field}: not a non-negative safe integer`);
  }
  if (typeof value === 'object') {
    const { low, high } = value as { low?: unknown; high?: unknown };
    if (typeof low === 'number' && typeof high === 'number') {
      const hi = high >>> 0;
      if (hi > MAX_SAFE_HIGH) fault(code, `${field}: exceeds Number.MAX_SAFE_INTEGER`);
      return hi * 0x1_0000_0000 + (low >>> 0);
    }
  }
  return fault(code, `${field}: not an integer`);
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** A decoded bytes field as a fresh Uint8Array (not a view into the input). */
function bytesOf(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  return new Uint8Array(0);
}

function list<T>(value: T[] | null | undefined): T[] {
  return Array.isArray(value) ? value : [];
}

function metadataFromWire(value: { [k: string]: string } | null | undefined): Metadata {
  return canonicalMetadata(value ?? undefined, compareKeys);
}

function metadataToWire(metadata: Metadata): { [k: string]: string } {
  const out: { [k: string]: string } = {};
  for (const key of Object.keys(metadata).sort(compareKeys)) Object.defineProperty(out, key, { value: metadata[key], enumerable: true, writable: true, configurable: true });
  return out;
}

// ------------------------------------------------------------------------- to wire

export function leaseRefToWire(ref: LeaseRef): PbLeaseRef {
  return { name: ref.name, epoch: ref.epoch };
}

export function keyValueToWire(kv: KeyValue): PbKeyValue {
  return {
    key: kv.key,
    value: kv.value,
    createRevision: kv.createRevision,
    modRevision: kv.modRevision,
    version: kv.version,
    ...(kv.lease === null ? {} : { lease: leaseRefToWire(kv.lease) }),
  };
}

export function leaseInfoToWire(lease: LeaseInfo): PbLeaseInfo {
  return {
    name: lease.name,
    holder: lease.holder,
    ttlMs: lease.ttlMs,
    metadata: metadataToWire(lease.metadata),
    epoch: lease.epoch,
    grantRevision: lease.grantRevision,
    renewCount: lease.renewCount,
  };
}

const ROLE_TO_WIRE: Readonly<Record<MemberRole, number>> = {
  voter: pb.MemberRole.MEMBER_ROLE_VOTER,
  learner: pb.MemberRole.MEMBER_ROLE_LEARNER,
};

export function memberToWire(m: Member): PbMember {
  return {
    id: m.id,
    role: ROLE_TO_WIRE[m.role],
    ...(m.context === null ? {} : { context: m.context }),
    peerAddress: m.peerAddress ?? '',
    clientAddress: m.clientAddress ?? '',
  };
}

export function watchEventToWire(e: WatchEvent): PbWatchEvent {
  return {
    type: e.type === 'put' ? pb.EventType.EVENT_TYPE_PUT : pb.EventType.EVENT_TYPE_DELETE,
    key: e.key,
    value: e.value,
    ...(e.prevValue === undefined ? {} : { prevValue: e.prevValue }),
    createRevision: e.createRevision,
    modRevision: e.modRevision,
    version: e.version,
    ...(e.lease === undefined ? {} : { lease: leaseRefToWire(e.lease) }),
    revision: e.revision,
  };
}

const TARGET_TO_WIRE: Readonly<Record<Compare['target'], number>> = {
  value: pb.CompareTarget.COMPARE_TARGET_VALUE,
  'mod-revision': pb.CompareTarget.COMPARE_TARGET_MOD_REVISION,
  'create-revision': pb.CompareTarget.COMPARE_TARGET_CREATE_REVISION,
  version: pb.CompareTarget.COMPARE_TARGET_VERSION,
  exists: pb.CompareTarget.COMPARE_TARGET_EXISTS,
};
const OP_TO_WIRE: Readonly<Record<CompareOp, number>> = {
  equal: pb.CompareOp.COMPARE_OP_EQUAL,
  'not-equal': pb.CompareOp.COMPARE_OP_NOT_EQUAL,
  greater: pb.CompareOp.COMPARE_OP_GREATER,
  less: pb.CompareOp.COMPARE_OP_LESS,
};
const TARGET_FROM_WIRE = new Map(Object.entries(TARGET_TO_WIRE).map(([k, v]) => [v, k as Compare['target']]));
const OP_FROM_WIRE = new Map(Object.entries(OP_TO_WIRE).map(([k, v]) => [v, k as CompareOp]));

export function compareToWire(c: Compare): PbCompare {
  const base = { key: c.key, target: TARGET_TO_WIRE[c.target], op: OP_TO_WIRE[c.op] };
  switch (c.target) {
    case 'value':
      return { ...base, value: c.value };
    case 'exists':
      return { ...base, exists: c.exists };
    default:
      return { ...base, number: c.number };
  }
}

export function txnOpToWire(op: TxnOp): PbTxnOp {
  switch (op.type) {
    case 'put':
      return { put: putToWire(op) };
    case 'delete':
      return { delete: { key: op.key, prevKv: op.prevKv === true } };
    case 'get':
      return { get: { key: op.key } };
  }
}

function putToWire(op: Extract<Command, { type: 'put' }>): hubha.coord.Put.$Properties {
  return { key: op.key, value: op.value, ...(op.lease === undefined ? {} : { lease: leaseRefToWire(op.lease) }), prevKv: op.prevKv === true };
}

export function commandToWire(cmd: Command): PbCommand {
  switch (cmd.type) {
    case 'put':
      return { put: putToWire(cmd) };
    case 'delete':
      return { delete: { key: cmd.key, prevKv: cmd.prevKv === true } };
    case 'delete-range':
      return { deleteRange: { prefix: cmd.prefix, prevKv: cmd.prevKv === true } };
    case 'txn':
      return { txn: { compare: cmd.compare.map(compareToWire), success: cmd.success.map(txnOpToWire), failure: cmd.failure.map(txnOpToWire) } };
    case 'lease-grant':
      return { leaseGrant: { name: cmd.name, holder: cmd.holder, ttlMs: cmd.ttlMs, metadata: metadataToWire(cmd.metadata ?? {}) } };
    case 'lease-renew':
      return {
        leaseRenew: {
          name: cmd.name,
          holder: cmd.holder,
          epoch: cmd.epoch,
          updateMetadata: cmd.metadata !== undefined,
          metadata: metadataToWire(cmd.metadata ?? {}),
        },
      };
    case 'lease-release':
      return { leaseRelease: { name: cmd.name, holder: cmd.holder, epoch: cmd.epoch } };
    case 'lease-expire':
      return { leaseExpire: { name: cmd.name, epoch: cmd.epoch, renewCount: cmd.renewCount } };
  }
}

/** The data of a Normal entry carrying `req`. Does not validate: see validateRequest. */
export function encodeRequest(req: CoordRequest): Uint8Array {
  const w: PbRequest = { clientId: req.clientId, seq: req.seq, command: commandToWire(req.command) };
  return pb.Request.encode(w).finish();
}

function deleteResultToWire(r: DeleteResult): PbDeleteResult {
  return { revision: r.revision, deleted: r.deleted, prevKvs: r.prevKvs.map(keyValueToWire) };
}

function txnOpResultToWire(r: TxnOpResult): PbTxnOpResult {
  switch (r.type) {
    case 'put':
      return { put: { revision: r.revision, ...(r.prevKv === null ? {} : { prevKv: keyValueToWire(r.prevKv) }) } };
    case 'delete':
      return { delete: deleteResultToWire(r) };
    case 'get':
      return { get: r.kv === null ? {} : { kv: keyValueToWire(r.kv) } };
  }
}

export function resultToWire(r: CommandResult): PbResult {
  switch (r.type) {
    case 'put':
      return { put: { revision: r.revision, ...(r.prevKv === null ? {} : { prevKv: keyValueToWire(r.prevKv) }) } };
    case 'delete':
      return { delete: deleteResultToWire(r) };
    case 'delete-range':
      return { deleteRange: deleteResultToWire(r) };
    case 'txn':
      return { txn: { revision: r.revision, succeeded: r.succeeded, results: r.results.map(txnOpResultToWire) } };
    case 'lease-grant':
      return { leaseGrant: { revision: r.revision, granted: r.granted, lease: leaseInfoToWire(r.lease) } };
    case 'lease-renew':
      return { leaseRenew: { revision: r.revision, renewed: r.renewed, ...(r.lease === null ? {} : { lease: leaseInfoToWire(r.lease) }) } };
    case 'lease-release':
      return { leaseRelease: { revision: r.revision, released: r.released, ...(r.lease === null ? {} : { lease: leaseInfoToWire(r.lease) }), deleted: r.deleted } };
    case 'lease-expire':
      return { leaseExpire: { revision: r.revision, expired: r.expired, ...(r.lease === null ? {} : { lease: leaseInfoToWire(r.lease) }), deleted: r.deleted } };
    case 'error':
      return { error: { code: r.code, message: r.message } };
  }
}

export function encodeResult(r: CommandResult): Uint8Array {
  return pb.Result.encode(resultToWire(r)).finish();
}

// ----------------------------------------------------------------------- from wire

/**
 * Structural decoding of values this state machine wrote itself (snapshots, cached results): a
 * violation is corruption, reported as a Fault with code 'malformed-entry'. Semantic checks of the
 * values (key sizes, lease invariants) are the caller's.
 */
const CORRUPT: CoordErrorCode = 'malformed-entry';

function leaseRefFromWire(w: PbLeaseRef | null | undefined, field: string, code: CoordErrorCode): LeaseRef | null {
  if (w === null || w === undefined) return null;
  return { name: str(w.name), epoch: u64(w.epoch, `${field}.epoch`, code) };
}

export function keyValueFromWire(w: PbKeyValue | null | undefined, field: string): KeyValue {
  if (w === null || w === undefined) fault(CORRUPT, `${field}: missing`);
  return {
    key: str(w.key),
    value: bytesOf(w.value),
    createRevision: u64(w.createRevision, `${field}.createRevision`, CORRUPT),
    modRevision: u64(w.modRevision, `${field}.modRevision`, CORRUPT),
    version: u64(w.version, `${field}.version`, CORRUPT),
    lease: leaseRefFromWire(w.lease, `${field}.lease`, CORRUPT),
  };
}

export function leaseInfoFromWire(w: PbLeaseInfo | null | undefined, field: string): LeaseInfo {
  if (w === null || w === undefined) fault(CORRUPT, `${field}: missing`);
  return {
    name: str(w.name),
    holder: str(w.holder),
    ttlMs: u64(w.ttlMs, `${field}.ttlMs`, CORRUPT),
    metadata: metadataFromWire(w.metadata),
    epoch: u64(w.epoch, `${field}.epoch`, CORRUPT),
    grantRevision: u64(w.grantRevision, `${field}.grantRevision`, CORRUPT),
    renewCount: u64(w.renewCount, `${field}.renewCount`, CORRUPT),
  };
}

function optionalLeaseInfoFromWire(w: PbLeaseInfo | null | undefined, field: string): LeaseInfo | null {
  return w === null || w === undefined ? null : leaseInfoFromWire(w, field);
}

const ROLE_FROM_WIRE = new Map<number, MemberRole>([
  [pb.MemberRole.MEMBER_ROLE_VOTER, 'voter'],
  [pb.MemberRole.MEMBER_ROLE_LEARNER, 'learner'],
]);

/** A member's id, role and raw context (the parsed addresses are the caller's to derive). */
export function memberFromWire(w: PbMember | null | undefined, field: string): { id: string; role: MemberRole; context: string | null } {
  if (w === null || w === undefined) fault(CORRUPT, `${field}: missing`);
  const role = ROLE_FROM_WIRE.get(typeof w.role === 'number' ? w.role : 0);
  if (role === undefined) fault(CORRUPT, `${field}.role: unknown value ${String(w.role)}`);
  return { id: str(w.id), role, context: typeof w.context === 'string' ? w.context : null };
}

function compareFromWire(w: PbCompare, field: string): Compare {
  const target = TARGET_FROM_WIRE.get(typeof w.target === 'number' ? w.target : 0);
  const op = OP_FROM_WIRE.get(typeof w.op === 'number' ? w.op : 0);
  if (target === undefined) fault('invalid-compare', `${field}.target: unknown value ${String(w.target)}`);
  if (op === undefined) fault('invalid-compare', `${field}.op: unknown value ${String(w.op)}`);
  const key = str(w.key);
  switch (target) {
    case 'value':
      return { key, target, op, value: bytesOf(w.value) };
    case 'exists':
      if (op !== 'equal' && op !== 'not-equal') fault('invalid-compare', `${field}.op: an exists compare is equal or not-equal`);
      return { key, target, op, exists: w.exists === true };
    default:
      return { key, target, op, number: u64(w.number, `${field}.number`, 'invalid-compare') };
  }
}

function putFromWire(w: hubha.coord.Put.$Properties, field: string): Extract<Command, { type: 'put' }> {
  const lease = leaseRefFromWire(w.lease, `${field}.lease`, 'invalid-epoch');
  return {
    type: 'put',
    key: str(w.key),
    value: bytesOf(w.value),
    ...(lease === null ? {} : { lease }),
    ...(w.prevKv === true ? { prevKv: true } : {}),
  };
}

function txnOpFromWire(w: hubha.coord.TxnOp, field: string): TxnOp {
  switch (w.op) {
    case 'put':
      return putFromWire(w.put as hubha.coord.Put, `${field}.put`);
    case 'delete': {
      const d = w.delete as hubha.coord.Delete;
      return { type: 'delete', key: str(d.key), ...(d.prevKv === true ? { prevKv: true } : {}) };
    }
    case 'get':
      return { type: 'get', key: str((w.get as hubha.coord.Get).key) };
    default:
      return fault('invalid-op', `${field}: no op set`);
  }
}

/** Converts a decoded Command (untrusted) to a Command; Faults carry the refusal's code. */
function commandFromWire(w: hubha.coord.Command | null | undefined): Command {
  if (w === null || w === undefined) fault('invalid-command', 'command: missing');
  switch (w.command) {
    case 'put':
      return putFromWire(w.put as hubha.coord.Put, 'put');
    case 'delete': {
      const d = w.delete as hubha.coord.Delete;
      return { type: 'delete', key: str(d.key), ...(d.prevKv === true ? { prevKv: true } : {}) };
    }
    case 'deleteRange': {
      const d = w.deleteRange as hubha.coord.DeleteRange;
      return { type: 'delete-range', prefix: str(d.prefix), ...(d.prevKv === true ? { prevKv: true } : {}) };
    }
    case 'txn': {
      const t = w.txn as hubha.coord.Txn;
      return {
        type: 'txn',
        compare: list(t.compare).map((c, i) => compareFromWire(c, `txn.compare[${i}]`)),
        success: list(t.success).map((op, i) => txnOpFromWire(op as hubha.coord.TxnOp, `txn.success[${i}]`)),
        failure: list(t.failure).map((op, i) => txnOpFromWire(op as hubha.coord.TxnOp, `txn.failure[${i}]`)),
      };
    }
    case 'leaseGrant': {
      const g = w.leaseGrant as hubha.coord.LeaseGrant;
      return { type: 'lease-grant', name: str(g.name), holder: str(g.holder), ttlMs: u64(g.ttlMs, 'leaseGrant.ttlMs', 'invalid-ttl'), metadata: metadataFromWire(g.metadata) };
    }
    case 'leaseRenew': {
      const r = w.leaseRenew as hubha.coord.LeaseRenew;
      return {
        type: 'lease-renew',
        name: str(r.name),
        holder: str(r.holder),
        epoch: u64(r.epoch, 'leaseRenew.epoch', 'invalid-epoch'),
        ...(r.updateMetadata === true ? { metadata: metadataFromWire(r.metadata) } : {}),
      };
    }
    case 'leaseRelease': {
      const r = w.leaseRelease as hubha.coord.LeaseRelease;
      return { type: 'lease-release', name: str(r.name), holder: str(r.holder), epoch: u64(r.epoch, 'leaseRelease.epoch', 'invalid-epoch') };
    }
    case 'leaseExpire': {
      const x = w.leaseExpire as hubha.coord.LeaseExpire;
      return {
        type: 'lease-expire',
        name: str(x.name),
        epoch: u64(x.epoch, 'leaseExpire.epoch', 'invalid-epoch'),
        renewCount: u64(x.renewCount, 'leaseExpire.renewCount', 'invalid-renew-count'),
      };
    }
    default:
      return fault('invalid-command', 'command: none set');
  }
}

/** A Normal entry's data, decoded in stages so that a refusal can still name the client. */
export type RequestDecoding =
  /** Undecodable, or the client id / seq are invalid: no session can be charged. */
  | { readonly stage: 'envelope'; readonly error: ErrorResult }
  /** The envelope is valid, the command is not. */
  | { readonly stage: 'command'; readonly clientId: string; readonly seq: number; readonly error: ErrorResult }
  | { readonly stage: 'ok'; readonly request: CoordRequest };

function asError(err: unknown): ErrorResult {
  if (err instanceof Fault) return errorResult(err.code, err.message);
  throw err;
}

export function decodeRequestStaged(data: Uint8Array): RequestDecoding {
  let w: hubha.coord.Request;
  try {
    w = pb.Request.decode(data);
  } catch (err: unknown) {
    const detail = err instanceof Error ? err.message : String(err);
    return { stage: 'envelope', error: errorResult('malformed-entry', `not a coord Request: ${detail}`) };
  }
  let clientId: string;
  let seq: number;
  try {
    clientId = str(w.clientId);
    checkClientId(clientId, 'clientId');
    seq = u64(w.seq, 'seq', 'invalid-sequence');
    checkSeq(clientId, seq);
  } catch (err: unknown) {
    return { stage: 'envelope', error: asError(err) };
  }
  try {
    const command = commandFromWire(w.command as hubha.coord.Command | null | undefined);
    checkCommand(command);
    return { stage: 'ok', request: { clientId, seq, command } };
  } catch (err: unknown) {
    return { stage: 'command', clientId, seq, error: asError(err) };
  }
}

/** Decodes and validates a Normal entry's data: the request, or the refusal it would get. */
export function decodeRequest(data: Uint8Array): { readonly ok: true; readonly request: CoordRequest } | { readonly ok: false; readonly error: ErrorResult } {
  const d = decodeRequestStaged(data);
  return d.stage === 'ok' ? { ok: true, request: d.request } : { ok: false, error: d.error };
}

function deleteResultFromWire(w: PbDeleteResult | null | undefined, type: 'delete' | 'delete-range', field: string): DeleteResult & { type: typeof type } {
  if (w === null || w === undefined) fault(CORRUPT, `${field}: missing`);
  return {
    type,
    revision: u64(w.revision, `${field}.revision`, CORRUPT),
    deleted: u64(w.deleted, `${field}.deleted`, CORRUPT),
    prevKvs: list(w.prevKvs).map((kv, i) => keyValueFromWire(kv, `${field}.prevKvs[${i}]`)),
  };
}

function txnOpResultFromWire(w: hubha.coord.TxnOpResult, field: string): TxnOpResult {
  switch (w.result) {
    case 'put': {
      const p = w.put as hubha.coord.PutResult;
      return { type: 'put', revision: u64(p.revision, `${field}.put.revision`, CORRUPT), prevKv: p.prevKv ? keyValueFromWire(p.prevKv, `${field}.put.prevKv`) : null };
    }
    case 'delete':
      return deleteResultFromWire(w.delete, 'delete', `${field}.delete`) as TxnOpResult;
    case 'get': {
      const g = w.get as hubha.coord.GetResult;
      return { type: 'get', kv: g.kv ? keyValueFromWire(g.kv, `${field}.get.kv`) : null };
    }
    default:
      return fault(CORRUPT, `${field}: no result set`);
  }
}

const ERROR_CODES: ReadonlySet<string> = new Set(COORD_ERROR_CODES);

/** A result this state machine encoded (a cached session result); structural checks only. */
export function resultFromWire(w: hubha.coord.Result | null | undefined, field: string): CommandResult {
  if (w === null || w === undefined) fault(CORRUPT, `${field}: missing`);
  switch (w.result) {
    case 'put': {
      const p = w.put as hubha.coord.PutResult;
      return { type: 'put', revision: u64(p.revision, `${field}.put.revision`, CORRUPT), prevKv: p.prevKv ? keyValueFromWire(p.prevKv, `${field}.put.prevKv`) : null };
    }
    case 'delete':
      return deleteResultFromWire(w.delete, 'delete', `${field}.delete`);
    case 'deleteRange':
      return deleteResultFromWire(w.deleteRange, 'delete-range', `${field}.deleteRange`);
    case 'txn': {
      const t = w.txn as hubha.coord.TxnResult;
      return {
        type: 'txn',
        revision: u64(t.revision, `${field}.txn.revision`, CORRUPT),
        succeeded: t.succeeded === true,
        results: list(t.results).map((r, i) => txnOpResultFromWire(r as hubha.coord.TxnOpResult, `${field}.txn.results[${i}]`)),
      };
    }
    case 'leaseGrant': {
      const g = w.leaseGrant as hubha.coord.LeaseGrantResult;
      const revision = u64(g.revision, `${field}.leaseGrant.revision`, CORRUPT);
      const lease = leaseInfoFromWire(g.lease, `${field}.leaseGrant.lease`);
      return g.granted === true ? { type: 'lease-grant', revision, granted: true, lease } : { type: 'lease-grant', revision, granted: false, reason: 'held-by-other', lease };
    }
    case 'leaseRenew': {
      const r = w.leaseRenew as hubha.coord.LeaseRenewResult;
      const revision = u64(r.revision, `${field}.leaseRenew.revision`, CORRUPT);
      const lease = optionalLeaseInfoFromWire(r.lease, `${field}.leaseRenew.lease`);
      if (r.renewed === true) {
        if (lease === null) fault(CORRUPT, `${field}.leaseRenew.lease: missing`);
        return { type: 'lease-renew', revision, renewed: true, lease };
      }
      return { type: 'lease-renew', revision, renewed: false, reason: 'lease-lost', lease };
    }
    case 'leaseRelease': {
      const r = w.leaseRelease as hubha.coord.LeaseReleaseResult;
      const revision = u64(r.revision, `${field}.leaseRelease.revision`, CORRUPT);
      const lease = optionalLeaseInfoFromWire(r.lease, `${field}.leaseRelease.lease`);
      const deleted = u64(r.deleted, `${field}.leaseRelease.deleted`, CORRUPT);
      if (r.released === true) {
        if (lease === null) fault(CORRUPT, `${field}.leaseRelease.lease: missing`);
        return { type: 'lease-release', revision, released: true, lease, deleted };
      }
      if (deleted !== 0) fault(CORRUPT, `${field}.leaseRelease.deleted: not 0 for a refused release`);
      return { type: 'lease-release', revision, released: false, reason: 'lease-lost', lease, deleted: 0 };
    }
    case 'leaseExpire': {
      const x = w.leaseExpire as hubha.coord.LeaseExpireResult;
      const revision = u64(x.revision, `${field}.leaseExpire.revision`, CORRUPT);
      const lease = optionalLeaseInfoFromWire(x.lease, `${field}.leaseExpire.lease`);
      const deleted = u64(x.deleted, `${field}.leaseExpire.deleted`, CORRUPT);
      if (x.expired === true) {
        if (lease === null) fault(CORRUPT, `${field}.leaseExpire.lease: missing`);
        return { type: 'lease-expire', revision, expired: true, lease, deleted };
      }
      if (deleted !== 0) fault(CORRUPT, `${field}.leaseExpire.deleted: not 0 for a stale expiry`);
      return { type: 'lease-expire', revision, expired: false, reason: 'stale', lease, deleted: 0 };
    }
    case 'error': {
      const e = w.error as hubha.coord.Error;
      const code = str(e.code);
      if (!ERROR_CODES.has(code)) fault(CORRUPT, `${field}.error.code: unknown code ${JSON.stringify(code)}`);
      return { type: 'error', code: code as CoordErrorCode, message: str(e.message) };
    }
    default:
      return fault(CORRUPT, `${field}: no result set`);
  }
}

/** Decodes an encodeResult() output (throws a Fault on malformed bytes). */
export function decodeResult(data: Uint8Array): CommandResult {
  let w: hubha.coord.Result;
  try {
    w = pb.Result.decode(data);
  } catch (err: unknown) {
    return fault(CORRUPT, `not a coord Result: ${err instanceof Error ? err.message : String(err)}`);
  }
  return resultFromWire(w, 'result');
}
