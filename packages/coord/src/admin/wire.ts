import type { hubha } from '@hubha/proto/admin';
import type { HistoryEntry, Paused, Rejoin, SyncStandby } from '../records/records.js';
import { activeHubSchema, historyEntrySchema, pausedSchema, rejoinSchema, syncStandbySchema } from '../records/records.js';
import type { ClusterStatus, HaState, HandoverView, LeaseView, MemberStatus, ReasonCode, StandbyIneligibleCode, StatusReason, StatusThresholds } from '../status/model.js';
import { DEFAULT_THRESHOLDS } from '../status/model.js';
import { reasonKey } from '../status/reason-tracker.js';

/**
 * ClusterStatus and the other admin values to and from their protobuf messages
 * (proto/admin.proto). Empty strings and absent messages on the wire are null in the model.
 * Decoding checks what it reads: a malformed answer (another version, a damaged message) is a
 * MalformedAdminAnswerError, never a half-filled status.
 */

interface PropsOf {
  HistoryEntry: hubha.admin.HistoryEntry.$Properties;
  Rejoin: hubha.admin.Rejoin.$Properties;
  PausedRecord: hubha.admin.PausedRecord.$Properties;
  Handover: hubha.admin.Handover.$Properties;
  SyncStandbyRecord: hubha.admin.SyncStandbyRecord.$Properties;
  StatusThresholds: hubha.admin.StatusThresholds.$Properties;
  MemberStatus: hubha.admin.MemberStatus.$Properties;
  RaftSummary: hubha.admin.RaftSummary.$Properties;
  ClusterStatus: hubha.admin.ClusterStatus.$Properties;
}
type Props<K extends keyof PropsOf> = PropsOf[K];

export class MalformedAdminAnswerError extends Error {
  override readonly name = 'MalformedAdminAnswerError';
}

const nz = (value: string | null | undefined): string => value ?? '';
const nul = (value: string | null | undefined): string | null => (value === undefined || value === null || value === '' ? null : value);

/** A decoded uint64 (number or Long) as a safe integer; null when absent. */
export function u64OrNull(value: unknown, field: string): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === 'object') {
    const { low, high } = value as { low?: unknown; high?: unknown };
    if (typeof low === 'number' && typeof high === 'number' && high >>> 0 <= 0x1f_ffff) return (high >>> 0) * 0x1_0000_0000 + (low >>> 0);
  }
  throw new MalformedAdminAnswerError(`${field}: not a non-negative safe integer`);
}

export function u64(value: unknown, field: string): number {
  return u64OrNull(value, field) ?? 0;
}

function i64(value: unknown, field: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (typeof value === 'object') {
    const { low, high } = value as { low?: unknown; high?: unknown };
    if (typeof low === 'number' && typeof high === 'number') {
      const n = high * 0x1_0000_0000 + (low >>> 0);
      if (Number.isSafeInteger(n)) return n;
    }
  }
  throw new MalformedAdminAnswerError(`${field}: not a safe integer`);
}

function parsed<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } } }, value: unknown, field: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new MalformedAdminAnswerError(`${field}: ${result.error.issues.map((i) => `${i.path.map(String).join('.') || '(value)'}: ${i.message}`).join('; ')}`);
  return result.data;
}

// ---------------------------------------------------------------------------- records

export function historyToWire(entry: HistoryEntry): Props<'HistoryEntry'> {
  return {
    epoch: entry.epoch,
    at: entry.at,
    kind: entry.kind,
    from: nz(entry.from),
    to: entry.to,
    reason: entry.reason,
    ...(entry.dataLossBytes === null ? {} : { dataLossBytes: entry.dataLossBytes }),
  };
}

export function historyFromWire(wire: Props<'HistoryEntry'>, field = 'history'): HistoryEntry {
  return parsed(
    historyEntrySchema,
    { epoch: u64(wire.epoch, `${field}.epoch`), at: wire.at ?? '', kind: wire.kind ?? '', from: nul(wire.from), to: wire.to ?? '', reason: wire.reason ?? '', dataLossBytes: u64OrNull(wire.dataLossBytes, `${field}.dataLossBytes`) },
    field,
  );
}

export function rejoinToWire(r: Rejoin): Props<'Rejoin'> {
  return {
    epoch: r.epoch,
    member: r.member,
    primary: r.primary,
    at: r.at,
    rewind: r.rewind,
    ...(r.commitsAfterFork === null ? {} : { commitsAfterFork: r.commitsAfterFork }),
    ...(r.walBytesAfterFork === null ? {} : { walBytesAfterFork: r.walBytesAfterFork }),
    divergedAt: nz(r.divergedAt),
  };
}

