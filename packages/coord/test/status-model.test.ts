import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ActiveHub, ClusterStatus, HubReport, MemberProbe, RaftMemberView, StatusInput, StatusReason, SyncStandby } from '../src/index.js';
import { DEFAULT_THRESHOLDS, REASON_CODES, carryReasonStarts, computeClusterStatus, evaluateEligibility, formatBytes, formatDuration, recordProbe, retainMembers } from '../src/index.js';

const T0 = Date.parse('2026-11-26T10:00:00.000Z');
const iso = (ms: number): string => new Date(ms).toISOString();

function report(name: string, over: { role?: HubReport['role']; at?: number; lsn?: string; timeline?: number; systemId?: string; up?: boolean; inRecovery?: boolean | null; streaming?: boolean; standbys?: HubReport['standbys']; vipHeld?: boolean | null; hook?: string | null; nofailover?: boolean; epoch?: number | null } = {}): HubReport {
  const role = over.role ?? 'standby';
  const up = over.up ?? role !== 'stopped';
  return {
    name,
    at: iso(over.at ?? T0 - 500),
    seq: 7,
    role,
    epoch: over.epoch ?? (role === 'primary' ? 3 : null),
    postgres: {
      up,
      inRecovery: over.inRecovery !== undefined ? over.inRecovery : up ? role !== 'primary' : null,
      timeline: up ? (over.timeline ?? 2) : null,
      systemId: up ? (over.systemId ?? '7000') : null,
      lsn: up ? (over.lsn ?? '0/3000000') : null,
      replayLsn: up ? (over.lsn ?? '0/3000000') : null,
      streaming: over.streaming ?? role === 'standby',
      address: `127.0.0.1:${name === 'hub1' ? 5432 : 5433}`,
    },
    standbys: over.standbys ?? [],
    tags: { nofailover: over.nofailover ?? false, priority: 100 },
    vipHeld: over.vipHeld ?? null,
    lastHookFailure: over.hook ?? null,
  };
}

const streamingHub2 = (lagBytes = 0, replayLagMs: number | null = 5, state = 'streaming', syncState = 'sync'): HubReport['standbys'] => [
  { name: 'hub2', state, syncState, flushLsn: '0/3000000', replayLsn: '0/3000000', lagBytes, replayLagMs },
];

const activeHub1: ActiveHub = { name: 'hub1', address: '127.0.0.1:5432', vip: null, epoch: 3, since: iso(T0 - 60_000) };
const sync3: SyncStandby = { primary: 'hub1', standby: 'hub2', epoch: 3, at: iso(T0 - 50_000) };

const up = (state = 'follower', leader = 'witness'): MemberProbe => ({ reachable: true, state, term: 4, leader, commitIndex: 100, appliedIndex: 100, version: '0.1.0' });
const down = (since: number, error = 'UNAVAILABLE: connect ECONNREFUSED'): MemberProbe => ({ reachable: false, error, unreachableSince: since, lastSeen: since - 1000 });

function member(name: string, probe: MemberProbe | null, kind: 'hub' | 'witness' = name.startsWith('hub') ? 'hub' : 'witness'): RaftMemberView {
  return { name, role: 'voter', kind, peerAddress: `127.0.0.1:1${name.length}`, clientAddress: `127.0.0.1:2${name.length}`, probe };
}

