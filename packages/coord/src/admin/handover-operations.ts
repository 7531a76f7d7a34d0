import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { CoordClient } from '../client/client.js';
import type { HandoverReady, HandoverRequest, HistoryEntry, ReinitRequest } from '../records/records.js';
import {
  HANDOVER_LEASE,
  HANDOVER_READY_KEY,
  HANDOVER_REQUEST_KEY,
  encodeRecord,
  handoverReadySchema,
  handoverLeaseHolder,
  handoverRequestSchema,
  parseRecord,
  reinitKey,
  reinitRequestSchema,
} from '../records/records.js';
import { lsnBytesBetween } from '../status/lsn.js';
import type { ClusterStatus, MemberStatus } from '../status/model.js';
import type { RecordsRead } from './admin-service.js';
import { AdminRefusal } from './admin-service.js';
import { checkOperator } from './operator-input.js';

/**
 * Switchover, manual failover and reinit as the admin API runs them. The admin service only asks
 * (a request record in the store) and watches the outcome; the hubs' agents do the work — the
 * witness has no PostgreSQL, and only the hubs can stop, check and promote theirs. A handover
 * request lives under a lease that is never renewed, so it ends by itself after its window even
 * when the admin member, the old primary or the target dies half-way.
 */

/** How long a handover may take once it starts, before its reservation ends by itself. */
export const HANDOVER_WINDOW_MS = 30_000;
/** A switchover may be scheduled this far ahead at most (the request's lease must cover it). */
export const MAX_SCHEDULE_AHEAD_MS = 55 * 60_000;
/** A target further behind than this would keep writes stopped too long: refused. */
export const SWITCHOVER_MAX_LAG_BYTES = 64 * 1024 * 1024;
/** How long Reinit waits for the hub to pick the request up before answering. */
const REINIT_PICKUP_WAIT_MS = 10_000;
/** The outcome is re-read at least this often while waiting (an applied entry also wakes it). */
const WAIT_POLL_MS = 100;

export interface HandoverHost {
  readonly id: string;
  readonly logger: Logger;
  status(options: { readonly serializable?: boolean }): Promise<ClusterStatus>;
  readRecords(serializable: boolean): Promise<RecordsRead>;
  /** This member's applied value of a key (no barrier), for cheap polling while waiting. */
  localValue(key: string): Uint8Array | null;
  /** The store revision this member has applied (a write acknowledged by the leader may not be here yet). */
  localRevision(): number;
  onApplied(listener: () => void): () => void;
  storeClient(): Promise<CoordClient>;
  wallClock(): number;
}

export interface SwitchoverInput {
  readonly target: string;
  readonly at: string;
  readonly dryRun: boolean;
  readonly reason: string;
  readonly by: string;
}

export interface SwitchoverOutcome {
  readonly from: string;
  readonly to: string;
  readonly epoch: number;
  readonly finalLsn: string | null;
  readonly durationS: number;
  readonly steps: readonly string[];
  readonly dryRun: boolean;
  readonly scheduledAt: string | null;
}

export interface FailoverInput {
  readonly target: string;
  readonly force: boolean;
  readonly dryRun: boolean;
  readonly reason: string;
  readonly by: string;
}

export interface FailoverOutcome {
  readonly from: string | null;
  readonly to: string;
  readonly epoch: number;
  readonly dataLossBytes: number | null;
  readonly warnings: readonly string[];
  readonly steps: readonly string[];
  readonly dryRun: boolean;
}

export interface ReinitOutcome {
  readonly member: string;
  readonly started: boolean;
  readonly message: string;
}

const refuse = (code: string, message: string): AdminRefusal => new AdminRefusal('failed-precondition', code, message);
const invalid = (code: string, message: string): AdminRefusal => new AdminRefusal('invalid-argument', code, message);

