/**
 * Validation of commands. Every rule here is part of the replicated semantics: the state machine
 * refuses a command that breaks one with the same ErrorResult on every replica, and servers may run
 * the same checks before proposing, to refuse early.
 */
import {
  MAX_KEY_BYTES,
  MAX_METADATA_ENTRIES,
  MAX_METADATA_KEY_BYTES,
  MAX_METADATA_TOTAL_BYTES,
  MAX_METADATA_VALUE_BYTES,
  MAX_NAME_BYTES,
  MAX_TTL_MS,
  MAX_TXN_COMPARES,
  MAX_TXN_OPS,
  MAX_VALUE_BYTES,
  MIN_TTL_MS,
} from './limits.js';
import { isValidName, utf8Length } from './text.js';
import type { Command, Compare, CoordErrorCode, CoordRequest, ErrorResult, LeaseRef, Metadata, TxnOp } from './types.js';

/** A refusal raised inside validation and decoding; turned into an ErrorResult at the top. */
export class Fault extends Error {
  override readonly name = 'Fault';
  constructor(
    readonly code: CoordErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function fault(code: CoordErrorCode, message: string): never {
  throw new Fault(code, message);
}

export function errorResult(code: CoordErrorCode, message: string): ErrorResult {
  return { type: 'error', code, message };
}

/** Runs `check`; a Fault becomes its ErrorResult, anything else propagates (a bug). */
export function refusalOf(check: () => void): ErrorResult | null {
  try {
    check();
    return null;
  } catch (err: unknown) {
    if (err instanceof Fault) return errorResult(err.code, err.message);
    throw err;
  }
}

function isSafeCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

export function checkKey(key: unknown, field: string): asserts key is string {
  if (typeof key !== 'string') fault('invalid-key', `${field}: not a string`);
  const n = utf8Length(key);
  if (n < 0) fault('invalid-key', `${field}: not well-formed UTF-16/UTF-8`);
  if (n < 1) fault('invalid-key', `${field}: empty`);
  if (n > MAX_KEY_BYTES) fault('invalid-key', `${field}: ${n} bytes, more than ${MAX_KEY_BYTES}`);
}

export function checkPrefix(prefix: unknown, field: string): asserts prefix is string {
  if (typeof prefix !== 'string') fault('invalid-prefix', `${field}: not a string`);
  const n = utf8Length(prefix);
  if (n < 0) fault('invalid-prefix', `${field}: not well-formed UTF-16/UTF-8`);
  if (n < 1) fault('invalid-prefix', `${field}: empty (deleting every key at once is not allowed)`);
  if (n > MAX_KEY_BYTES) fault('invalid-prefix', `${field}: ${n} bytes, more than ${MAX_KEY_BYTES}`);
}

export function checkValue(value: unknown, field: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) fault('value-too-large', `${field}: not bytes`);
  if (value.length > MAX_VALUE_BYTES) fault('value-too-large', `${field}: ${value.length} bytes, more than ${MAX_VALUE_BYTES}`);
}

export function checkLeaseName(name: unknown, field: string): asserts name is string {
  if (!isValidName(name, MAX_NAME_BYTES)) fault('invalid-lease-name', `${field}: must be 1..${MAX_NAME_BYTES} UTF-8 bytes without control characters`);
}

export function checkHolder(holder: unknown, field: string): asserts holder is string {
  if (!isValidName(holder, MAX_NAME_BYTES)) fault('invalid-holder', `${field}: must be 1..${MAX_NAME_BYTES} UTF-8 bytes without control characters`);
}

export function checkClientId(clientId: unknown, field: string): asserts clientId is string {
  if (typeof clientId === 'string' && clientId === '') return;
  if (!isValidName(clientId, MAX_NAME_BYTES)) fault('invalid-client-id', `${field}: must be empty or 1..${MAX_NAME_BYTES} UTF-8 bytes without control characters`);
}

export function checkTtl(ttlMs: unknown, field: string): asserts ttlMs is number {
  if (!isSafeCount(ttlMs) || ttlMs < MIN_TTL_MS || ttlMs > MAX_TTL_MS) fault('invalid-ttl', `${field}: must be an integer in [${MIN_TTL_MS}, ${MAX_TTL_MS}] ms, got ${String(ttlMs)}`);
}

export function checkEpoch(epoch: unknown, field: string): asserts epoch is number {
  if (!isSafeCount(epoch) || epoch < 1) fault('invalid-epoch', `${field}: must be a safe integer of at least 1, got ${String(epoch)}`);
}

export function checkMetadata(metadata: unknown, field: string): asserts metadata is Metadata {
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) fault('invalid-metadata', `${field}: not a string map`);
  const keys = Object.keys(metadata);
  if (keys.length > MAX_METADATA_ENTRIES) fault('invalid-metadata', `${field}: ${keys.length} entries, more than ${MAX_METADATA_ENTRIES}`);
  let total = 0;
  for (const key of keys) {
    const value: unknown = (metadata as Record<string, unknown>)[key];
    const kn = utf8Length(key);
    if (kn < 1 || kn > MAX_METADATA_KEY_BYTES) fault('invalid-metadata', `${field}: key ${JSON.stringify(key)} must be 1..${MAX_METADATA_KEY_BYTES} well-formed UTF-8 bytes`);
    if (typeof value !== 'string') fault('invalid-metadata', `${field}[${JSON.stringify(key)}]: not a string`);
    const vn = utf8Length(value);
    if (vn < 0 || vn > MAX_METADATA_VALUE_BYTES) fault('invalid-metadata', `${field}[${JSON.stringify(key)}]: must be at most ${MAX_METADATA_VALUE_BYTES} well-formed UTF-8 bytes`);
    total += kn + vn;
  }
  if (total > MAX_METADATA_TOTAL_BYTES) fault('invalid-metadata', `${field}: ${total} bytes in all, more than ${MAX_METADATA_TOTAL_BYTES}`);
}