export function rejoinFromWire(wire: Props<'Rejoin'>, field = 'rejoin'): Rejoin {
  return parsed(
    rejoinSchema,
    {
      epoch: u64(wire.epoch, `${field}.epoch`),
      member: wire.member ?? '',
      primary: wire.primary ?? '',
      at: wire.at ?? '',
      rewind: wire.rewind ?? '',
      commitsAfterFork: u64OrNull(wire.commitsAfterFork, `${field}.commitsAfterFork`),
      walBytesAfterFork: u64OrNull(wire.walBytesAfterFork, `${field}.walBytesAfterFork`),
      divergedAt: nul(wire.divergedAt),
    },
    field,
  );
}

export function pausedToWire(paused: Paused): Props<'PausedRecord'> {
  return { paused: paused.paused, by: paused.by, at: paused.at, reason: paused.reason };
}

export function pausedFromWire(wire: Props<'PausedRecord'>, field = 'paused'): Paused {
  return parsed(pausedSchema, { paused: wire.paused === true, by: wire.by ?? '', at: wire.at ?? '', reason: wire.reason ?? '' }, field);
}

function syncToWire(record: SyncStandby): Props<'SyncStandbyRecord'> {
  return { primary: record.primary, standby: nz(record.standby), epoch: record.epoch, at: record.at };
}

function syncFromWire(wire: Props<'SyncStandbyRecord'>): SyncStandby {
  return parsed(syncStandbySchema, { primary: wire.primary ?? '', standby: nul(wire.standby), epoch: u64(wire.epoch, 'synchronous.record.epoch'), at: wire.at ?? '' }, 'synchronous.record');
}

// ---------------------------------------------------------------------------- thresholds

export function thresholdsToWire(t: StatusThresholds): Props<'StatusThresholds'> {
  return {
    reportMaxAgeMs: t.reportMaxAgeMs,
    lagMaxBytes: t.lagMaxBytes,
    lagMaxSeconds: t.lagMaxSeconds,
    maximumLagOnFailoverBytes: t.maximumLagOnFailoverBytes,
    synchronous: nz(t.synchronous),
  };
}

/** Thresholds from a request (overrides over `base`) or a response. Rejects nonsense values. */
export function thresholdsFromWire(wire: Props<'StatusThresholds'> | null | undefined, base: StatusThresholds = DEFAULT_THRESHOLDS): StatusThresholds {
  if (wire === null || wire === undefined) return base;
  const sync = wire.synchronous ?? '';
  if (sync !== '' && sync !== 'off' && sync !== 'on' && sync !== 'strict') throw new MalformedAdminAnswerError(`thresholds.synchronous must be off, on or strict, got ${JSON.stringify(sync)}`);
  const seconds = wire.lagMaxSeconds;
  if (seconds !== undefined && seconds !== null && !(Number.isFinite(seconds) && seconds >= 0)) throw new MalformedAdminAnswerError('thresholds.lagMaxSeconds must be a non-negative number');
  return {
    reportMaxAgeMs: u64OrNull(wire.reportMaxAgeMs, 'thresholds.reportMaxAgeMs') ?? base.reportMaxAgeMs,
    lagMaxBytes: u64OrNull(wire.lagMaxBytes, 'thresholds.lagMaxBytes') ?? base.lagMaxBytes,
    lagMaxSeconds: seconds ?? base.lagMaxSeconds,
    maximumLagOnFailoverBytes: u64OrNull(wire.maximumLagOnFailoverBytes, 'thresholds.maximumLagOnFailoverBytes') ?? base.maximumLagOnFailoverBytes,
    synchronous: sync === '' ? base.synchronous : sync,
  };
}

// ---------------------------------------------------------------------------- members

export function memberStatusToWire(m: MemberStatus): Props<'MemberStatus'> {
  const pg = m.postgres;
  return {
    name: m.name,
    kind: m.kind,
    active: m.active,
    raftRole: nz(m.raft.role),
    raftState: m.raft.state,
    ...(m.raft.commitIndex === null ? {} : { commitIndex: m.raft.commitIndex }),
    ...(m.raft.appliedIndex === null ? {} : { appliedIndex: m.raft.appliedIndex }),
    peerAddress: nz(m.raft.peerAddress),
    clientAddress: nz(m.raft.clientAddress),
    reachable: m.reachable,
    unreachableSince: nz(m.unreachableSince),
    lastError: nz(m.lastError),
    ...(pg === null
      ? {}
      : {
          postgres: {
            role: pg.role,
            up: pg.up,
            ...(pg.inRecovery === null ? {} : { inRecovery: pg.inRecovery }),
            ...(pg.timeline === null ? {} : { timeline: pg.timeline }),
            systemId: nz(pg.systemId),
            lsn: nz(pg.lsn),
            replayLsn: nz(pg.replayLsn),
            streaming: pg.streaming,
            address: pg.address,
            replicationState: nz(pg.replicationState),
            syncState: nz(pg.syncState),
            ...(pg.lagBytes === null ? {} : { lagBytes: pg.lagBytes }),
            ...(pg.lagSeconds === null ? {} : { lagSeconds: pg.lagSeconds }),
          },
        }),
    ...(m.report === null ? {} : { report: { at: m.report.at, ageMs: m.report.ageMs, seq: m.report.seq, stale: m.report.stale } }),
    ...(m.tags === null ? {} : { tags: { nofailover: m.tags.nofailover, priority: m.tags.priority } }),
    ...(m.vipHeld === null ? {} : { vipHeld: m.vipHeld }),
    lastHookFailure: nz(m.lastHookFailure),
    ...(m.eligibility === null ? {} : { eligibility: { eligible: m.eligibility.eligible, reasons: m.eligibility.reasons.map((r) => ({ code: r.code, message: r.message })) } }),
  };
}