function checkName(value: string, field: string): string {
  if (value.length > 255 || /[\u0000-\u001f\s]/.test(value)) throw invalid(`invalid-${field}`, `${field} must be a member name (no spaces or control characters, at most 255 characters)`);
  return value;
}

function hubs(status: ClusterStatus): MemberStatus[] {
  return status.members.filter((m) => m.kind === 'hub');
}

function requireQuorum(status: ClusterStatus): void {
  if (!status.linearizable) throw refuse('no-quorum', `the store cannot confirm its state (${status.readError ?? 'no read barrier'}): nothing done`);
}

/** Why `m` cannot be switched over to now; empty when it can. */
export function switchoverBlockers(m: MemberStatus, status: ClusterStatus): string[] {
  const out: string[] = [];
  const active = status.activeHub?.name ?? '';
  if (m.report === null) return [`${m.name} has never reported (is its sidecar running?)`];
  if (m.report.stale) out.push(`${m.name}'s last report is ${Math.round(m.report.ageMs / 1000)} s old (its sidecar must act)`);
  if (m.tags?.nofailover === true) out.push(`${m.name} is tagged nofailover`);
  const pg = m.postgres;
  if (pg === null || !pg.up) out.push(`PostgreSQL on ${m.name} is not running`);
  else if (pg.inRecovery !== true) out.push(`PostgreSQL on ${m.name} is not a standby`);
  else if (pg.replicationState !== 'streaming') out.push(`${m.name} is not streaming from ${active} (${pg.replicationState ?? 'not connected'})`);
  else if (pg.lagBytes !== null && pg.lagBytes > SWITCHOVER_MAX_LAG_BYTES) out.push(`${m.name} is ${pg.lagBytes} bytes behind (at most ${SWITCHOVER_MAX_LAG_BYTES} for a switchover)`);
  return out;
}

/** The best switchover target: the synchronous standby, else the least lagging, then priority. */
function pickTarget(candidates: readonly MemberStatus[], status: ClusterStatus): MemberStatus | undefined {
  const sync = status.synchronous.standby;
  return [...candidates].sort((a, b) => {
    if ((a.name === sync) !== (b.name === sync)) return a.name === sync ? -1 : 1;
    const lag = (a.postgres?.lagBytes ?? Number.MAX_SAFE_INTEGER) - (b.postgres?.lagBytes ?? Number.MAX_SAFE_INTEGER);
    if (lag !== 0) return lag;
    return (b.tags?.priority ?? 0) - (a.tags?.priority ?? 0);
  })[0];
}

export class HandoverOperations {
  constructor(private readonly host: HandoverHost) {}

  // ---------------------------------------------------------------- switchover