function checkLeaseRef(ref: LeaseRef, field: string): void {
  if (typeof ref !== 'object' || ref === null) fault('invalid-lease-name', `${field}: not a lease reference`);
  checkLeaseName(ref.name, `${field}.name`);
  checkEpoch(ref.epoch, `${field}.epoch`);
}

const COMPARE_OPS: ReadonlySet<string> = new Set(['equal', 'not-equal', 'greater', 'less']);

function checkCompare(c: Compare, field: string): void {
  if (typeof c !== 'object' || c === null) fault('invalid-compare', `${field}: not a compare`);
  checkKey(c.key, `${field}.key`);
  if (!COMPARE_OPS.has(c.op)) fault('invalid-compare', `${field}.op: unknown op ${String(c.op)}`);
  switch (c.target) {
    case 'value':
      if (!(c.value instanceof Uint8Array)) fault('invalid-compare', `${field}.value: not bytes`);
      if (c.value.length > MAX_VALUE_BYTES) fault('invalid-compare', `${field}.value: more than ${MAX_VALUE_BYTES} bytes`);
      return;
    case 'mod-revision':
    case 'create-revision':
    case 'version':
      if (!isSafeCount(c.number)) fault('invalid-compare', `${field}.number: not a safe non-negative integer`);
      return;
    case 'exists':
      if (c.op !== 'equal' && c.op !== 'not-equal') fault('invalid-compare', `${field}.op: an exists compare is equal or not-equal`);
      if (typeof c.exists !== 'boolean') fault('invalid-compare', `${field}.exists: not a boolean`);
      return;
    default:
      fault('invalid-compare', `${field}.target: unknown target ${String((c as { target: unknown }).target)}`);
  }
}

function checkPut(op: { key: unknown; value: unknown; lease?: LeaseRef }, field: string): void {
  checkKey(op.key, `${field}.key`);
  checkValue(op.value, `${field}.value`);
  if (op.lease !== undefined) checkLeaseRef(op.lease, `${field}.lease`);
}

function checkTxnOp(op: TxnOp, field: string): void {
  if (typeof op !== 'object' || op === null) fault('invalid-op', `${field}: not an op`);
  switch (op.type) {
    case 'put':
      checkPut(op, `${field}.put`);
      return;
    case 'delete':
      checkKey(op.key, `${field}.delete.key`);
      return;
    case 'get':
      checkKey(op.key, `${field}.get.key`);
      return;
    default:
      fault('invalid-op', `${field}: unknown op ${String((op as { type: unknown }).type)}`);
  }
}