const PG_ROLES = new Set(['primary', 'standby', 'stopped', 'unknown']);

export function memberStatusFromWire(w: Props<'MemberStatus'>, i = 0): MemberStatus {
  const field = `members[${i}]`;
  const name = w.name ?? '';
  if (name === '') throw new MalformedAdminAnswerError(`${field}.name is empty`);
  const kind = w.kind;
  if (kind !== 'hub' && kind !== 'witness') throw new MalformedAdminAnswerError(`${field}.kind must be hub or witness`);
  const role = w.raftRole ?? '';
  if (role !== '' && role !== 'voter' && role !== 'learner') throw new MalformedAdminAnswerError(`${field}.raftRole must be voter, learner or empty`);
  const pg = w.postgres ?? null;
  if (pg !== null && !PG_ROLES.has(pg.role ?? '')) throw new MalformedAdminAnswerError(`${field}.postgres.role is not a report role`);
  return {
    name,
    kind,
    active: w.active === true,
    raft: {
      role: role === '' ? null : role,
      state: w.raftState || 'unknown',
      commitIndex: u64OrNull(w.commitIndex, `${field}.commitIndex`),
      appliedIndex: u64OrNull(w.appliedIndex, `${field}.appliedIndex`),
      peerAddress: nul(w.peerAddress),
      clientAddress: nul(w.clientAddress),
    },
    reachable: w.reachable === true,
    unreachableSince: nul(w.unreachableSince),
    lastError: nul(w.lastError),
    postgres:
      pg === null
        ? null
        : {
            role: pg.role as NonNullable<MemberStatus['postgres']>['role'],
            up: pg.up === true,
            inRecovery: pg.inRecovery ?? null,
            timeline: pg.timeline ?? null,
            systemId: nul(pg.systemId),
            lsn: nul(pg.lsn),
            replayLsn: nul(pg.replayLsn),
            streaming: pg.streaming === true,
            address: pg.address ?? '',
            replicationState: nul(pg.replicationState),
            syncState: nul(pg.syncState),
            lagBytes: u64OrNull(pg.lagBytes, `${field}.postgres.lagBytes`),
            lagSeconds: pg.lagSeconds ?? null,
          },
    report: w.report === null || w.report === undefined ? null : { at: w.report.at ?? '', ageMs: i64(w.report.ageMs, `${field}.report.ageMs`), seq: u64(w.report.seq, `${field}.report.seq`), stale: w.report.stale === true },
    tags: w.tags === null || w.tags === undefined ? null : { nofailover: w.tags.nofailover === true, priority: w.tags.priority ?? 0 },
    vipHeld: w.vipHeld ?? null,
    lastHookFailure: nul(w.lastHookFailure),
    eligibility:
      w.eligibility === null || w.eligibility === undefined
        ? null
        : { eligible: w.eligibility.eligible === true, reasons: (w.eligibility.reasons ?? []).map((r) => ({ code: (r.code ?? '') as StandbyIneligibleCode, message: r.message ?? '' })) },
  };
}

function raftToWire(raft: ClusterStatus['raft']): Props<'RaftSummary'> {
  return { leader: nz(raft.leader), term: raft.term, quorum: raft.quorum, voters: raft.voters, reachableVoters: raft.reachableVoters };
}

export function raftFromWire(w: Props<'RaftSummary'> | null | undefined): ClusterStatus['raft'] {
  return { leader: nul(w?.leader), term: u64(w?.term, 'raft.term'), quorum: w?.quorum === true, voters: w?.voters ?? 0, reachableVoters: w?.reachableVoters ?? 0 };
}

// ---------------------------------------------------------------------------- the status