  async switchover(input: SwitchoverInput): Promise<SwitchoverOutcome> {
    checkOperator(input.reason, input.by);
    if (input.target !== '') checkName(input.target, 'target');
    const now = this.host.wallClock();
    let atMs = now;
    if (input.at !== '') {
      atMs = Date.parse(input.at);
      if (!/^\d{4}-\d\d-\d\dT/.test(input.at) || Number.isNaN(atMs)) throw invalid('invalid-at', `at must be an RFC 3339 time (e.g. 2026-11-26T22:00:00Z), not ${JSON.stringify(input.at)}`);
      if (atMs - now > MAX_SCHEDULE_AHEAD_MS) throw invalid('at-too-far', `a switchover can be scheduled at most ${MAX_SCHEDULE_AHEAD_MS / 60_000} minutes ahead`);
      atMs = Math.max(atMs, now);
    }
    const status = await this.host.status({});
    requireQuorum(status);
    const active = status.activeHub;
    if (active === null || status.lease === null || status.lease.holder !== active.name || status.lease.epoch !== active.epoch) {
      throw refuse('no-active-hub', 'there is no active hub to switch over from (use `hubha failover --to HUB` when the active hub is gone)');
    }
    if (input.dryRun) await this.refuseIfBusy(); // a real request learns it from the lease grant
    const others = hubs(status).filter((m) => m.name !== active.name);
    let target: MemberStatus | undefined;
    if (input.target !== '') {
      if (input.target === active.name) throw refuse('target-is-active', `${active.name} is already the active hub`);
      target = others.find((m) => m.name === input.target);
      if (target === undefined) throw refuse('unknown-member', `${input.target} is not a hub of this cluster (hubs: ${others.map((m) => m.name).join(', ') || 'none besides the active one'})`);
      const blockers = switchoverBlockers(target, status);
      if (blockers.length > 0) throw refuse('target-not-ready', `cannot switch over to ${target.name}: ${blockers.join('; ')}`);
    } else {
      target = pickTarget(others.filter((m) => switchoverBlockers(m, status).length === 0), status);
      if (target === undefined) {
        const why = others.map((m) => `${m.name}: ${switchoverBlockers(m, status).join('; ')}`).join(' | ');
        throw refuse('no-candidate', `no standby can take over now${why === '' ? ' (there is no other hub)' : `: ${why}`}`);
      }
    }
    const scheduled = atMs - now > 1000;
    const steps = [
      ...(scheduled ? [`wait until ${new Date(atMs).toISOString()}`] : []),
      `${active.name}: check that ${target.name} is streaming, drop the VIP, stop PostgreSQL cleanly (fast shutdown: clients disconnected, shutdown checkpoint sent to ${target.name})`,
      `${active.name}: record where its WAL ends (the shutdown checkpoint) and release the active-hub lease (epoch ${active.epoch})`,
      `${target.name}: replay past that point (checked), take the lease (epoch ${active.epoch + 1}), record the switchover, promote, take the VIP, publish its address`,
      `${active.name}: follow ${target.name} as a standby (no pg_rewind needed after a clean shutdown)`,
    ];
    const base = { from: active.name, to: target.name, finalLsn: null, steps };
    if (input.dryRun) return { ...base, epoch: active.epoch + 1, durationS: 0, dryRun: true, scheduledAt: scheduled ? new Date(atMs).toISOString() : null };

    const started = performance.now();
    const windowMs = atMs - now + HANDOVER_WINDOW_MS;
    const request = await this.ask({ kind: 'switchover', from: active.name, fromEpoch: active.epoch, to: target.name, at: new Date(atMs).toISOString(), force: false, dataLossBytes: 0 }, input, windowMs);
    this.host.logger.warn({ id: request.id, from: active.name, to: target.name, at: request.at, by: request.by }, scheduled ? 'switchover scheduled' : 'switchover requested');
    if (scheduled) return { ...base, epoch: 0, durationS: 0, dryRun: false, scheduledAt: request.at };
    const outcome = await this.waitForOutcome(request, windowMs + 2000);
    const durationS = (performance.now() - started) / 1000;
    if (outcome.entry === null || outcome.entry.to !== target.name || outcome.entry.kind !== 'switchover') {
      throw refuse('switchover-failed', `the switchover to ${target.name} did not complete: ${outcome.why}`);
    }
    this.host.logger.warn({ id: request.id, from: active.name, to: target.name, epoch: outcome.entry.epoch, durationS }, 'switchover done');
    return { ...base, finalLsn: outcome.ready?.shutdownCheckpointLsn ?? null, epoch: outcome.entry.epoch, durationS, dryRun: false, scheduledAt: null };
  }

  // ---------------------------------------------------------------- manual failover