/** A healthy pair in synchronous mode, seen by the witness (the Raft leader). */
function healthy(): StatusInput {
  return {
    now: T0,
    records: {
      active: activeHub1,
      lease: { holder: 'hub1', epoch: 3, ttlMs: 2000, remainingMs: 1800 },
      sync: sync3,
      paused: null,
      reports: [report('hub1', { role: 'primary', standbys: streamingHub2() }), report('hub2')],
      history: [
        { epoch: 1, at: iso(T0 - 600_000), kind: 'bootstrap', from: null, to: 'hub2', reason: 'first primary', dataLossBytes: 0 },
        { epoch: 3, at: iso(T0 - 60_000), kind: 'failover', from: 'hub2', to: 'hub1', reason: 'hub2 lost the lease', dataLossBytes: 0 },
      ],
      rejoins: [],
      problems: [],
    },
    raft: { servedBy: 'witness', leader: 'witness', term: 4, members: [member('hub1', up()), member('hub2', up()), member('witness', up('leader'))] },
    read: { linearizable: true, revision: 1234, barrierError: null },
    thresholds: DEFAULT_THRESHOLDS,
  };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type Draft = Omit<Mutable<StatusInput>, 'records' | 'raft'> & { records: Mutable<StatusInput['records']>; raft: Mutable<StatusInput['raft']> };
function change(mutate: (input: Draft) => void): StatusInput {
  const input = healthy();
  const copy: Draft = { ...input, records: { ...input.records }, raft: { ...input.raft } };
  mutate(copy);
  return copy;
}

const codes = (status: ClusterStatus): string[] => status.reasons.map((r) => r.code);
const reason = (status: ClusterStatus, code: string, memberName: string | null = null): StatusReason | undefined => status.reasons.find((r) => r.code === code && (memberName === null || r.member === memberName));

describe('computeClusterStatus: healthy', () => {
  it('a bootstrapped pair with the standby streaming and synchronous has no reason at all', () => {
    const status = computeClusterStatus(healthy());
    expect(status.reasons).toEqual([]);
    expect(status.state).toBe('healthy');
    expect(status.activeHub?.name).toBe('hub1');
    expect(status.synchronous).toMatchObject({ mode: 'on', inferred: true, standby: 'hub2' });
    expect(status.raft).toEqual({ leader: 'witness', term: 4, quorum: true, voters: 3, reachableVoters: 3 });
    expect(status.lastPromotion?.epoch).toBe(3);
    const [hub1, hub2, witness] = status.members;
    expect(hub1).toMatchObject({ name: 'hub1', kind: 'hub', active: true, reachable: true, eligibility: null, postgres: { role: 'primary', timeline: 2, lagBytes: null } });
    expect(hub2).toMatchObject({ name: 'hub2', kind: 'hub', active: false, postgres: { role: 'standby', replicationState: 'streaming', syncState: 'sync', lagBytes: 0, lagSeconds: 0.005 }, report: { ageMs: 500, stale: false } });
    expect(hub2!.eligibility).toEqual({ eligible: true, reasons: [] });
    expect(witness).toMatchObject({ name: 'witness', kind: 'witness', postgres: null, report: null, eligibility: null, raft: { state: 'leader', role: 'voter' } });
  });

  it('asynchronous mode (no sync record) with the standby within the bound is healthy too', () => {
    const status = computeClusterStatus(change((i) => (i.records.sync = null)));
    expect(status.state).toBe('healthy');
    expect(status.synchronous.mode).toBe('off');
    expect(status.members[1]!.eligibility?.eligible).toBe(true);
  });
});

describe('computeClusterStatus: every reason', () => {
  it('no-active-hub (failed): the lease free, the last active hub named', () => {
    const status = computeClusterStatus(change((i) => ((i.records.active = null), (i.records.lease = null))));
    expect(status.state).toBe('failed');
    expect(reason(status, 'no-active-hub')?.message).toMatch(/no hub holds the active-hub lease.*last active hub was hub1 \(epoch 3\)/);
  });

  it('no-active-hub while a hub holds the lease but has not published itself', () => {
    const status = computeClusterStatus(change((i) => ((i.records.active = null), (i.records.lease = { holder: 'hub2', epoch: 4, ttlMs: 2000, remainingMs: null }))));
    expect(reason(status, 'no-active-hub')?.message).toMatch(/hub2 holds the active-hub lease \(epoch 4\) but has not published/);
  });

  it('no-quorum (failed): two of three voters unreachable and the read barrier failed', () => {
    const status = computeClusterStatus(
      change((i) => {
        i.raft.members = [member('hub1', down(T0 - 5000)), member('hub2', down(T0 - 5000)), member('witness', up('candidate', ''))];
        i.raft.leader = null;
        i.read = { linearizable: false, revision: 1000, barrierError: 'no-leader' };
      }),
    );
    expect(status.state).toBe('failed');
    expect(codes(status)).toEqual(expect.arrayContaining(['no-quorum', 'no-leader', 'member-unreachable']));
    expect(reason(status, 'no-quorum')?.message).toMatch(/only 1 of 3 voting members answer witness \(a majority is 2\); the read barrier failed \(no-leader\)/);
    expect(status.raft.quorum).toBe(false);
    // A standby cannot take the lease without a quorum.
    expect(status.members.find((m) => m.name === 'hub2')!.eligibility?.reasons.map((r) => r.code)).toContain('no-quorum');
  });

  it('no quorum is not claimed while the read barrier succeeded, even if probes failed', () => {
    const status = computeClusterStatus(change((i) => (i.raft.members = [member('hub1', down(T0 - 500)), member('hub2', down(T0 - 500)), member('witness', up('leader'))])));
    expect(codes(status)).not.toContain('no-quorum');
    expect(status.state).toBe('degraded');
  });

  it('no-leader (degraded): nobody knows a leader', () => {
    const status = computeClusterStatus(change((i) => ((i.raft.leader = null), (i.raft.members = i.raft.members.map((m) => ({ ...m, probe: up('follower', '') }))))));
    expect(codes(status)).toEqual(['no-leader']);
    expect(status.state).toBe('degraded');
  });

  it('member-unreachable: for how long, since when, and why', () => {
    const status = computeClusterStatus(change((i) => (i.raft.members = [member('hub1', up()), member('hub2', down(T0 - 12_000)), member('witness', up('leader'))])));
    const r = reason(status, 'member-unreachable', 'hub2');
    expect(r?.message).toBe('hub2 has not answered witness for 12 s: UNAVAILABLE: connect ECONNREFUSED');
    expect(r?.since).toBe(iso(T0 - 12_000));
    expect(status.members[1]).toMatchObject({ reachable: false, unreachableSince: iso(T0 - 12_000), raft: { state: 'unknown', commitIndex: null } });
  });

  it('report-stale: after the threshold, starting when the report crossed it; never-reported hubs too', () => {
    const stale = computeClusterStatus(change((i) => (i.records.reports = [report('hub1', { role: 'primary', standbys: streamingHub2() }), report('hub2', { at: T0 - 9000 })])));
    const r = reason(stale, 'report-stale', 'hub2');
    expect(r?.message).toMatch(/hub2 has not reported for 9 s/);
    expect(r?.since).toBe(iso(T0 - 9000 + DEFAULT_THRESHOLDS.reportMaxAgeMs));
    expect(stale.members[1]!.report).toMatchObject({ ageMs: 9000, stale: true });
    const justUnder = computeClusterStatus(change((i) => (i.records.reports = [report('hub1', { role: 'primary', standbys: streamingHub2() }), report('hub2', { at: T0 - DEFAULT_THRESHOLDS.reportMaxAgeMs })])));
    expect(codes(justUnder)).not.toContain('report-stale');
    const never = computeClusterStatus(change((i) => (i.records.reports = [report('hub1', { role: 'primary', standbys: streamingHub2() })])));
    expect(reason(never, 'report-stale', 'hub2')?.message).toMatch(/hub2 has never reported/);
    expect(never.members[1]!.eligibility?.reasons.map((x) => x.code)).toEqual(['no-report']);
  });

  it('standby-not-streaming: absent from the primary\'s pg_stat_replication, or in another state', () => {
    const absent = computeClusterStatus(change((i) => (i.records.reports = [report('hub1', { role: 'primary' }), report('hub2', { role: 'stopped' })])));
    expect(reason(absent, 'standby-not-streaming', 'hub2')?.message).toBe("hub2 is not streaming from hub1: it is not in hub1's pg_stat_replication; PostgreSQL on hub2 is down");
    const catchup = computeClusterStatus(change((i) => (i.records.reports = [report('hub1', { role: 'primary', standbys: streamingHub2(0, 0, 'catchup', 'async') }), report('hub2')])));
    expect(reason(catchup, 'standby-not-streaming', 'hub2')?.message).toMatch(/its replication state on hub1 is catchup/);
    // With the primary's report stale, the standby's own report decides.
    const ownWord = computeClusterStatus(change((i) => (i.records.reports = [report('hub1', { role: 'primary', at: T0 - 20_000, standbys: streamingHub2() }), report('hub2', { streaming: false })])));
    expect(reason(ownWord, 'standby-not-streaming', 'hub2')?.message).toMatch(/its own report says it does not receive WAL/);
    const ownOk = computeClusterStatus(change((i) => (i.records.reports = [report('hub1', { role: 'primary', at: T0 - 20_000 }), report('hub2')])));
    expect(codes(ownOk)).not.toContain('standby-not-streaming');
  });

  it('replication-lag: bytes or seconds above the limits, with both in the sentence', () => {
    const bytes = computeClusterStatus(change((i) => (i.records.reports = [report('hub1', { role: 'primary', standbys: streamingHub2(20 * 1024 * 1024, 2000) }), report('hub2')])));
    expect(reason(bytes, 'replication-lag', 'hub2')?.message).toBe('hub2 is 20.0 MiB (2.0 s of replay) behind hub1; the limits are 16.0 MiB and 30 s');
    const seconds = computeClusterStatus(change((i) => (i.records.reports = [report('hub1', { role: 'primary', standbys: streamingHub2(100, 45_000) }), report('hub2')])));
    expect(reason(seconds, 'replication-lag', 'hub2')?.message).toMatch(/100 B \(45.0 s of replay\)/);
    const under = computeClusterStatus(change((i) => (i.records.reports = [report('hub1', { role: 'primary', standbys: streamingHub2(1024, 1000) }), report('hub2')])));
    expect(codes(under)).toEqual([]);
    expect(under.members[1]!.postgres).toMatchObject({ lagBytes: 1024, lagSeconds: 1 });
  });

  it('no-sync-standby: recorded as none (since the record), no record, or a record of another epoch', () => {
    const none = computeClusterStatus(change((i) => (i.records.sync = { ...sync3, standby: null, at: iso(T0 - 7000) })));
    expect(reason(none, 'no-sync-standby')?.message).toBe('no synchronous standby: hub1 commits without waiting for a standby, and no standby may take over automatically');
    expect(reason(none, 'no-sync-standby')?.since).toBe(iso(T0 - 7000));
    expect(none.synchronous.standby).toBeNull();
    expect(none.members[1]!.eligibility?.reasons.map((r) => r.code)).toEqual(['not-sync-standby']);
    const old = computeClusterStatus(change((i) => (i.records.sync = { primary: 'hub2', standby: 'hub1', epoch: 2, at: iso(T0 - 70_000) })));
    expect(reason(old, 'no-sync-standby')?.message).toMatch(/record is hub2's at epoch 2 .*not the active hub's \(hub1 at epoch 3\)/);
    const configured = computeClusterStatus(change((i) => ((i.records.sync = null), (i.thresholds = { ...DEFAULT_THRESHOLDS, synchronous: 'strict' }))));
    expect(reason(configured, 'no-sync-standby')?.message).toMatch(/no synchronous standby is recorded/);
    expect(configured.synchronous).toMatchObject({ mode: 'strict', inferred: false });
  });

  it('vip-not-held and vip-held-twice, from fresh reports only', () => {
    const vip = '10.0.0.100/24';
    const notHeld = computeClusterStatus(change((i) => ((i.records.active = { ...activeHub1, vip }), (i.records.reports = [report('hub1', { role: 'primary', standbys: streamingHub2(), vipHeld: false }), report('hub2', { vipHeld: false })]))));
    expect(reason(notHeld, 'vip-not-held', 'hub1')?.message).toBe('the VIP 10.0.0.100/24 is not on hub1, the active hub');
    const twice = computeClusterStatus(change((i) => ((i.records.active = { ...activeHub1, vip }), (i.records.reports = [report('hub1', { role: 'primary', standbys: streamingHub2(), vipHeld: true }), report('hub2', { vipHeld: true })]))));
    expect(reason(twice, 'vip-held-twice')?.message).toBe('the VIP 10.0.0.100/24 is on hub1 and hub2: only hub1, the active hub, may hold it');
    const elsewhere = computeClusterStatus(change((i) => ((i.records.active = { ...activeHub1, vip }), (i.records.reports = [report('hub1', { role: 'primary', standbys: streamingHub2(), vipHeld: false }), report('hub2', { vipHeld: true })]))));
    expect(reason(elsewhere, 'vip-not-held', 'hub1')?.message).toMatch(/\(it is on hub2\)$/);
    const staleHolder = computeClusterStatus(change((i) => ((i.records.active = { ...activeHub1, vip }), (i.records.reports = [report('hub1', { role: 'primary', standbys: streamingHub2(), vipHeld: true }), report('hub2', { vipHeld: true, at: T0 - 60_000 })]))));
    expect(codes(staleHolder)).not.toContain('vip-held-twice');
    const noVip = computeClusterStatus(change((i) => (i.records.reports = [report('hub1', { role: 'primary', standbys: streamingHub2(), vipHeld: false }), report('hub2')])));
    expect(codes(noVip)).toEqual([]);
  });

  it('paused: by whom, why, since when; standbys say they may not take over', () => {
    const status = computeClusterStatus(change((i) => (i.records.paused = { paused: true, by: 'alice@ops', at: iso(T0 - 30_000), reason: 'kernel upgrade' })));
    const r = reason(status, 'paused');
    expect(r?.message).toBe('the cluster is paused by alice@ops (kernel upgrade): no automatic failover until it is resumed');
    expect(r?.since).toBe(iso(T0 - 30_000));
    expect(status.state).toBe('degraded');
    expect(status.paused?.by).toBe('alice@ops');
    expect(status.members[1]!.eligibility).toEqual({ eligible: false, reasons: [{ code: 'paused', message: 'the cluster is paused (maintenance): no automatic failover' }] });
    const resumed = computeClusterStatus(change((i) => (i.records.paused = { paused: false, by: 'alice@ops', at: iso(T0), reason: '' })));
    expect(resumed.state).toBe('healthy');
    expect(resumed.paused).toBeNull();
  });

  it('hook-failed: the hook and its failure, per hub', () => {
    const status = computeClusterStatus(change((i) => (i.records.reports = [report('hub1', { role: 'primary', standbys: streamingHub2(), hook: 'promote: exit 3' }), report('hub2')])));
    expect(reason(status, 'hook-failed', 'hub1')?.message).toBe('the last hook on hub1 failed: promote: exit 3');
  });

  it('primary-not-writable: down, in recovery, or the sidecar not acting as primary', () => {
    const downPg = computeClusterStatus(change((i) => (i.records.reports = [report('hub1', { role: 'stopped' }), report('hub2')])));
    expect(reason(downPg, 'primary-not-writable', 'hub1')?.message).toBe('PostgreSQL on hub1, the active hub, is not running');
    const recovering = computeClusterStatus(change((i) => (i.records.reports = [report('hub1', { role: 'primary', inRecovery: true, standbys: streamingHub2() }), report('hub2')])));
    expect(reason(recovering, 'primary-not-writable', 'hub1')?.message).toMatch(/is in recovery/);
    const unknownRole = computeClusterStatus(change((i) => (i.records.reports = [report('hub1', { role: 'unknown', inRecovery: false, standbys: streamingHub2() }), report('hub2')])));
    expect(reason(unknownRole, 'primary-not-writable', 'hub1')?.message).toMatch(/reports the role unknown/);
  });

  it('unexpected-primary: a writable PostgreSQL on a hub that is not the active one', () => {
    const status = computeClusterStatus(change((i) => (i.records.reports = [report('hub1', { role: 'primary', standbys: streamingHub2() }), report('hub2', { role: 'unknown', inRecovery: false, streaming: false })])));
    expect(reason(status, 'unexpected-primary', 'hub2')?.message).toMatch(/PostgreSQL on hub2 is writable/);
  });

  it('timeline-mismatch: the old primary not yet rejoined, or another database system', () => {
    const oldPrimary = computeClusterStatus(change((i) => (i.records.reports = [report('hub1', { role: 'primary', timeline: 3 }), report('hub2', { role: 'primary', timeline: 2, at: T0 - 40_000 })])));
    expect(reason(oldPrimary, 'timeline-mismatch', 'hub2')?.message).toBe('hub2 is on timeline 2, hub1 on timeline 3 (from its last report, 40 s old): it has not rejoined as a standby of hub1 yet');
    const other = computeClusterStatus(change((i) => (i.records.reports = [report('hub1', { role: 'primary', standbys: streamingHub2() }), report('hub2', { systemId: '9999' })])));
    expect(reason(other, 'timeline-mismatch', 'hub2')?.message).toMatch(/another database system .* must be re-cloned/);
  });

  it('invalid-record: each problem is its own reason', () => {
    const status = computeClusterStatus(change((i) => (i.records.problems = ['hubha/reports/hub3: not JSON (x)', 'hubha/paused: paused: expected boolean'])));
    expect(status.reasons.filter((r) => r.code === 'invalid-record')).toHaveLength(2);
  });

  it('reasons come in a fixed order: failing ones first, then by code and member', () => {
    const status = computeClusterStatus(
      change((i) => {
        i.records.active = null;
        i.records.lease = null;
        i.records.paused = { paused: true, by: 'x', at: iso(T0), reason: '' };
        i.raft.members = [member('hub1', down(T0 - 3000)), member('hub2', up()), member('witness', up('leader'))];
      }),
    );
    // hub1's PostgreSQL is still writable without the lease: unexpected-primary too.
    expect(codes(status)).toEqual(['no-active-hub', 'unexpected-primary', 'member-unreachable', 'paused']);
  });
});

describe('eligibility in the status: the agent\'s own rules', () => {
  it('matches evaluateEligibility for the standby, with nofailover and lag in asynchronous mode', () => {
    const input = change((i) => {
      i.records.sync = null;
      i.records.reports = [report('hub1', { role: 'primary', lsn: '0/5000000', standbys: streamingHub2() }), report('hub2', { lsn: '0/3000000', nofailover: true })];
    });
    const status = computeClusterStatus(input);
    const direct = evaluateEligibility({
      self: 'hub2',
      synchronous: 'off',
      maximumLagOnFailoverBytes: DEFAULT_THRESHOLDS.maximumLagOnFailoverBytes,
      nofailover: true,
      priority: 100,
      paused: false,
      postgresUp: true,
      inRecovery: true,
      receivedLsn: '0/3000000',
      syncRecord: null,
      primaryReport: input.records.reports[0]!,
      otherStandbys: [],
    });
    expect(status.members[1]!.eligibility).toEqual(direct);
    expect(direct.reasons.map((r) => r.code)).toEqual(['nofailover', 'lag-too-high']);
  });

  it('a stale report says so first, then the reasons from that report', () => {
    const status = computeClusterStatus(change((i) => (i.records.reports = [report('hub1', { role: 'primary' }), report('hub2', { role: 'stopped', at: T0 - 30_000 })])));
    expect(status.members[1]!.eligibility?.reasons.map((r) => r.code)).toEqual(['report-stale', 'postgres-down']);
  });
});

describe('the reason tracker', () => {
  it('keeps the start of a reason across evaluations, restarts it after it went away', () => {
    const first = computeClusterStatus(change((i) => (i.records.reports = [report('hub1', { role: 'primary', hook: 'x' }), report('hub2')])));
    expect(reason(first, 'hook-failed')?.since).toBe(iso(T0));
    const later = computeClusterStatus(change((i) => ((i.now = T0 + 5000), (i.previousReasons = first.reasons), (i.records.reports = [report('hub1', { role: 'primary', hook: 'x', at: T0 + 4500 }), report('hub2', { at: T0 + 4500 })]))));
    expect(reason(later, 'hook-failed')?.since).toBe(iso(T0));
    const gone = computeClusterStatus(change((i) => ((i.now = T0 + 6000), (i.previousReasons = later.reasons))));
    expect(reason(gone, 'hook-failed')).toBeUndefined();
    const back = computeClusterStatus(change((i) => ((i.now = T0 + 7000), (i.previousReasons = gone.reasons), (i.records.reports = [report('hub1', { role: 'primary', hook: 'x', at: T0 + 6900 }), report('hub2', { at: T0 + 6900 })]))));
    expect(reason(back, 'hook-failed')?.since).toBe(iso(T0 + 7000));
  });

  it('property: since is never after now, carried starts never move, intrinsic starts win', () => {
    const arbReason = fc.record({
      code: fc.constantFrom(...REASON_CODES),
      member: fc.option(fc.constantFrom('hub1', 'hub2', 'witness'), { nil: null }),
      message: fc.string(),
      startedAt: fc.option(fc.integer({ min: T0 - 1_000_000, max: T0 + 1_000_000 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(fc.array(arbReason, { maxLength: 8 }), { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 6, maxLength: 6 }), (rounds, steps) => {
        let previous: StatusReason[] = [];
        let now = T0;
        rounds.forEach((found, round) => {
          now += steps[round]!;
          const tracked = carryReasonStarts(previous, found, now);
          const keys = new Set<string>();
          for (const r of tracked) {
            expect(keys.has(r.key)).toBe(false);
            keys.add(r.key);
            expect(Date.parse(r.since)).toBeLessThanOrEqual(now);
            const source = found.find((f) => `${f.code}|${f.member ?? ''}|` === r.key)!;
            const before = previous.find((p) => p.key === r.key);
            if (source.startedAt !== undefined) expect(r.since).toBe(iso(Math.min(source.startedAt, now)));
            else if (before !== undefined) expect(r.since).toBe(before.since);
            else expect(r.since).toBe(iso(now));
          }
          previous = tracked as StatusReason[];
        });
      }),
    );
  });
});

describe('the status state, as a property', () => {
  it('failed iff no-active-hub or no-quorum is a reason; healthy iff no reason', () => {
    const arbProbe = fc.oneof(fc.constant(up()), fc.integer({ min: 0, max: 60_000 }).map((ago) => down(T0 - ago)));
    fc.assert(
      fc.property(
        fc.record({
          active: fc.boolean(),
          paused: fc.boolean(),
          probes: fc.tuple(arbProbe, arbProbe, arbProbe),
          linearizable: fc.boolean(),
          hub2Age: fc.integer({ min: 0, max: 20_000 }),
          hub2Role: fc.constantFrom<HubReport['role']>('standby', 'stopped', 'unknown'),
          lag: fc.integer({ min: 0, max: 64 * 1024 * 1024 }),
          syncStandby: fc.constantFrom<string | null>('hub2', null),
          hook: fc.option(fc.constant('on_role_change: exit 1'), { nil: null }),
        }),
        (c) => {
          const status = computeClusterStatus(
            change((i) => {
              i.records.active = c.active ? activeHub1 : null;
              i.records.lease = c.active ? i.records.lease : null;
              i.records.paused = c.paused ? { paused: true, by: 'x', at: iso(T0 - 1000), reason: '' } : null;
              i.records.sync = { ...sync3, standby: c.syncStandby };
              i.records.reports = [report('hub1', { role: 'primary', standbys: c.hub2Role === 'standby' ? streamingHub2(c.lag) : [], hook: c.hook }), report('hub2', { role: c.hub2Role, at: T0 - c.hub2Age })];
              i.raft.members = [member('hub1', c.probes[0]), member('hub2', c.probes[1]), member('witness', c.probes[2])];
              i.read = { linearizable: c.linearizable, revision: 1, barrierError: c.linearizable ? null : 'timeout' };
            }),
          );
          const cs = codes(status);
          expect(status.state === 'failed').toBe(cs.includes('no-active-hub') || cs.includes('no-quorum'));
          expect(status.state === 'healthy').toBe(cs.length === 0);
          expect(cs.includes('paused')).toBe(c.paused);
          expect(cs.includes('hook-failed')).toBe(c.hook !== null);
          expect(cs.includes('member-unreachable')).toBe(c.probes.some((p) => !p.reachable));
          expect(cs.includes('no-active-hub')).toBe(!c.active);
          const reachable = c.probes.filter((p) => p.reachable).length;
          expect(cs.includes('no-quorum')).toBe(!c.linearizable && reachable < 2);
          if (c.active) {
            expect(cs.includes('report-stale')).toBe(c.hub2Age > DEFAULT_THRESHOLDS.reportMaxAgeMs);
            expect(cs.includes('standby-not-streaming')).toBe(c.hub2Role !== 'standby');
            expect(cs.includes('replication-lag')).toBe(c.hub2Role === 'standby' && c.lag > DEFAULT_THRESHOLDS.lagMaxBytes);
            expect(cs.includes('no-sync-standby')).toBe(c.syncStandby === null);
          }
          // The standby's eligibility is consistent with the reasons.
          const hub2 = status.members.find((m) => m.name === 'hub2')!;
          if (c.paused) expect(hub2.eligibility?.eligible).toBe(false);
          for (const r of status.reasons) expect(Date.parse(r.since)).toBeLessThanOrEqual(T0);
        },
      ),
    );
  });
});

describe('helpers', () => {
  it('formatDuration and formatBytes', () => {
    expect([850, 12_000, 184_000, 120_000, 7_500_000, 7_200_000].map(formatDuration)).toEqual(['850 ms', '12 s', '3 min 4 s', '2 min', '2 h 5 min', '2 h']);
    expect([512, 1536, 16 * 1024 * 1024, 3 * 1024 ** 3].map(formatBytes)).toEqual(['512 B', '1.5 KiB', '16.0 MiB', '3.0 GiB']);
  });

  it('reachability: unreachable from the first failed probe after the last answer', () => {
    let state = recordProbe(new Map(), 'hub2', { ok: true }, 1000);
    state = recordProbe(state, 'hub2', { ok: false, error: 'e1' }, 2000);
    state = recordProbe(state, 'hub2', { ok: false, error: 'e2' }, 3000);
    expect(state.get('hub2')).toEqual({ reachable: false, lastSeen: 1000, unreachableSince: 2000, error: 'e2', probedAt: 3000 });
    state = recordProbe(state, 'hub2', { ok: true }, 4000);
    expect(state.get('hub2')).toEqual({ reachable: true, lastSeen: 4000, unreachableSince: null, error: null, probedAt: 4000 });
    expect([...retainMembers(state, ['hub1']).keys()]).toEqual([]);
  });
});
