import type { HistoryEntry, HubReport } from '../records/records.js';
import { evaluateEligibility } from './eligibility.js';
import { lsnBytesBetween } from './lsn.js';
import type { ClusterStatus, HaState, HandoverView, MemberStatus, PostgresStatus, ReasonCode, StandbyEligibility, StandbyIneligibleCode, StatusInput, StatusRecords } from './model.js';
import { FAILING_CODES, REASON_CODES } from './model.js';
import type { FoundReason } from './reason-tracker.js';
import { carryReasonStarts } from './reason-tracker.js';

/** "850 ms", "12 s", "3 min 4 s", "2 h 5 min". */
export function formatDuration(ms: number): string {
  const v = Math.max(0, Math.round(ms));
  if (v < 1000) return `${v} ms`;
  const s = Math.floor(v / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 ? `${m} min` : `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  return m % 60 === 0 ? `${h} h` : `${h} h ${m % 60} min`;
}

/** "512 B", "1.5 KiB", "16.0 MiB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function isoOf(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * The cluster's status from everything one member knows at `now`: every member with its Raft
 * state, reachability and PostgreSQL as its hub reports it; the active hub; each standby's
 * eligibility to take over, with every reason it may not; and the HA state with every reason it
 * is not healthy, each with the time it started (see reason-tracker.ts). Pure.
 */
export function computeClusterStatus(input: StatusInput): ClusterStatus {
  const { now, records, raft, thresholds } = input;
  const found: FoundReason<ReasonCode>[] = [];
  const add = (code: ReasonCode, member: string | null, message: string, startedAt?: number, discriminator?: string): void => {
    found.push({ code, member, message, startedAt, discriminator });
  };

  const reports = new Map<string, HubReport>();
  for (const report of records.reports) reports.set(report.name, report);
  const ageOf = (report: HubReport): number => {
    const at = Date.parse(report.at);
    return Number.isFinite(at) ? Math.max(0, now - at) : Number.POSITIVE_INFINITY;
  };
  const isFresh = (report: HubReport | undefined): boolean => report !== undefined && ageOf(report) <= thresholds.reportMaxAgeMs;
  const staleNote = (report: HubReport): string => (isFresh(report) ? '' : ` (from its last report, ${formatDuration(ageOf(report))} old)`);

  const active = records.active;
  const activeReport = active === null ? undefined : reports.get(active.name);
  const paused = records.paused !== null && records.paused.paused ? records.paused : null;
  const lastPromotion = records.history.reduce<(typeof records.history)[number] | null>((best, e) => (best === null || e.epoch > best.epoch ? e : best), null);

  // ------------------------------------------------------------------ Raft: leader and quorum
  const raftMembers = new Map(raft.members.map((m) => [m.name, m]));
  const voters = raft.members.filter((m) => m.role === 'voter');
  const reachableVoters = voters.filter((m) => m.probe?.reachable === true).length;
  const majority = Math.floor(voters.length / 2) + 1;
  const quorum = voters.length > 0 && (input.read.linearizable || reachableVoters >= majority);
  let leader = raft.leader;
  if (leader === null) {
    for (const m of raft.members) if (m.probe?.reachable === true && m.probe.leader !== '') leader = m.probe.leader;
  }
  if (!quorum) {
    const barrier = input.read.barrierError === null ? '' : `; the read barrier failed (${input.read.barrierError})`;
    add('no-quorum', null, `only ${reachableVoters} of ${voters.length} voting members answer ${raft.servedBy} (a majority is ${majority})${barrier}: the store can grant no lease and record nothing, so no failover is possible`);
  }
  if (leader === null) add('no-leader', null, `no Raft leader is known (term ${raft.term}): an election is going on, or too few members can talk to each other`);

  // ------------------------------------------------------------------ the active hub
  if (active === null) {
    const lease = records.lease;
    let message: string;
    if (lease !== null) message = `${lease.holder} holds the active-hub lease (epoch ${lease.epoch}) but has not published itself as the active hub yet`;
    else {
      message = 'no hub holds the active-hub lease: there is no writable PostgreSQL';
      if (paused !== null) message += '; the cluster is paused, so no hub takes over automatically';
      if (lastPromotion !== null) message += `; the last active hub was ${lastPromotion.to} (epoch ${lastPromotion.epoch})`;
    }
    add('no-active-hub', null, message);
  } else if (activeReport !== undefined && isFresh(activeReport)) {
    const pg = activeReport.postgres;
    if (!pg.up) add('primary-not-writable', active.name, `PostgreSQL on ${active.name}, the active hub, is not running`);
    else if (pg.inRecovery !== false) add('primary-not-writable', active.name, `PostgreSQL on ${active.name}, the active hub, is in recovery (read-only)`);
    else if (activeReport.role !== 'primary') add('primary-not-writable', active.name, `${active.name} is the active hub but its sidecar reports the role ${activeReport.role}, not primary`);
  }

  // A writable PostgreSQL anywhere else.
  for (const report of records.reports) {
    if (report.name === active?.name || report.name === records.lease?.holder || !isFresh(report)) continue;
    if (report.postgres.up && report.postgres.inRecovery === false) {
      add('unexpected-primary', report.name, `PostgreSQL on ${report.name} is writable (not in recovery) but ${report.name} is not the active hub: its sidecar must fence it`);
    }
  }

  // ------------------------------------------------------------------ members: reachability, reports
  const names = new Set<string>([...raft.members.map((m) => m.name), ...reports.keys()]);
  const kindOf = (name: string): 'hub' | 'witness' => (reports.has(name) ? 'hub' : (raftMembers.get(name)?.kind ?? 'witness'));
  for (const m of raft.members) {
    if (m.probe === null || m.probe.reachable) continue;
    const since = m.probe.unreachableSince;
    const seen = m.probe.lastSeen === null ? ` (not once since ${raft.servedBy} started)` : '';
    add('member-unreachable', m.name, `${m.name} has not answered ${raft.servedBy} for ${formatDuration(now - since)}${seen}: ${m.probe.error}`, since);
  }
  for (const name of names) {
    if (kindOf(name) !== 'hub') continue;
    const report = reports.get(name);
    if (report === undefined) add('report-stale', name, `${name} has never reported (no hubha/reports/${name}): its sidecar is not running or cannot reach the store`);
    else if (!isFresh(report)) {
      const at = Date.parse(report.at);
      add('report-stale', name, `${name} has not reported for ${formatDuration(ageOf(report))} (last report at ${report.at}; the limit is ${formatDuration(thresholds.reportMaxAgeMs)})`, Number.isFinite(at) ? at + thresholds.reportMaxAgeMs : undefined);
    }
  }

  // ------------------------------------------------------------------ replication
  const syncMode = thresholds.synchronous ?? (records.sync !== null ? 'on' : 'off');
  const syncRecord = records.sync;
  const syncCurrent = active !== null && syncRecord !== null && syncRecord.primary === active.name && syncRecord.epoch === active.epoch;
  const syncStandby = syncCurrent ? syncRecord.standby : null;
  const hubNames = [...names].filter((n) => kindOf(n) === 'hub').sort();

  const replicationOf = (name: string): HubReport['standbys'][number] | undefined => (activeReport === undefined || name === active?.name ? undefined : activeReport.standbys.find((s) => s.name === name));

  if (active !== null) {
    for (const name of hubNames) {
      if (name === active.name) continue;
      const own = reports.get(name);
      const entry = isFresh(activeReport) ? replicationOf(name) : undefined;
      let streaming: boolean;
      let detail: string;
      if (isFresh(activeReport)) {
        streaming = entry?.state === 'streaming';
        detail = entry === undefined ? `it is not in ${active.name}'s pg_stat_replication` : `its replication state on ${active.name} is ${entry.state}`;
      } else if (own !== undefined && isFresh(own)) {
        streaming = own.role === 'standby' && own.postgres.streaming;
        detail = `its own report says ${own.postgres.up ? (own.postgres.inRecovery === true ? 'it does not receive WAL' : 'its PostgreSQL is not a standby') : 'its PostgreSQL is down'}`;
      } else {
        streaming = false;
        detail = `neither ${active.name}'s nor ${name}'s report is current`;
      }
      if (!streaming) {
        let extra = '';
        if (own === undefined) extra = `; ${name} has never reported`;
        else if (!isFresh(own)) extra = `; ${name}'s last report is ${formatDuration(ageOf(own))} old`;
        else if (!own.postgres.up) extra = `; PostgreSQL on ${name} is down`;
        add('standby-not-streaming', name, `${name} is not streaming from ${active.name}: ${detail}${extra}`);
      } else if (entry !== undefined) {
        const bytes = entry.lagBytes;
        const seconds = entry.replayLagMs === null ? null : entry.replayLagMs / 1000;
        const overBytes = bytes !== null && bytes > thresholds.lagMaxBytes;
        const overSeconds = seconds !== null && seconds > thresholds.lagMaxSeconds;
        if (overBytes || overSeconds) {
          add('replication-lag', name, `${name} is ${bytes === null ? 'an unknown number of bytes' : formatBytes(bytes)} (${seconds === null ? 'unknown time' : `${seconds.toFixed(1)} s`} of replay) behind ${active.name}; the limits are ${formatBytes(thresholds.lagMaxBytes)} and ${thresholds.lagMaxSeconds} s`);
        }
      }
    }

    if (syncMode !== 'off') {
      if (syncRecord === null) add('no-sync-standby', null, `synchronous mode, but no synchronous standby is recorded (no hubha/sync-standby): no standby may take over automatically`);
      else if (!syncCurrent) {
        add('no-sync-standby', null, `the synchronous standby record is ${syncRecord.primary}'s at epoch ${syncRecord.epoch} (standby ${syncRecord.standby ?? 'none'}), not the active hub's (${active.name} at epoch ${active.epoch}): no standby is synchronous with ${active.name} yet`);
      } else if (syncRecord.standby === null) {
        const at = Date.parse(syncRecord.at);
        add('no-sync-standby', null, `no synchronous standby: ${active.name} commits without waiting for a standby, and no standby may take over automatically`, Number.isFinite(at) ? at : undefined);
      }
    }

    // Timelines: the other hubs must be on the primary's timeline (and database system).
    const primaryPg = activeReport?.postgres;
    if (primaryPg !== undefined && primaryPg.timeline !== null) {
      for (const name of hubNames) {
        const own = reports.get(name);
        if (name === active.name || own === undefined || !own.postgres.up || own.postgres.timeline === null) continue;
        if (own.postgres.systemId !== null && primaryPg.systemId !== null && own.postgres.systemId !== primaryPg.systemId) {
          add('timeline-mismatch', name, `${name} runs another database system (system id ${own.postgres.systemId}, ${active.name}'s is ${primaryPg.systemId})${staleNote(own)}: it must be re-cloned`, undefined, 'system');
        } else if (own.postgres.timeline !== primaryPg.timeline) {
          add('timeline-mismatch', name, `${name} is on timeline ${own.postgres.timeline}, ${active.name} on timeline ${primaryPg.timeline}${staleNote(own)}: it has not rejoined as a standby of ${active.name} yet`);
        }
      }
    }

    // The VIP: on the active hub, and only there (fresh reports only: a dead hub's last word is not evidence).
    if (active.vip !== null) {
      const holders = records.reports.filter((r) => isFresh(r) && r.vipHeld === true).map((r) => r.name);
      if (holders.length > 1) add('vip-held-twice', null, `the VIP ${active.vip} is on ${holders.join(' and ')}: only ${active.name}, the active hub, may hold it`);
      if (activeReport !== undefined && isFresh(activeReport) && activeReport.vipHeld === false) {
        const elsewhere = holders.filter((h) => h !== active.name);
        add('vip-not-held', active.name, `the VIP ${active.vip} is not on ${active.name}, the active hub${elsewhere.length > 0 ? ` (it is on ${elsewhere.join(', ')})` : ''}`);
      }
    }
  }

  // ------------------------------------------------------------------ hooks, pause, records
  for (const report of records.reports) {
    if (report.lastHookFailure !== null) add('hook-failed', report.name, `the last hook on ${report.name} failed: ${report.lastHookFailure}`);
  }
  if (paused !== null) {
    const at = Date.parse(paused.at);
    add('paused', null, `the cluster is paused by ${paused.by}${paused.reason === '' ? '' : ` (${paused.reason})`}: no automatic failover until it is resumed`, Number.isFinite(at) ? at : undefined);
  }
  records.problems.forEach((problem, i) => add('invalid-record', null, `invalid record in the store (ignored): ${problem}`, undefined, `${i}:${problem.slice(0, problem.indexOf(':'))}`));

  // ------------------------------------------------------------------ members
  const formerPrimary = active?.name ?? lastPromotion?.to ?? syncRecord?.primary ?? null;
  const eligibilityOf = (name: string): StandbyEligibility => {
    const report = reports.get(name);
    const reasons: { code: StandbyIneligibleCode; message: string }[] = [];
    if (!quorum) reasons.push({ code: 'no-quorum', message: 'the store has no quorum: it cannot grant the active-hub lease' });
    if (report === undefined) {
      reasons.push({ code: 'no-report', message: 'it has never reported: its sidecar is not running or cannot reach the store' });
      return { eligible: false, reasons };
    }
    if (!isFresh(report)) reasons.push({ code: 'report-stale', message: `its last report is ${formatDuration(ageOf(report))} old: its sidecar is down or cut off (the reasons below are from that report)` });
    const primaryReport = formerPrimary === null ? null : (reports.get(formerPrimary) ?? null);
    const evaluated = evaluateEligibility({
      self: name,
      synchronous: syncMode,
      maximumLagOnFailoverBytes: thresholds.maximumLagOnFailoverBytes,
      nofailover: report.tags.nofailover,
      priority: report.tags.priority,
      paused: paused !== null,
      postgresUp: report.postgres.up,
      inRecovery: report.postgres.inRecovery,
      receivedLsn: report.postgres.lsn,
      syncRecord,
      primaryReport,
      otherStandbys: records.reports.filter((r) => r.name !== name && r.name !== formerPrimary),
    });
    reasons.push(...evaluated.reasons);
    return { eligible: reasons.length === 0, reasons };
  };

  const members: MemberStatus[] = [...names].sort().map((name) => {
    const view = raftMembers.get(name);
    const probe = view?.probe ?? null;
    const report = reports.get(name);
    const kind = kindOf(name);
    const isActive = active?.name === name;
    let postgres: PostgresStatus | null = null;
    if (report !== undefined) {
      const entry = replicationOf(name);
      let lagBytes = entry?.lagBytes ?? null;
      if (entry === undefined && !isActive && report.role === 'standby' && activeReport !== undefined) {
        const diff = lsnBytesBetween(activeReport.postgres.lsn, report.postgres.lsn);
        if (diff !== null) lagBytes = Number(diff < 0n ? 0n : diff);
      }
      postgres = {
        role: report.role,
        up: report.postgres.up,
        inRecovery: report.postgres.inRecovery,
        timeline: report.postgres.timeline,
        systemId: report.postgres.systemId,
        lsn: report.postgres.lsn,
        replayLsn: report.postgres.replayLsn,
        streaming: report.postgres.streaming,
        address: report.postgres.address,
        replicationState: entry?.state ?? null,
        syncState: entry?.syncState ?? null,
        lagBytes,
        lagSeconds: entry?.replayLagMs === null || entry?.replayLagMs === undefined ? null : entry.replayLagMs / 1000,
      };
    }
    return {
      name,
      kind,
      active: isActive,
      raft: {
        role: view?.role ?? null,
        state: probe?.reachable === true ? probe.state : 'unknown',
        commitIndex: probe?.reachable === true ? probe.commitIndex : null,
        appliedIndex: probe?.reachable === true ? probe.appliedIndex : null,
        peerAddress: view?.peerAddress ?? null,
        clientAddress: view?.clientAddress ?? null,
      },
      reachable: probe?.reachable === true,
      unreachableSince: probe !== null && !probe.reachable ? isoOf(probe.unreachableSince) : null,
      lastError: probe !== null && !probe.reachable ? probe.error : null,
      postgres,
      report: report === undefined ? null : { at: report.at, ageMs: Number.isFinite(ageOf(report)) ? Math.round(ageOf(report)) : -1, seq: report.seq, stale: !isFresh(report) },
      tags: report === undefined ? null : { nofailover: report.tags.nofailover, priority: report.tags.priority },
      vipHeld: report?.vipHeld ?? null,
      lastHookFailure: report?.lastHookFailure ?? null,
      eligibility: kind === 'hub' && !isActive ? eligibilityOf(name) : null,
    };
  });

  // ------------------------------------------------------------------ the verdict
  const order = new Map<string, number>(REASON_CODES.map((c, i) => [c, i]));
  found.sort((a, b) => (order.get(a.code) ?? 99) - (order.get(b.code) ?? 99) || (a.member ?? '').localeCompare(b.member ?? ''));
  const reasons = carryReasonStarts(input.previousReasons ?? [], found, now);
  const state: HaState = reasons.some((r) => FAILING_CODES.has(r.code)) ? 'failed' : reasons.length > 0 ? 'degraded' : 'healthy';

  return {
    at: isoOf(now),
    servedBy: raft.servedBy,
    revision: input.read.revision,
    linearizable: input.read.linearizable,
    readError: input.read.barrierError,
    state,
    reasons,
    activeHub: active,
    lease: records.lease,
    synchronous: { mode: syncMode, inferred: thresholds.synchronous === null, standby: syncStandby, record: syncRecord },
    paused,
    raft: { leader, term: raft.term, quorum, voters: voters.length, reachableVoters },
    members,
    lastPromotion,
    handover: handoverView(records, lastPromotion, now),
    thresholds,
    problems: records.problems,
  };
}

/** The live request, unless the promotion it asked for is already in the history. */
function handoverView(records: StatusRecords, lastPromotion: HistoryEntry | null, now: number): HandoverView | null {
  const h = records.handover ?? null;
  if (h === null || (lastPromotion !== null && lastPromotion.epoch > h.fromEpoch)) return null;
  return { kind: h.kind, from: h.from, to: h.to, at: h.at, requestedAt: h.requestedAt, by: h.by, reason: h.reason, force: h.force, scheduled: Date.parse(h.at) > now };
}