  async failover(input: FailoverInput): Promise<FailoverOutcome> {
    checkOperator(input.reason, input.by);
    if (input.target === '') throw invalid('target-required', 'a manual failover needs its target (--to HUB)');
    checkName(input.target, 'target');
    const status = await this.host.status({});
    requireQuorum(status);
    if (status.lease !== null) {
      throw refuse('active-hub-alive', `${status.lease.holder} holds the active-hub lease (epoch ${status.lease.epoch}): use \`hubha switchover --to ${input.target}\` for a planned handover without data loss`);
    }
    if (input.dryRun) await this.refuseIfBusy(); // a real request learns it from the lease grant
    const target = hubs(status).find((m) => m.name === input.target);
    if (target === undefined) throw refuse('unknown-member', `${input.target} is not a hub of this cluster`);
    if (target.report === null || target.report.stale) throw refuse('target-not-reporting', `${target.name}'s sidecar is not reporting; it must do the promotion itself`);
    if (target.postgres === null || !target.postgres.up || target.postgres.inRecovery !== true) throw refuse('target-not-standby', `PostgreSQL on ${target.name} is not a running standby`);
    const blocking = (target.eligibility?.reasons ?? []).filter((r) => r.code !== 'paused' && r.code !== 'better-candidate');
    const warnings: string[] = [];
    if (blocking.length > 0 && !input.force) {
      throw refuse('not-eligible', `${target.name} may not take over by the rules: ${blocking.map((r) => `${r.code}: ${r.message}`).join('; ')} (force overrides, and may lose acknowledged commits)`);
    }
    for (const r of blocking) warnings.push(`FORCED past ${r.code}: ${r.message}`);
    const last = status.lastPromotion;
    const from = last?.to ?? null;
    const sync = status.synchronous;
    const syncSafe = sync.mode !== 'off' && sync.record !== null && sync.record.standby === target.name;
    // Without the synchronous guarantee no upper bound is known (the old primary may have committed
    // after its last report): null, with the last known gap as a warning.
    const dataLossBytes: number | null = syncSafe ? 0 : null;
    if (!syncSafe) {
      const primary = status.members.find((m) => m.name === from);
      const between = lsnBytesBetween(primary?.postgres?.lsn ?? null, target.postgres.lsn);
      const gap = between === null ? null : between < 0n ? 0 : Number(between);
      warnings.push(
        gap === null
          ? `${target.name} is not known to hold every acknowledged commit; what it misses is unknown`
          : `${target.name} was ${gap} bytes behind ${from}'s last report (${primary?.report?.at ?? 'unknown time'}); commits after that report may be lost too`,
      );
    }
    if (status.paused !== null) warnings.push('the cluster is paused: this failover is done anyway (it is the operator asking)');
    const steps = [
      `${target.name}: take the free active-hub lease (epoch ${(last?.epoch ?? 0) + 1})`,
      `${target.name}: record a manual failover in the history${dataLossBytes === 0 ? '' : ' (data loss bound unknown)'}, promote PostgreSQL, take the VIP, publish its address`,
      ...(from !== null && from !== target.name ? [`${from}: when it returns, rejoin as a standby (pg_rewind, else re-clone)`] : []),
    ];
    if (input.dryRun) return { from, to: target.name, epoch: (last?.epoch ?? 0) + 1, dataLossBytes, warnings, steps, dryRun: true };
    const request = await this.ask({ kind: 'failover', from, fromEpoch: last?.epoch ?? 0, to: target.name, at: new Date(this.host.wallClock()).toISOString(), force: input.force, dataLossBytes }, input, HANDOVER_WINDOW_MS);
    this.host.logger.warn({ id: request.id, to: target.name, force: input.force, by: request.by, warnings }, 'manual failover requested');
    const outcome = await this.waitForOutcome(request, HANDOVER_WINDOW_MS + 2000);
    if (outcome.entry === null || outcome.entry.to !== target.name) throw refuse('failover-failed', `the manual failover to ${target.name} did not complete: ${outcome.why}`);
    return { from, to: target.name, epoch: outcome.entry.epoch, dataLossBytes: outcome.entry.dataLossBytes, warnings, steps, dryRun: false };
  }

  // ---------------------------------------------------------------- reinit

