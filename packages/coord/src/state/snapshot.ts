/**
 * The state machine's snapshot: a StateSnapshot (canonical: every list sorted) in a
 * SnapshotEnvelope with its CRC-32. decodeStateImage checks the checksum and every invariant the
 * state machine relies on, and throws CoordSnapshotError (code COORD_SNAPSHOT_CORRUPT) otherwise.
 */
import { hubha } from '@hubha/proto/coord';
import { MAX_CONF_CHANGE_CONTEXT_LENGTH, isValidNodeId } from '@hubha/raft';
import {
  keyValueFromWire,
  keyValueToWire,
  leaseInfoFromWire,
  leaseInfoToWire,
  memberFromWire,
  memberToWire,
  resultFromWire,
  resultToWire,
  u64,
} from './codec.js';
import { crc32 } from './crc32.js';
import { CoordSnapshotError } from './errors.js';
import { MAX_LEASE_NAMES, MAX_SESSIONS, SNAPSHOT_FORMAT } from './limits.js';
import { makeMember } from './members.js';
import { compareKeys } from './text.js';
import type { CommandResult, KeyValue, LeaseInfo, Member } from './types.js';
import { Fault, checkClientId, checkEpoch, checkHolder, checkKey, checkLeaseName, checkMetadata, checkTtl, checkValue } from './validate.js';

const pb = hubha.coord;

export interface SessionRecord {
  readonly clientId: string;
  readonly lastSeq: number;
  /** The log index that last touched the session. */
  readonly lastIndex: number;
  readonly lastResult: CommandResult;
}

/** Everything a snapshot holds, in canonical order. */
export interface StateImage {
  readonly appliedIndex: number;
  readonly appliedTerm: number;
  readonly revision: number;
  /** In key order. */
  readonly kvs: readonly KeyValue[];
  /** In name order. */
  readonly leases: readonly LeaseInfo[];
  /** [name, last epoch issued], in name order. */
  readonly lastEpochs: readonly (readonly [string, number])[];
  /** Least recently used first (ascending lastIndex). */
  readonly sessions: readonly SessionRecord[];
  /** In id order. */
  readonly members: readonly Member[];
}

export function encodeStateImage(img: StateImage): Uint8Array {
  const state = pb.StateSnapshot.encode({
    format: SNAPSHOT_FORMAT,
    appliedIndex: img.appliedIndex,
    appliedTerm: img.appliedTerm,
    revision: img.revision,
    kvs: img.kvs.map(keyValueToWire),
    leases: img.leases.map(leaseInfoToWire),
    lastEpochs: img.lastEpochs.map(([name, lastEpoch]) => ({ name, lastEpoch })),
    sessions: img.sessions.map((s) => ({ clientId: s.clientId, lastSeq: s.lastSeq, lastIndex: s.lastIndex, lastResult: resultToWire(s.lastResult) })),
    members: img.members.map(memberToWire),
  }).finish();
  return pb.SnapshotEnvelope.encode({ crc32: crc32(state), state }).finish();
}

function corrupt(message: string): never {
  throw new CoordSnapshotError(message);
}

/** Runs a validation helper; its Fault (a broken rule) is corruption here. */
function must(check: () => void): void {
  try {
    check();
  } catch (err: unknown) {
    if (err instanceof Fault) corrupt(err.message);
    throw err;
  }
}

function ascending(names: readonly string[], what: string): void {
  for (let i = 1; i < names.length; i++) {
    if (compareKeys(names[i - 1] as string, names[i] as string) >= 0) corrupt(`${what}: not in strictly ascending order at ${i}`);
  }
}