export function statusToWire(s: ClusterStatus): Props<'ClusterStatus'> {
  return {
    at: s.at,
    servedBy: s.servedBy,
    revision: s.revision,
    linearizable: s.linearizable,
    readError: nz(s.readError),
    state: s.state,
    reasons: s.reasons.map((r) => ({ code: r.code, member: nz(r.member), message: r.message, since: r.since })),
    ...(s.activeHub === null ? {} : { activeHub: { name: s.activeHub.name, address: s.activeHub.address, vip: nz(s.activeHub.vip), epoch: s.activeHub.epoch, since: s.activeHub.since } }),
    ...(s.lease === null ? {} : { lease: { holder: s.lease.holder, epoch: s.lease.epoch, ttlMs: s.lease.ttlMs, ...(s.lease.remainingMs === null ? {} : { remainingMs: s.lease.remainingMs }) } }),
    synchronous: { mode: s.synchronous.mode, inferred: s.synchronous.inferred, standby: nz(s.synchronous.standby), ...(s.synchronous.record === null ? {} : { record: syncToWire(s.synchronous.record) }) },
    ...(s.paused === null ? {} : { paused: pausedToWire(s.paused) }),
    raft: raftToWire(s.raft),
    members: s.members.map(memberStatusToWire),
    ...(s.lastPromotion === null ? {} : { lastPromotion: historyToWire(s.lastPromotion) }),
    ...(s.handover === null ? {} : { handover: { ...s.handover, from: nz(s.handover.from) } }),
    thresholds: thresholdsToWire(s.thresholds),
    problems: [...s.problems],
  };
}

const STATES = new Set<string>(['healthy', 'degraded', 'failed']);

function handoverFromWire(w: Props<'Handover'> | null | undefined): HandoverView | null {
  if (w === null || w === undefined) return null;
  if (w.kind !== 'switchover' && w.kind !== 'failover') throw new MalformedAdminAnswerError('handover.kind must be switchover or failover');
  if ((w.to ?? '') === '') throw new MalformedAdminAnswerError('handover.to is empty');
  return { kind: w.kind, from: nul(w.from), to: w.to!, at: w.at ?? '', requestedAt: w.requestedAt ?? '', by: w.by ?? '', reason: w.reason ?? '', force: w.force === true, scheduled: w.scheduled === true };
}

export function statusFromWire(w: Props<'ClusterStatus'> | null | undefined): ClusterStatus {
  if (w === null || w === undefined) throw new MalformedAdminAnswerError('no status in the answer');
  const state = w.state ?? '';
  if (!STATES.has(state)) throw new MalformedAdminAnswerError(`state must be healthy, degraded or failed, got ${JSON.stringify(state)}`);
  const active = w.activeHub ?? null;
  const lease = w.lease ?? null;
  const sync = w.synchronous ?? null;
  const mode = sync?.mode ?? 'off';
  if (mode !== 'off' && mode !== 'on' && mode !== 'strict') throw new MalformedAdminAnswerError('synchronous.mode must be off, on or strict');
  const leaseView: LeaseView | null = lease === null ? null : { holder: lease.holder ?? '', epoch: u64(lease.epoch, 'lease.epoch'), ttlMs: u64(lease.ttlMs, 'lease.ttlMs'), remainingMs: u64OrNull(lease.remainingMs, 'lease.remainingMs') };
  return {
    at: w.at ?? '',
    servedBy: w.servedBy ?? '',
    revision: u64(w.revision, 'revision'),
    linearizable: w.linearizable === true,
    readError: nul(w.readError),
    state: state as HaState,
    reasons: (w.reasons ?? []).map((r): StatusReason => {
      const member = nul(r.member);
      return { code: (r.code ?? '') as ReasonCode, member, message: r.message ?? '', since: r.since ?? '', key: reasonKey(r.code ?? '', member) };
    }),
    activeHub: active === null ? null : parsed(activeHubSchema, { name: active.name ?? '', address: active.address ?? '', vip: nul(active.vip), epoch: u64(active.epoch, 'activeHub.epoch'), since: active.since ?? '' }, 'activeHub'),
    lease: leaseView,
    synchronous: { mode, inferred: sync?.inferred === true, standby: nul(sync?.standby), record: sync?.record === null || sync?.record === undefined ? null : syncFromWire(sync.record) },
    paused: w.paused === null || w.paused === undefined ? null : pausedFromWire(w.paused),
    raft: raftFromWire(w.raft),
    members: (w.members ?? []).map((m, i) => memberStatusFromWire(m, i)),
    lastPromotion: w.lastPromotion === null || w.lastPromotion === undefined ? null : historyFromWire(w.lastPromotion, 'lastPromotion'),
    handover: handoverFromWire(w.handover),
    thresholds: thresholdsFromWire(w.thresholds),
    problems: [...(w.problems ?? [])],
  };
}

/**
 * The JSON of GET /v1/status and `hubha status -o json`: the ClusterStatus without the reason
 * tracker's internal keys.
 */
export function statusToJson(s: ClusterStatus): Record<string, unknown> {
  return { ...s, reasons: s.reasons.map((r) => ({ code: r.code, member: r.member, message: r.message, since: r.since })) };
}