/** Throws a Fault when the command breaks a rule. */
export function checkCommand(cmd: Command): void {
  if (typeof cmd !== 'object' || cmd === null) fault('invalid-command', 'command: missing');
  switch (cmd.type) {
    case 'put':
      checkPut(cmd, 'put');
      return;
    case 'delete':
      checkKey(cmd.key, 'delete.key');
      return;
    case 'delete-range':
      checkPrefix(cmd.prefix, 'deleteRange.prefix');
      return;
    case 'txn': {
      if (!Array.isArray(cmd.compare) || !Array.isArray(cmd.success) || !Array.isArray(cmd.failure)) fault('invalid-command', 'txn: compare, success and failure must be lists');
      if (cmd.compare.length > MAX_TXN_COMPARES) fault('too-many-ops', `txn.compare: ${cmd.compare.length} compares, more than ${MAX_TXN_COMPARES}`);
      if (cmd.success.length > MAX_TXN_OPS) fault('too-many-ops', `txn.success: ${cmd.success.length} ops, more than ${MAX_TXN_OPS}`);
      if (cmd.failure.length > MAX_TXN_OPS) fault('too-many-ops', `txn.failure: ${cmd.failure.length} ops, more than ${MAX_TXN_OPS}`);
      cmd.compare.forEach((c, i) => checkCompare(c, `txn.compare[${i}]`));
      cmd.success.forEach((op, i) => checkTxnOp(op, `txn.success[${i}]`));
      cmd.failure.forEach((op, i) => checkTxnOp(op, `txn.failure[${i}]`));
      return;
    }
    case 'lease-grant':
      checkLeaseName(cmd.name, 'leaseGrant.name');
      checkHolder(cmd.holder, 'leaseGrant.holder');
      checkTtl(cmd.ttlMs, 'leaseGrant.ttlMs');
      if (cmd.metadata !== undefined) checkMetadata(cmd.metadata, 'leaseGrant.metadata');
      return;
    case 'lease-renew':
      checkLeaseName(cmd.name, 'leaseRenew.name');
      checkHolder(cmd.holder, 'leaseRenew.holder');
      checkEpoch(cmd.epoch, 'leaseRenew.epoch');
      if (cmd.metadata !== undefined) checkMetadata(cmd.metadata, 'leaseRenew.metadata');
      return;
    case 'lease-release':
      checkLeaseName(cmd.name, 'leaseRelease.name');
      checkHolder(cmd.holder, 'leaseRelease.holder');
      checkEpoch(cmd.epoch, 'leaseRelease.epoch');
      return;
    case 'lease-expire':
      checkLeaseName(cmd.name, 'leaseExpire.name');
      checkEpoch(cmd.epoch, 'leaseExpire.epoch');
      if (!isSafeCount(cmd.renewCount)) fault('invalid-renew-count', `leaseExpire.renewCount: not a safe non-negative integer, got ${String(cmd.renewCount)}`);
      return;
    default:
      fault('invalid-command', `unknown command ${String((cmd as { type: unknown }).type)}`);
  }
}

/** Throws a Fault when the request's envelope (client id, seq) or command breaks a rule. */
export function checkRequest(req: CoordRequest): void {
  checkClientId(req.clientId, 'clientId');
  checkSeq(req.clientId, req.seq);
  checkCommand(req.command);
}

export function checkSeq(clientId: string, seq: unknown): asserts seq is number {
  if (!isSafeCount(seq)) fault('invalid-sequence', `seq: not a safe non-negative integer`);
  if (clientId !== '' && seq < 1) fault('invalid-sequence', 'seq: must be at least 1 with a client id');
  if (clientId === '' && seq !== 0) fault('invalid-sequence', 'seq: must be 0 without a client id');
}

/** The refusal the state machine would answer for this command on its own rules, or null. */
export function validateCommand(cmd: Command): ErrorResult | null {
  return refusalOf(() => checkCommand(cmd));
}

/** As validateCommand, for a whole request (client id and seq too). */
export function validateRequest(req: CoordRequest): ErrorResult | null {
  return refusalOf(() => checkRequest(req));
}

/** A metadata map in canonical form: own keys inserted in code-point order, no prototype, frozen. */
export function canonicalMetadata(metadata: Metadata | undefined, sortKeys: (a: string, b: string) => number): Metadata {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  if (metadata !== undefined) {
    for (const key of Object.keys(metadata).sort(sortKeys)) out[key] = metadata[key] as string;
  }
  return Object.freeze(out);
}