export function decodeStateImage(data: Uint8Array): StateImage {
  try {
    return decodeUnchecked(data);
  } catch (err: unknown) {
    if (err instanceof CoordSnapshotError) throw err;
    if (err instanceof Fault) corrupt(err.message);
    return corrupt(`undecodable: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function decodeUnchecked(data: Uint8Array): StateImage {
  if (data.length === 0) corrupt('empty data (Raft\'s bootstrap snapshot has none: construct a new CoordStateMachine instead)');
  const envelope = pb.SnapshotEnvelope.decode(data);
  const state = envelope.state instanceof Uint8Array ? envelope.state : new Uint8Array(0);
  if (crc32(state) !== envelope.crc32 >>> 0) corrupt('checksum mismatch');
  const w = pb.StateSnapshot.decode(state);
  if (w.format !== SNAPSHOT_FORMAT) corrupt(`unsupported format ${w.format} (this build reads ${SNAPSHOT_FORMAT})`);

  const appliedIndex = u64(w.appliedIndex, 'appliedIndex', 'malformed-entry');
  const appliedTerm = u64(w.appliedTerm, 'appliedTerm', 'malformed-entry');
  const revision = u64(w.revision, 'revision', 'malformed-entry');
  if (appliedIndex > 0 && appliedTerm < 1) corrupt('appliedTerm: 0 with a non-zero appliedIndex');

  // Last epochs: every name ever granted.
  const lastEpochs = (w.lastEpochs ?? []).map((e, i): [string, number] => {
    const name = e.name ?? '';
    const epoch = u64(e.lastEpoch, `lastEpochs[${i}].lastEpoch`, 'malformed-entry');
    must(() => checkLeaseName(name, `lastEpochs[${i}].name`));
    must(() => checkEpoch(epoch, `lastEpochs[${i}].lastEpoch`));
    return [name, epoch];
  });
  ascending(lastEpochs.map(([n]) => n), 'lastEpochs');
  if (lastEpochs.length > MAX_LEASE_NAMES) corrupt(`lastEpochs: ${lastEpochs.length} names, more than ${MAX_LEASE_NAMES}`);
  const epochOf = new Map(lastEpochs);

  // Held leases: each at its name's last epoch.
  const leases = (w.leases ?? []).map((l, i) => {
    const lease = leaseInfoFromWire(l, `leases[${i}]`);
    const f = `leases[${i}]`;
    must(() => checkLeaseName(lease.name, `${f}.name`));
    must(() => checkHolder(lease.holder, `${f}.holder`));
    must(() => checkTtl(lease.ttlMs, `${f}.ttlMs`));
    must(() => checkMetadata(lease.metadata, `${f}.metadata`));
    must(() => checkEpoch(lease.epoch, `${f}.epoch`));
    if (epochOf.get(lease.name) !== lease.epoch) corrupt(`${f}.epoch: ${lease.epoch} is not the last epoch issued for ${JSON.stringify(lease.name)}`);
    if (lease.grantRevision < 1 || lease.grantRevision > revision) corrupt(`${f}.grantRevision: ${lease.grantRevision} outside [1, ${revision}]`);
    return lease;
  });
  ascending(leases.map((l) => l.name), 'leases');
  const heldEpoch = new Map(leases.map((l) => [l.name, l.epoch]));

  const kvs = (w.kvs ?? []).map((k, i) => {
    const kv = keyValueFromWire(k, `kvs[${i}]`);
    const f = `kvs[${i}]`;
    must(() => checkKey(kv.key, `${f}.key`));
    must(() => checkValue(kv.value, `${f}.value`));
    if (kv.createRevision < 1 || kv.createRevision > kv.modRevision || kv.modRevision > revision) {
      corrupt(`${f}: revisions must satisfy 1 <= create (${kv.createRevision}) <= mod (${kv.modRevision}) <= ${revision}`);
    }
    if (kv.version < 1) corrupt(`${f}.version: 0`);
    if (kv.lease !== null) {
      const ref = kv.lease;
      must(() => checkLeaseName(ref.name, `${f}.lease.name`));
      if (heldEpoch.get(ref.name) !== ref.epoch) corrupt(`${f}.lease: attached to ${JSON.stringify(ref.name)} at epoch ${ref.epoch}, which is not held`);
    }
    return kv;
  });
  ascending(kvs.map((kv) => kv.key), 'kvs');

  const sessions = (w.sessions ?? []).map((s, i): SessionRecord => {
    const f = `sessions[${i}]`;
    const clientId = s.clientId ?? '';
    must(() => checkClientId(clientId, `${f}.clientId`));
    if (clientId === '') corrupt(`${f}.clientId: empty`);
    const lastSeq = u64(s.lastSeq, `${f}.lastSeq`, 'malformed-entry');
    const lastIndex = u64(s.lastIndex, `${f}.lastIndex`, 'malformed-entry');
    if (lastSeq < 1) corrupt(`${f}.lastSeq: 0`);
    if (lastIndex < 1 || lastIndex > appliedIndex) corrupt(`${f}.lastIndex: ${lastIndex} outside [1, ${appliedIndex}]`);
    const lastResult = resultFromWire(s.lastResult as hubha.coord.Result | null | undefined, `${f}.lastResult`);
    if ('revision' in lastResult && lastResult.revision > revision) corrupt(`${f}.lastResult.revision: beyond the store's revision`);
    return { clientId, lastSeq, lastIndex, lastResult };
  });
  if (sessions.length > MAX_SESSIONS) corrupt(`sessions: ${sessions.length}, more than ${MAX_SESSIONS}`);
  const clients = new Set<string>();
  for (const [i, s] of sessions.entries()) {
    if (clients.has(s.clientId)) corrupt(`sessions[${i}]: client ${JSON.stringify(s.clientId)} twice`);
    clients.add(s.clientId);
    if (i > 0 && (sessions[i - 1] as SessionRecord).lastIndex >= s.lastIndex) corrupt(`sessions[${i}]: not in ascending lastIndex order`);
  }

  const members = (w.members ?? []).map((m, i) => {
    const { id, role, context } = memberFromWire(m, `members[${i}]`);
    if (!isValidNodeId(id)) corrupt(`members[${i}].id: invalid node id`);
    if (context !== null && context.length > MAX_CONF_CHANGE_CONTEXT_LENGTH) corrupt(`members[${i}].context: too long`);
    return makeMember(id, role, context);
  });
  ascending(members.map((m) => m.id), 'members');

  return { appliedIndex, appliedTerm, revision, kvs, leases, lastEpochs, sessions, members };
}