  async reinit(member: string, force: boolean, by: string): Promise<ReinitOutcome> {
    checkOperator('', by);
    if (member === '') throw invalid('member-required', 'reinit needs the member to re-clone');
    checkName(member, 'member');
    const status = await this.host.status({});
    requireQuorum(status);
    const hub = hubs(status).find((m) => m.name === member);
    if (hub === undefined) throw refuse('unknown-member', `${member} is not a hub of this cluster`);
    if (status.activeHub === null) throw refuse('no-active-hub', 'there is no active hub to clone from');
    if (status.activeHub.name === member || status.lease?.holder === member) throw refuse('member-is-active', `${member} is the active hub; switch over first`);
    if ((hub.report === null || hub.report.stale) && !force) throw refuse('report-stale', `${member}'s sidecar is not reporting, so it cannot re-clone itself now (force leaves the request for when it returns)`);
    const client = await this.host.storeClient();
    const session = client.session('admin-reinit');
    const key = reinitKey(member);
    const existing = await session.get(key);
    if (existing.kv !== null) {
      const parsed = parseRecord(reinitRequestSchema, key, existing.kv.value);
      if (parsed.ok && parsed.value.state !== 'failed' && !force) throw refuse('reinit-in-progress', `a reinit of ${member} is already ${parsed.value.state} (asked by ${parsed.value.by} at ${parsed.value.requestedAt})`);
    }
    const now = new Date(this.host.wallClock()).toISOString();
    const request: ReinitRequest = { id: randomUUID(), member, requestedAt: now, by: by === '' ? 'unknown' : by, state: 'requested', error: null, updatedAt: now };
    const put = await session.put(key, encodeRecord(request));
    this.host.logger.warn({ member, by: request.by, id: request.id }, 'reinit requested');
    const deadline = performance.now() + REINIT_PICKUP_WAIT_MS;
    // Until this member has applied the request, its absence here would read as "done".
    await this.appliedLocally(put.revision, deadline);
    while (performance.now() < deadline) {
      await this.changeOrTimeout(WAIT_POLL_MS);
      const bytes = this.host.localValue(key);
      if (bytes === null) return { member, started: true, message: `${member} re-cloned itself from ${status.activeHub.name}` };
      const parsed = parseRecord(reinitRequestSchema, key, bytes);
      if (!parsed.ok || parsed.value.id !== request.id) return { member, started: false, message: 'the request was replaced by another' };
      if (parsed.value.state === 'running') return { member, started: true, message: `${member} stopped PostgreSQL and is re-cloning from ${status.activeHub.name} (watch \`hubha status\`)` };
      if (parsed.value.state === 'failed') throw refuse('reinit-failed', `${member} could not re-clone: ${parsed.value.error ?? 'no reason given'}`);
    }
    return { member, started: false, message: `requested; ${member}'s sidecar has not picked it up within ${REINIT_PICKUP_WAIT_MS / 1000} s` };
  }

  // ---------------------------------------------------------------- shared

  private async refuseIfBusy(): Promise<void> {
    const client = await this.host.storeClient();
    const held = (await client.session('admin-handover').leaseList(HANDOVER_LEASE)).leases.find((l) => l.lease.name === HANDOVER_LEASE);
    if (held !== undefined) throw refuse('handover-in-progress', `a switchover or failover is already under way (${held.lease.holder}); wait for it or for its window to end`);
  }

  /** Grants the request's lease (its window) and writes the request attached to it. */
  private async ask(fields: Omit<HandoverRequest, 'id' | 'requestedAt' | 'by' | 'reason' | 'leaseEpoch'>, input: { reason: string; by: string }, windowMs: number): Promise<HandoverRequest & { readonly revision: number }> {
    const id = randomUUID();
    const session = (await this.host.storeClient()).session('admin-handover');
    const grant = await session.leaseGrant({ name: HANDOVER_LEASE, holder: handoverLeaseHolder(id), ttlMs: windowMs });
    if (!grant.granted) throw refuse('handover-in-progress', `a switchover or failover is already under way (${grant.lease?.holder ?? 'unknown'})`);
    const request: HandoverRequest = { ...fields, id, requestedAt: new Date(this.host.wallClock()).toISOString(), by: input.by === '' ? 'unknown' : input.by, reason: input.reason, leaseEpoch: grant.lease.epoch };
    const put = await session.put(HANDOVER_REQUEST_KEY, encodeRecord(request), { lease: { name: HANDOVER_LEASE, epoch: grant.lease.epoch } });
    return { ...request, revision: put.revision };
  }

  /**
   * Waits until a promotion after the request's epoch is in the history, the old primary refuses,
   * or the request's window ends. Then ends the reservation at once (it is no longer needed).
   */
  private async waitForOutcome(request: HandoverRequest & { readonly revision: number }, timeoutMs: number): Promise<{ entry: HistoryEntry | null; ready: HandoverReady | null; why: string }> {
    const deadline = performance.now() + timeoutMs;
    // The request was written through the leader; until this member has applied it, its absence
    // here says nothing (a follower learns of a commit with the next heartbeat).
    await this.appliedLocally(request.revision, deadline);
    let ready: HandoverReady | null = null;
    let result: { entry: HistoryEntry | null; ready: HandoverReady | null; why: string } | null = null;
    while (result === null) {
      await this.changeOrTimeout(WAIT_POLL_MS);
      const readyBytes = this.host.localValue(HANDOVER_READY_KEY);
      if (readyBytes !== null) {
        const parsed = parseRecord(handoverReadySchema, HANDOVER_READY_KEY, readyBytes);
        if (parsed.ok && parsed.value.id === request.id) ready = parsed.value;
      }
      const entry = await this.promotionAfter(request.fromEpoch);
      if (entry !== null) result = { entry, ready, why: entry.to === request.to ? 'done' : `${entry.to} was promoted instead (${entry.reason})` };
      else if (ready?.refused != null) result = { entry: null, ready, why: `${ready.from} refused: ${ready.refused}` };
      else if (!this.requestLive(request.id)) result = { entry: null, ready, why: `nothing happened within the request's window (${ready === null ? `${request.from ?? 'the old primary'} did not hand over` : `${request.to} did not take over`})` };
      else if (performance.now() > deadline) result = { entry: null, ready, why: 'timed out waiting' };
    }
    await this.endReservation(request);
    return result;
  }

  private requestLive(id: string): boolean {
    const bytes = this.host.localValue(HANDOVER_REQUEST_KEY);
    if (bytes === null) return false;
    const parsed = parseRecord(handoverRequestSchema, HANDOVER_REQUEST_KEY, bytes);
    return parsed.ok && parsed.value.id === id;
  }

  private async promotionAfter(epoch: number): Promise<HistoryEntry | null> {
    const read = await this.host.readRecords(true);
    const later = read.records.history.filter((h) => h.epoch > epoch).sort((a, b) => a.epoch - b.epoch);
    return later[0] ?? null;
  }

  private async endReservation(request: HandoverRequest): Promise<void> {
    const session = (await this.host.storeClient()).session('admin-handover');
    await session.leaseRelease({ name: HANDOVER_LEASE, holder: handoverLeaseHolder(request.id), epoch: request.leaseEpoch }).catch((err: unknown) => {
      this.host.logger.warn({ id: request.id, err: err instanceof Error ? err.message : String(err) }, 'could not end the handover reservation (it ends with its window)');
    });
  }

  /** Waits (bounded by the deadline) until this member has applied the store's revision. */
  private async appliedLocally(revision: number, deadline: number): Promise<void> {
    while (this.host.localRevision() < revision && performance.now() < deadline) await this.changeOrTimeout(WAIT_POLL_MS);
  }

  /** Resolves on the next applied entry or after `ms`, whichever comes first. */

  private changeOrTimeout(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const off = this.host.onApplied(done);
      function done(): void {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
  }
}
