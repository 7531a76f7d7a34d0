import { childLogger } from '@hubha/raft';
import { readdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { ActiveHub, CoordClient, CoordSession, CoordWatch, HandoverReady, HandoverRequest, HistoryEntry, HubReport, LeaseKeeper, ReinitRequest, Rejoin, SyncStandby } from '@hubha/coord';
import { ACTIVE_HUB_KEY, ACTIVE_HUB_LEASE, HANDOVER_LEASE, handoverLeaseHolder, HANDOVER_PREFIX, HANDOVER_READY_KEY, REINIT_PREFIX, SYNC_STANDBY_KEY, encodeRecord, historyKey, reinitKey, rejoinKey, reportKey } from '@hubha/coord';
import type { PostgresInstance } from '../postgres/instance.js';
import type { PgSnapshot, PrimarySnapshot } from '../postgres/observe.js';
import { reportDue, reportShape } from './report-schedule.js';
import type { ControlData } from '../postgres/controldata.js';
import { isCleanShutdown } from '../postgres/controldata.js';
import { formatLsn, parseLsn } from '../postgres/lsn.js';
import { evaluateEligibility } from './eligibility.js';
import type { Eligibility } from './eligibility.js';
import { fencedPut, fencedPuts } from './fenced-write.js';
import { handoverPart, replayedPast } from './handover.js';
import type { HandoverPart } from './handover.js';
import { HookRunner } from './hooks.js';
import type { HubSettings } from './settings.js';
import { slotName } from './settings.js';
import { readStoreView } from './store-view.js';
import { Watchdog } from './watchdog.js';
import { UNSAFE_DISABLE_FENCING_ENV, selfFencingDisabled } from './unsafe-testing.js';
import type { StoreView } from './store-view.js';

/** The agent's own role, as it acts (PostgreSQL's state is observed separately). */
export type AgentRole = 'starting' | 'standby' | 'promoting' | 'primary' | 'handing-over' | 'demoting' | 'fenced';

/** Controls the virtual IP (the VIP package's manager, or nothing when no VIP is configured). */
export interface VipControl {
  /** Makes the address present (true) or absent (false); idempotent; errors are reported in the result. */
  reconcile(desired: boolean): Promise<{ held: boolean; error: string | null }>;
  /** Removes the address now, before anything else (the demotion path). */
  release(): Promise<void>;
}

/** The local Raft member, to keep Raft leadership off the active hub. */
export interface RaftPlacement {
  isLeader(): boolean;
  /** Hands leadership to another healthy voter (the witness or the standby). */
  transferAway(): Promise<boolean>;
}

export interface HubAgentOptions {
  readonly settings: HubSettings;
  readonly client: CoordClient;
  readonly postgres: PostgresInstance;
  readonly vip: VipControl | null;
  readonly raft: RaftPlacement | null;
  readonly logger: Logger;
  /** Writes the active-hub record for local consumers (atomic file), when configured. */
  readonly publishLocal?: (record: ActiveHub | null) => Promise<void>;
}

export interface AgentStatus {
  readonly role: AgentRole;
  readonly epoch: number | null;
  readonly eligibility: Eligibility | null;
  readonly lastError: string | null;
  readonly vipHeld: boolean | null;
}

/** Time for a store read in the loop; a slower answer counts as "store not readable". */
const STORE_READ_TIMEOUT_MS = 1500;
/** Raft leadership is moved off the active hub at most this often. */
const LEADERSHIP_MOVE_INTERVAL_MS = 3000;
/** A standby streaming from the wrong primary for this many loops is re-pointed. */
const WRONG_SOURCE_LOOPS = 3;
/** The switchover target checks its replay this often while the old primary is stopped. */
const HANDOVER_POLL_MS = 20;
/**
 * A switchover's old primary takes its own lease back (and starts PostgreSQL as the primary
 * again) when the target has not taken the lease this long after the handover was ready.
 */
const HANDOVER_TAKEOVER_WAIT_MS = 5000;
/** The clean (fast) shutdown of a switchover gets this long before the hub fences instead. */
const HANDOVER_STOP_TIMEOUT_MS = 10_000;
/** The store watch that wakes the loop at once on a handover, reinit or active-hub change. */
const WAKE_PREFIXES = [HANDOVER_PREFIX, REINIT_PREFIX, ACTIVE_HUB_KEY] as const;
const WATCH_RETRY_MS = 1000;
/** What a promotion is for: the history entry it writes and whether the sync record is checked. */
interface PromotionKind {
  readonly kind: HistoryEntry['kind'];
  readonly reason: string;
  /** Skip the "am I the recorded synchronous standby" check (a switchover checks the LSN instead; a forced failover overrides). */
  readonly skipSyncCheck: boolean;
  readonly dataLossBytes?: number | null;
}

/**
 * The failover loop of one hub, on the store's `active-hub` lease. A standby takes the lease only
 * when it is free and the standby is eligible, then promotes PostgreSQL, claims the VIP and
 * publishes the active-hub record; the active hub renews the lease and fences itself (VIP first,
 * then PostgreSQL) before its own lease validity ends. Every store write that must not outlive the
 * lease is fenced by its epoch.
 */
export class HubAgent {
  private readonly settings: HubSettings;
  private readonly session: CoordSession;
  /** Reports only: a report stuck on a silent leader never delays the agent's fenced writes. */
  private readonly reportSession: CoordSession;
  private readonly pg: PostgresInstance;
  private readonly logger: Logger;
  private readonly hooks: HookRunner;
  private readonly watchdog: Watchdog;
  private role: AgentRole = 'starting';
  private epoch: number | null = null;
  private keeper: LeaseKeeper | null = null;
  private fenceTimer: NodeJS.Timeout | null = null;
  private loopTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private ticking = false;
  private demoting: Promise<void> | null = null;
  private lastReportAt = 0;
  private reportSeq = 0;
  private reportInFlight = false;
  private reportedShape: string | null = null;
  private lastLeadershipMove = 0;
  private wrongSourceLoops = 0;
  private notStreamingSince: number | null = null;
  private waitingToFollowLogged = false;
  private lastEligibility: Eligibility | null = null;
  private lastError: string | null = null;
  private vipHeld: boolean | null = null;
  private lastSnapshot: PgSnapshot | null = null;
  /** performance.now() when lastSnapshot was taken (the store read that follows may take a while). */
  private lastSnapshotAt = 0;
  private lastStoreView: StoreView | null = null;
  /** After a failed promotion, no new attempt before this (monotonic ms); grows per failure. */
  private promotionRetryAt = 0;
  private promotionFailures = 0;
  /** When this hub (the old primary of a switchover) handed its lease over (monotonic ms). */
  private handedOverAt: number | null = null;
  /** Where that handover left our WAL (the follow then needs no pg_rewind, once confirmed). */
  private handoverPoint: { readonly timeline: number; readonly shutdownCheckpointLsn: bigint } | null = null;
  /** A wake-up came while the loop was running: run again at once. */
  private wakeAgain = false;
  /** The next loop comes sooner than the interval (a switchover target waiting for its replay). */
  private nextDelayMs: number | null = null;
  private watch: CoordWatch | null = null;
  private readonly roleListeners = new Set<(role: AgentRole, epoch: number | null) => void>();
  /** Chaos tests only (unsafe-testing.ts): never fence. Throws at construction unless acknowledged. */
  private readonly noFencing = selfFencingDisabled();

  constructor(private readonly options: HubAgentOptions) {
    this.settings = options.settings;
    this.session = options.client.session(`hub-${options.settings.name}`);
    this.reportSession = options.client.session(`hub-${options.settings.name}.report`);
    this.pg = options.postgres;
    // The node name is bound once here: the chaos history and operators read it from every line.
    this.logger = childLogger(options.logger, { component: 'hub-agent', node: options.settings.name });
    this.hooks = new HookRunner(this.settings.name, this.settings.hooks.timeoutMs, this.logger);
    this.watchdog = new Watchdog(this.settings.watchdog.device, this.settings.watchdog.mode, this.logger);
  }

  status(): AgentStatus {
    return { role: this.role, epoch: this.epoch, eligibility: this.lastEligibility, lastError: this.lastError, vipHeld: this.vipHeld };
  }

  /** The last PostgreSQL observation (for the health endpoints). */
  postgresSnapshot(): PgSnapshot | null {
    return this.lastSnapshot;
  }

  /** The last store view the loop read (for the health endpoints' lag check). */
  storeView(): StoreView | null {
    return this.lastStoreView;
  }

  onRoleChange(listener: (role: AgentRole, epoch: number | null) => void): () => void {
    this.roleListeners.add(listener);
    return () => this.roleListeners.delete(listener);
  }

  start(): void {
    this.schedule(0);
    void this.watchForWakeUps();
  }

  /** Runs the loop now (or right after the running one): the store changed in a way we act on. */
  private wake(): void {
    if (this.stopped) return;
    if (this.ticking) {
      this.wakeAgain = true;
      return;
    }
    if (this.loopTimer !== null) clearTimeout(this.loopTimer);
    this.schedule(0);
  }

  /**
   * Handover requests, reinit requests and the active-hub record are acted on as soon as they
   * change rather than at the next loop: a switchover's whole budget is about a second.
   */
  private async watchForWakeUps(): Promise<void> {
    while (!this.stopped) {
      const watch = this.options.client.watch({ key: 'hubha/', prefix: true, bufferSize: 1000 });
      this.watch = watch;
      try {
        for await (const event of watch) {
          if (WAKE_PREFIXES.some((prefix) => event.key.startsWith(prefix))) this.wake();
        }
      } catch (err) {
        this.logger.debug({ err: err instanceof Error ? err.message : String(err) }, 'agent watch ended; watching again');
      } finally {
        watch.cancel();
      }
      if (!this.stopped) await new Promise((resolve) => setTimeout(resolve, WATCH_RETRY_MS));
    }
  }

  async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.watch?.cancel();
    if (this.loopTimer !== null) clearTimeout(this.loopTimer);
    this.clearFenceTimer();
    // A planned stop of the sidecar: fence first (the lease then expires, or is released).
    if (this.role === 'primary' || this.role === 'promoting') await this.demote('sidecar stopping', true);
    await this.keeper?.close();
    await this.reportSession.close();
    await this.hooks.drain();
  }

  // ---------------------------------------------------------------- loop

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.loopTimer = setTimeout(() => void this.tick(), delayMs);
  }

  private async tick(): Promise<void> {
    if (this.stopped || this.ticking) return;
    this.ticking = true;
    if (this.noFencing) this.logger.error({ role: this.role, epoch: this.epoch }, `UNSAFE TESTING: self-fencing is DISABLED (${UNSAFE_DISABLE_FENCING_ENV}=1): this hub can cause split brain and lose writes`);
    try {
      const snapshot = await this.pg.observe();
      this.lastSnapshot = snapshot;
      this.lastSnapshotAt = performance.now();
      const view = await readStoreView(this.session, this.logger, STORE_READ_TIMEOUT_MS);
      if (view !== null) this.lastStoreView = view;
      if (this.role === 'primary') await this.tickPrimary(snapshot, view);
      else if (this.role !== 'demoting' && this.role !== 'promoting' && this.role !== 'handing-over') {
        // A hub never holds the VIP without the lease (e.g. after a crash and restart).
        if (this.options.vip !== null) this.vipHeld = (await this.options.vip.reconcile(false)).held;
        await this.tickNotPrimary(snapshot, view);
      }
      if (view !== null) this.maybeReport(snapshot);
      this.lastError = null;
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err);
      this.logger.warn({ epoch: this.epoch, err: this.lastError }, 'agent loop step failed');
    } finally {
      this.ticking = false;
      const delayMs = this.wakeAgain ? 0 : (this.nextDelayMs ?? this.settings.timings.loopIntervalMs);
      this.wakeAgain = false;
      this.nextDelayMs = null;
      this.schedule(delayMs);
    }
  }

  // ---------------------------------------------------------------- the active hub

  private async tickPrimary(snapshot: PgSnapshot, view: StoreView | null): Promise<void> {
    const epoch = this.epoch!;
    if (this.keeper === null || !this.keeper.isHeld()) {
      await this.demote('lease no longer held');
      return;
    }
    await this.watchdog.keepalive();
    if (!snapshot.up || snapshot.inRecovery) {
      // PostgreSQL died under the active hub: try one restart; if it does not come back, give
      // the lease up so the standby can take over.
      this.logger.warn({ epoch, up: snapshot.up }, 'PostgreSQL is not a running primary on the active hub');
      const restarted = await this.pg.start().then(
        () => true,
        () => false,
      );
      if (!restarted || (await this.pg.observe()).up === false) await this.demote('PostgreSQL failed on the active hub', true);
      return;
    }
    const part = view === null ? null : handoverPart(view, this.settings.name, Date.now(), epoch);
    if (part?.kind === 'hand-over') return this.handOver(part.request, snapshot, epoch);
    await this.manageSynchronous(snapshot, view, epoch);
    this.vipHeld = (await this.options.vip?.reconcile(true))?.held ?? null;
    if (view !== null && view.active?.epoch !== epoch) await this.publish(epoch);
    await this.ensureSlots();
    await this.keepRaftLeadershipAway();
  }

  /**
   * Synchronous mode: strengthen first, then record; record first, then weaken. The record names
   * the only standby that may be promoted without an operator.
   */
  private async manageSynchronous(snapshot: Extract<PgSnapshot, { inRecovery: false }>, view: StoreView | null, epoch: number): Promise<void> {
    if (this.settings.synchronous === 'off') return;
    const others = this.settings.hubs.filter((h) => h !== this.settings.name);
    const streaming = snapshot.standbys.find((s) => others.includes(s.applicationName) && s.state === 'streaming');
    // PostgreSQL's observation: the clock runs while the store is unreadable too (losing a
    // standby that was the Raft leader costs an election), so the drop comes as soon as the
    // store answers again rather than syncDropAfterMs after that.
    if (streaming !== undefined) this.notStreamingSince = null;
    else this.notStreamingSince ??= this.lastSnapshotAt;
    if (view === null) return;
    const recorded = view.sync?.primary === this.settings.name && view.sync.epoch === epoch ? view.sync.standby : undefined;
    if (streaming !== undefined) {
      if (!snapshot.synchronousStandbyNames.includes(`"${streaming.applicationName}"`) && !snapshot.synchronousStandbyNames.includes(streaming.applicationName)) {
        await this.pg.setSynchronousStandbys([streaming.applicationName], { strict: this.settings.synchronous === 'strict' });
        return; // record once PostgreSQL reports it as sync
      }
      if (streaming.syncState === 'sync' && recorded !== streaming.applicationName) {
        await this.writeSyncRecord(epoch, streaming.applicationName);
      }
      return;
    }
    if (this.settings.synchronous === 'strict') return; // strict: commits wait; never weaken
    if (performance.now() - this.notStreamingSince! < this.settings.timings.syncDropAfterMs) return;
    if (recorded !== null) {
      // Record before weakening: if this write fails, we do not drop to asynchronous.
      if (!(await this.writeSyncRecord(epoch, null))) return;
    }
    if (snapshot.synchronousStandbyNames !== '') {
      this.logger.warn({ epoch }, 'no synchronous standby streaming: recorded, now replicating asynchronously');
      await this.pg.setSynchronousStandbys([], { strict: false });
    }
  }

  private async writeSyncRecord(epoch: number, standby: string | null): Promise<boolean> {
    const record: SyncStandby = { primary: this.settings.name, standby, epoch, at: new Date().toISOString() };
    const ok = await fencedPut(this.session, epoch, SYNC_STANDBY_KEY, encodeRecord(record)).catch(() => false);
    if (ok) this.logger.info({ epoch, standby }, 'synchronous standby recorded');
    return ok;
  }

  private async publish(epoch: number): Promise<void> {
    const record: ActiveHub = {
      name: this.settings.name,
      address: `${this.settings.postgres.advertiseHost}:${this.settings.postgres.port}`,
      vip: this.settings.vip?.address ?? null,
      epoch,
      since: new Date().toISOString(),
    };
    await this.session.put(ACTIVE_HUB_KEY, encodeRecord(record), { lease: { name: ACTIVE_HUB_LEASE, epoch } });
    await this.options.publishLocal?.(record).catch((err: unknown) => this.logger.warn({ err: String(err) }, 'could not write the local active-hub file'));
    this.logger.info({ epoch, address: record.address }, 'active-hub address published');
  }

  private async ensureSlots(): Promise<void> {
    for (const hub of this.settings.hubs) if (hub !== this.settings.name) await this.pg.createSlot(slotName(hub));
  }

  // ---------------------------------------------------------------- planned switchover

  /**
   * The old primary's part of a switchover: check that the target streams from us, drop the VIP,
   * stop PostgreSQL cleanly (clients are cut off; the shutdown checkpoint is written and, as the
   * walsenders' last duty, sent to the standbys), tell the target where our WAL ends, and only
   * then give the lease up. Until the lease is released a failure here is harmless: we start
   * PostgreSQL again and go on as the active hub.
   */
  private async handOver(request: HandoverRequest, snapshot: PrimarySnapshot, epoch: number): Promise<void> {
    const me = this.settings.name;
    const target = snapshot.standbys.find((s) => s.applicationName === request.to && s.state === 'streaming');
    if (target === undefined) {
      this.logger.warn({ epoch, to: request.to, id: request.id }, 'switchover refused: the target is not streaming from this hub');
      await this.answerHandover(request, epoch, null, `${request.to} is not streaming from ${me}`);
      return;
    }
    const started = performance.now();
    this.setRole('handing-over', epoch);
    this.logger.info({ epoch, to: request.to, id: request.id, by: request.by }, 'switchover: stopping PostgreSQL cleanly to hand over');
    await this.options.vip?.release().catch((err: unknown) => this.logger.error({ err: String(err) }, 'VIP release failed'));
    this.vipHeld = false;
    let control: ControlData | null = null;
    try {
      await this.pg.stop({ mode: 'fast', timeoutMs: HANDOVER_STOP_TIMEOUT_MS });
      const after = await this.pg.controlData();
      if (isCleanShutdown(after)) control = after;
    } catch (err) {
      this.logger.error({ epoch, err: err instanceof Error ? err.message : String(err) }, 'switchover: PostgreSQL did not stop cleanly');
    }
    if (control === null) {
      // Where our WAL ends is unknown, so the target could not check that it has all of it.
      await this.pg.fence().catch(() => null);
      await this.answerHandover(request, epoch, null, `PostgreSQL on ${me} did not stop cleanly; it stays the active hub`);
      this.setRole('primary', epoch); // the next loop starts PostgreSQL again and takes the VIP back
      return;
    }
    const stopMs = Math.round(performance.now() - started);
    if (!(await this.answerHandover(request, epoch, control, null))) {
      // The lease or the request's window ended meanwhile: PostgreSQL is down, so we are fenced;
      // the target takes over by the automatic rules (it had every commit).
      this.setRole('primary', epoch);
      return this.demote('the switchover could not be recorded (lease or request window lost)');
    }
    const keeper = this.keeper;
    this.keeper = null;
    this.clearFenceTimer();
    await this.watchdog.disarm();
    const released = await keeper?.release().catch(() => false);
    await keeper?.close();
    await this.options.publishLocal?.(null).catch(() => undefined);
    this.handedOverAt = performance.now();
    this.handoverPoint = { timeline: control.latestCheckpointTimeline, shutdownCheckpointLsn: control.latestCheckpointLocation };
    this.setRole('fenced', null);
    this.logger.info(
      { epoch, to: request.to, stopMs, released, shutdownCheckpointLsn: formatLsn(control.latestCheckpointLocation), handoverMs: Math.round(performance.now() - started) },
      'switchover: PostgreSQL stopped cleanly and the lease released for the target',
    );
    this.hooks.run('demote', this.settings.hooks.onDemote, { role: 'fenced', epoch });
    this.hooks.run('role-change', this.settings.hooks.onRoleChange, { role: 'fenced', epoch });
  }

  /** The old primary's answer, fenced by its epoch and ending with the request's window. */
  private answerHandover(request: HandoverRequest, epoch: number, stopped: ControlData | null, refused: string | null): Promise<boolean> {
    const ready: HandoverReady = {
      id: request.id,
      from: this.settings.name,
      fromEpoch: epoch,
      to: request.to,
      shutdownCheckpointLsn: stopped === null ? null : formatLsn(stopped.latestCheckpointLocation),
      timeline: stopped === null ? null : stopped.latestCheckpointTimeline,
      refused,
      at: new Date().toISOString(),
    };
    return fencedPut(this.session, epoch, HANDOVER_READY_KEY, encodeRecord(ready), { name: HANDOVER_LEASE, epoch: request.leaseEpoch }).catch(() => false);
  }

  /**
   * The target's part of a switchover or manual failover, with the lease free. True when the
   * request decided this loop (promoted, or waiting); false: the automatic rules apply (the old
   * primary gave no answer — it crashed or lost the lease, and the lease expired).
   */
  private async takeOver(part: Extract<HandoverPart, { kind: 'take-over' }>, snapshot: Extract<PgSnapshot, { up: true }>, view: StoreView): Promise<boolean> {
    const { request } = part;
    let kind: PromotionKind;
    if (request.kind === 'switchover') {
      let answer: HandoverReady | null = part.ready;
      if (answer === null) {
        // The view's lease and records come from two reads made side by side: the lease may be
        // seen free while the records were read before the old primary's answer (which it writes
        // before releasing). Read again, now that the release is known, before concluding that
        // the old primary never answered (it crashed: the automatic rules apply).
        const fresh = await readStoreView(this.session, this.logger, STORE_READ_TIMEOUT_MS);
        if (fresh === null) return true;
        answer = fresh.handover?.id === request.id ? fresh.handoverReady : null;
      }
      if (answer === null || answer.shutdownCheckpointLsn === null) return false;
      const ready = answer;
      if (!replayedPast(snapshot, ready)) {
        this.nextDelayMs = HANDOVER_POLL_MS;
        return true;
      }
      kind = { kind: 'switchover', reason: withReason(`switchover from ${ready.from} asked by ${request.by}`, request.reason), skipSyncCheck: true, dataLossBytes: 0 };
    } else {
      if (!request.force) {
        const blocking = this.eligibility(snapshot, view).reasons.filter((r) => r.code !== 'paused' && r.code !== 'better-candidate');
        if (blocking.length > 0) {
          this.logger.warn({ id: request.id, reasons: blocking.map((r) => r.code) }, 'manual failover to this hub refused: not eligible (ask with force to override)');
          return true;
        }
      }
      const loss = this.settings.synchronous === 'off' || request.force ? request.dataLossBytes : 0;
      kind = { kind: 'manual-failover', reason: withReason(`manual failover${request.force ? ' (forced)' : ''} asked by ${request.by}`, request.reason), skipSyncCheck: request.force, dataLossBytes: loss };
    }
    const epoch = await this.acquire();
    if (epoch === null) return true;
    this.logger.warn({ epoch, id: request.id, kind: kind.kind, force: request.force }, `${kind.kind}: taking over as the active hub`);
    await this.promote(epoch, view, kind).catch((err: unknown) => this.promotionFailed(epoch, err));
    if (this.role === 'primary') {
      // Done: end the reservation now rather than at the end of its window (a scheduled
      // switchover has nobody waiting for it who would).
      await this.session.leaseRelease({ name: HANDOVER_LEASE, holder: handoverLeaseHolder(request.id), epoch: request.leaseEpoch }).catch(() => undefined);
    }
    return true;
  }

  /** Re-clones this standby from the active hub (the operator's `hubha reinit`). */
  private async reinitFrom(request: ReinitRequest, active: ActiveHub): Promise<void> {
    const me = this.settings.name;
    const update = (state: ReinitRequest['state'], error: string | null): Promise<unknown> =>
      this.session.put(reinitKey(me), encodeRecord({ ...request, state, error, updatedAt: new Date().toISOString() } satisfies ReinitRequest));
    await update('running', null);
    const started = performance.now();
    this.logger.warn({ from: active.name, id: request.id, by: request.by }, 'reinit: re-cloning this standby from the active hub');
    try {
      await this.pg.stop({ mode: 'fast' });
      await this.pg.reclone(this.source(active));
      await this.pg.start();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      await update('failed', message).catch(() => undefined);
      throw err;
    }
    this.setRole('standby', null);
    await this.session.delete(reinitKey(me));
    this.logger.info({ from: active.name, durationMs: Math.round(performance.now() - started) }, 'reinit: re-cloned and started as a standby');
  }

  private async keepRaftLeadershipAway(): Promise<void> {
    const raft = this.options.raft;
    if (raft === null || !raft.isLeader()) return;
    const now = performance.now();
    if (now - this.lastLeadershipMove < LEADERSHIP_MOVE_INTERVAL_MS) return;
    this.lastLeadershipMove = now;
    // Losing the active hub must not also cost an election (whose new leader restarts the TTL).
    const moved = await raft.transferAway().catch(() => false);
    this.logger.info({ epoch: this.epoch, moved }, 'moving Raft leadership off the active hub');
  }

  // ---------------------------------------------------------------- standby / not primary

  private async tickNotPrimary(snapshot: PgSnapshot, view: StoreView | null): Promise<void> {
    if (view === null) return;
    const me = this.settings.name;
    const active = view.active !== null && view.active.name !== me ? view.active : null;
    const reinit = view.reinit.get(me);
    if (reinit !== undefined && reinit.state === 'requested' && active !== null) return this.reinitFrom(reinit, active);
    const part = handoverPart(view, me, Date.now(), null);
    if (await this.pg.cloneIncomplete()) {
      // A clone cut short (sidecar killed, pg_basebackup failed half-way): what it left must
      // never be started; clone again as soon as there is an active hub.
      if (active !== null) await this.cloneFrom(active);
      return;
    }
    if (!(await this.hasData())) {
      if (active !== null) await this.cloneFrom(active);
      else if (view.lastPromotion === null && view.lease === null && view.paused === null) await this.tryBootstrap();
      return;
    }
    if (snapshot.up && !snapshot.inRecovery) {
      // A writable PostgreSQL on a hub that is not the active one: fence it now.
      if (view.lease?.holder === me) {
        // Our own sidecar restarted within the TTL: take the lease back (same epoch) and go on.
        const epoch = await this.acquire();
        if (epoch !== null) return this.becomePrimary(epoch, 'resumed');
      }
      if (this.noFencing) {
        this.logger.error({ holder: view.lease?.holder ?? null }, 'UNSAFE TESTING: PostgreSQL is writable but this hub does not hold the lease: NOT fencing');
        return;
      }
      this.logger.warn({ holder: view.lease?.holder ?? null }, 'PostgreSQL is writable but this hub does not hold the lease: fencing');
      await this.pg.fence();
      this.setRole('fenced', null);
      return;
    }
    if (!snapshot.up) {
      if (active !== null) return this.follow(active, view);
      if (view.lease === null && view.lastPromotion?.to === me && !this.settings.tags.nofailover && this.mayRestartAsLastPrimary(part, view.paused !== null)) {
        // The whole cluster went down and we were the last primary: we hold every acknowledged write.
        const epoch = await this.acquire();
        if (epoch !== null) await this.restartAsLastPrimary(epoch, view.lastPromotion.to).catch((err: unknown) => this.promotionFailed(epoch, err));
        return;
      }
      if (snapshot.running) return;
      // Without the lease PostgreSQL may only come up as a standby. A data directory without
      // standby.signal (a fenced former primary, or a follow that stopped half-way) would come
      // up writable: leave it stopped until there is an active hub to follow.
      if (!(await this.hasStandbySignal())) {
        if (!this.waitingToFollowLogged) this.logger.warn({ holder: view.lease?.holder ?? null }, 'not starting PostgreSQL: it is not set up as a standby and this hub does not hold the lease; waiting for an active hub to follow');
        this.waitingToFollowLogged = true;
        return;
      }
      this.waitingToFollowLogged = false;
      await this.pg.start().catch((err: unknown) => this.logger.warn({ err: String(err) }, 'could not start PostgreSQL'));
      return;
    }
    // A running standby.
    if (this.role !== 'standby') this.setRole('standby', null);
    if (active !== null) {
      const [host, port] = splitHostPort(active.address);
      const receiver = snapshot.walReceiver;
      const following = receiver !== null && receiver.senderPort === port && (receiver.senderHost === host || receiver.senderHost === null);
      this.wrongSourceLoops = following || receiver === null ? 0 : this.wrongSourceLoops + 1;
      if (this.wrongSourceLoops >= WRONG_SOURCE_LOOPS) {
        this.wrongSourceLoops = 0;
        await this.follow(active, view);
        return;
      }
    }
    if (view.lease !== null) {
      this.lastEligibility = null;
      return;
    }
    if (part.kind === 'reserved') return; // a switchover or manual failover to another hub
    if (part.kind === 'take-over' && (await this.takeOver(part, snapshot, view))) return;
    const eligibility = this.eligibility(snapshot, view);
    this.lastEligibility = eligibility;
    if (!eligibility.eligible) {
      this.logger.debug({ reasons: eligibility.reasons.map((r) => r.code) }, 'lease free but not eligible');
      return;
    }
    const epoch = await this.acquire();
    if (epoch === null) return;
    await this.promote(epoch, view, this.automaticFailover(snapshot, view)).catch((err: unknown) => this.promotionFailed(epoch, err));
  }

  /**
   * An automatic failover, for its history entry. Asynchronous mode: no upper bound of the loss
   * is known (dataLossBytes null). How far this standby is behind the former primary's last
   * report is only a lower bound: that report predates the partition, and the former primary
   * went on acknowledging writes until it fenced (measured in the lab: 475-873 acknowledged
   * writes, 85-156 kB of WAL over about 2 s after the cut, with a lag of 0 at the report).
   */
  private automaticFailover(snapshot: Extract<PgSnapshot, { up: true }>, view: StoreView): PromotionKind {
    const from = view.lastPromotion?.to ?? null;
    const reason = `${from ?? 'no active hub'} lost the lease`;
    if (this.settings.synchronous !== 'off' || from === null) return { kind: 'failover', reason, skipSyncCheck: false };
    const report = view.reports.get(from) ?? null;
    const reported = report?.postgres.lsn ?? null;
    const received = snapshot.inRecovery ? (snapshot.receiveLsn ?? snapshot.replayLsn) : null;
    if (report === null || reported === null || received === null) {
      return { kind: 'failover', reason: `${reason}; asynchronous, data loss unknown (no WAL position of ${from} or of this standby)`, skipSyncCheck: false, dataLossBytes: null };
    }
    const behind = parseLsn(reported) - received;
    const ageMs = Date.now() - Date.parse(report.at);
    return {
      kind: 'failover',
      reason: `${reason}; asynchronous, data loss unknown: at least ${behind > 0n ? behind : 0n} bytes behind ${from}'s last report (${ageMs} ms old), plus whatever ${from} acknowledged after that report until it fenced`,
      skipSyncCheck: false,
      dataLossBytes: null,
    };
  }

  /**
   * While a handover request reserves the lease for another hub, the last primary waits — unless
   * it is the switchover's old primary and the target did not come in time. Paused, only then: the
   * operator asked for the handover, and this hub is the one with every commit.
   */
  private mayRestartAsLastPrimary(part: HandoverPart, paused: boolean): boolean {
    if (part.kind !== 'reserved') return !paused;
    const waited = this.handedOverAt === null ? 0 : performance.now() - this.handedOverAt;
    if (part.request.from !== this.settings.name || waited < HANDOVER_TAKEOVER_WAIT_MS) return false;
    this.logger.warn({ to: part.request.to, waitedMs: Math.round(waited) }, 'switchover: the target did not take over in time; starting again as the active hub');
    return true;
  }

  /** A promotion (or bootstrap) that failed half-way: fence and give the lease back. */
  private async promotionFailed(epoch: number, err: unknown): Promise<void> {
    // Back off (1 s doubling to 30 s) so a hub that cannot promote does not churn epochs.
    this.promotionFailures++;
    this.promotionRetryAt = performance.now() + Math.min(30_000, 1000 * 2 ** (this.promotionFailures - 1));
    this.logger.error({ epoch, err: err instanceof Error ? err.message : String(err) }, 'promotion failed: fencing and releasing the lease');
    if (this.role === 'promoting') this.setRole('primary', epoch); // so demote() runs its full path
    await this.demote('promotion failed', true);
  }

  private eligibility(snapshot: Extract<PgSnapshot, { up: true }>, view: StoreView): Eligibility {
    const me = this.settings.name;
    const received = snapshot.inRecovery ? (snapshot.receiveLsn ?? snapshot.replayLsn) : null;
    const formerPrimary = view.lastPromotion?.to ?? view.sync?.primary ?? null;
    return evaluateEligibility({
      self: me,
      synchronous: this.settings.synchronous,
      maximumLagOnFailoverBytes: this.settings.maximumLagOnFailoverBytes,
      nofailover: this.settings.tags.nofailover,
      priority: this.settings.tags.priority,
      paused: view.paused !== null,
      postgresUp: snapshot.up,
      inRecovery: snapshot.inRecovery,
      receivedLsn: received === null ? null : formatLsn(received),
      syncRecord: view.sync,
      primaryReport: formerPrimary === null ? null : (view.reports.get(formerPrimary) ?? null),
      otherStandbys: [...view.reports.values()].filter((r) => r.name !== me && r.name !== formerPrimary),
    });
  }

  /** One attempt at the lease: the epoch when granted, null when held by another or on error. */
  private async acquire(): Promise<number | null> {
    if (performance.now() < this.promotionRetryAt) return null;
    const t = this.settings.timings;
    const keeper = this.session.keepLease({
      name: ACTIVE_HUB_LEASE,
      holder: this.settings.name,
      ttlMs: t.leaseTtlMs,
      renewIntervalMs: t.renewIntervalMs,
      metadata: { address: `${this.settings.postgres.advertiseHost}:${this.settings.postgres.port}` },
    });
    const outcome = await new Promise<number | null>((resolve) => {
      const offAcquired = keeper.on('acquired', (e) => done(e.epoch));
      const offWaiting = keeper.on('waiting', () => done(null));
      const timer = setTimeout(() => done(null), t.leaseTtlMs);
      function done(value: number | null): void {
        clearTimeout(timer);
        offAcquired();
        offWaiting();
        resolve(value);
      }
    });
    if (outcome === null) {
      await keeper.close();
      return null;
    }
    this.keeper = keeper;
    keeper.on('lost', (e) => void this.demote(`lease lost (${e.reason})`));
    keeper.on('renewed', () => this.armFenceTimer());
    this.armFenceTimer();
    return outcome;
  }

  /** Self-fencing starts demotionBudgetMs before the holder's own validity ends, unless renewed. */
  private armFenceTimer(): void {
    this.clearFenceTimer();
    const validUntil = this.keeper?.validUntil() ?? null;
    if (validUntil === null) return;
    const delay = Math.max(0, validUntil - this.settings.timings.demotionBudgetMs - performance.now());
    this.fenceTimer = setTimeout(() => {
      if (this.keeper?.validUntil() === validUntil) void this.demote('lease about to end without a renewal');
    }, delay);
  }

  private clearFenceTimer(): void {
    if (this.fenceTimer !== null) clearTimeout(this.fenceTimer);
    this.fenceTimer = null;
  }

  private async promote(epoch: number, view: StoreView, why?: PromotionKind): Promise<void> {
    const me = this.settings.name;
    const from = view.lastPromotion?.to ?? null;
    const kind: PromotionKind = why ?? { kind: 'failover', reason: `${from ?? 'no active hub'} lost the lease`, skipSyncCheck: false };
    this.setRole('promoting', epoch);
    // The lease is ours: the old primary can no longer write the sync record (its writes are
    // fenced by its epoch). Check again, linearizably, that we were its synchronous standby.
    if (this.settings.synchronous !== 'off' && !kind.skipSyncCheck) {
      const fresh = await readStoreView(this.session, this.logger, STORE_READ_TIMEOUT_MS);
      if (fresh === null || fresh.sync?.standby !== me) {
        this.logger.warn({ epoch, recorded: fresh?.sync?.standby ?? null }, 'not the recorded synchronous standby after all: giving the lease back');
        await this.keeper?.release().catch(() => false);
        await this.keeper?.close();
        this.keeper = null;
        this.setRole('standby', null);
        return;
      }
    }
    // Record the promotion BEFORE PostgreSQL can acknowledge a write: were we cut from the store
    // after promoting, an unrecorded promotion would let the old primary come back as "the last
    // primary" and rewind our acknowledged writes away (chaos seed 777, round 38). In the same
    // fenced Txn, synchronous 'on': record before weakening — nobody is synchronous with us until
    // a standby streams.
    const records = [{ key: historyKey(epoch), value: encodeRecord(this.historyEntry(epoch, kind.kind, from, kind.reason, kind.dataLossBytes)) }];
    if (this.settings.synchronous === 'on') records.push({ key: SYNC_STANDBY_KEY, value: encodeRecord({ primary: me, standby: null, epoch, at: new Date().toISOString() } satisfies SyncStandby) });
    if (!(await fencedPuts(this.session, epoch, records).catch(() => false))) return this.demote('could not record the promotion in the history', true);
    const started = performance.now();
    const result = await this.pg.promote({ checkpoint: 'background', ...(this.settings.synchronous === 'strict' ? { synchronous: { names: [], strict: true } } : {}) });
    this.logger.info({ epoch, timeline: result.timeline, promoteMs: Math.round(performance.now() - started), kind: kind.kind }, 'PostgreSQL promoted');
    await this.becomePrimary(epoch, kind.kind);
  }

  /**
   * Starts PostgreSQL as the primary again after the whole cluster was down. Synchronous 'on':
   * as after a promotion, nobody is synchronous with us until a standby streams, so record that
   * (fenced by the new epoch) and only then start with synchronous_standby_names empty. The
   * setting left from before the outage names a standby that may well be down, and then every
   * commit would wait for it — our own hubha.promotions insert too, so becomePrimary would never
   * publish the address that standby needs in order to follow us.
   */
  private async restartAsLastPrimary(epoch: number, from: string): Promise<void> {
    const me = this.settings.name;
    this.setRole('promoting', epoch);
    if (this.settings.synchronous === 'on') {
      const record: SyncStandby = { primary: me, standby: null, epoch, at: new Date().toISOString() };
      if (!(await fencedPut(this.session, epoch, SYNC_STANDBY_KEY, encodeRecord(record)))) {
        this.setRole('primary', epoch); // so demote() runs its full path
        return this.demote('could not record the synchronous state', true);
      }
      await this.pg.setSynchronousStandbys([], { strict: false }); // stopped: applies at the start
    }
    if (!(await this.recordHistory(epoch, 'failover', from, this.handedOverAt === null ? 'the whole cluster was down; this hub was the last primary' : 'a switchover from this hub did not complete; this hub goes on as the active hub'))) {
      this.setRole('primary', epoch);
      return this.demote('could not record the restart in the history', true);
    }
    await this.pg.start();
    await this.becomePrimary(epoch, 'failover');
  }

  private async becomePrimary(epoch: number, kind: HistoryEntry['kind'] | 'resumed'): Promise<void> {
    const me = this.settings.name;
    this.notStreamingSince = null; // not a clock left over from an earlier term
    if (!(await this.watchdog.arm())) throw new Error(`watchdog ${this.settings.watchdog.device} is required but cannot be opened`);
    this.setRole('primary', epoch);
    this.promotionFailures = 0;
    this.handedOverAt = null;
    this.handoverPoint = null;
    // The database itself records which fencing epoch promoted it (not awaited in strict mode,
    // where the write waits for a standby).
    const recording = this.pg.recordPromotion({ epoch, node: me }).catch((err: unknown) => this.logger.warn({ epoch, err: String(err) }, 'could not record the promotion in PostgreSQL'));
    if (this.settings.synchronous !== 'strict') await recording;
    this.vipHeld = (await this.options.vip?.reconcile(true))?.held ?? null;
    await this.ensureSlots().catch((err: unknown) => this.logger.warn({ err: String(err) }, 'could not create replication slots'));
    await this.publish(epoch);
    this.hooks.run('promote', this.settings.hooks.onPromote, { role: 'primary', epoch });
    this.hooks.run('role-change', this.settings.hooks.onRoleChange, { role: 'primary', epoch });
    this.logger.info({ epoch, kind }, 'active hub');
  }

  /** The history entry of a promotion, fenced by its epoch; false when it could not be written. */
  private recordHistory(epoch: number, kind: HistoryEntry['kind'], from: string | null, reason: string, dataLossBytes?: number | null): Promise<boolean> {
    return fencedPut(this.session, epoch, historyKey(epoch), encodeRecord(this.historyEntry(epoch, kind, from, reason, dataLossBytes))).catch(() => false);
  }

  private historyEntry(epoch: number, kind: HistoryEntry['kind'], from: string | null, reason: string, dataLossBytes?: number | null): HistoryEntry {
    return {
      epoch,
      at: new Date().toISOString(),
      kind,
      from,
      to: this.settings.name,
      reason,
      dataLossBytes: dataLossBytes !== undefined ? dataLossBytes : this.settings.synchronous === 'off' ? null : 0,
    };
  }

  private async tryBootstrap(): Promise<void> {
    const epoch = await this.acquire();
    if (epoch === null) return;
    await this.bootstrap(epoch).catch((err: unknown) => this.promotionFailed(epoch, err));
  }

  private async bootstrap(epoch: number): Promise<void> {
    this.setRole('promoting', epoch);
    const p = this.settings.postgres;
    await this.pg.initPrimary({
      replicationUser: p.replicationUser,
      replicationPasswordFile: p.replicationPasswordFile,
      peerCidrs: p.peerCidrs,
      clientCidrs: p.clientCidrs,
      settings: p.settings,
    });
    if (this.settings.synchronous !== 'off') {
      const record: SyncStandby = { primary: this.settings.name, standby: null, epoch, at: new Date().toISOString() };
      await fencedPut(this.session, epoch, SYNC_STANDBY_KEY, encodeRecord(record));
    }
    if (!(await this.recordHistory(epoch, 'bootstrap', null, 'first primary'))) throw new Error('could not record the bootstrap in the history');
    await this.becomePrimary(epoch, 'bootstrap');
  }

  private source(active: ActiveHub): Parameters<PostgresInstance['cloneFrom']>[0] {
    const [host, port] = splitHostPort(active.address);
    return { host, port, user: this.settings.postgres.replicationUser, passwordFile: this.settings.postgres.replicationPasswordFile, slot: slotName(this.settings.name) };
  }

  private async cloneFrom(active: ActiveHub): Promise<void> {
    this.logger.info({ from: active.name, epoch: active.epoch }, 'cloning the active hub');
    await this.pg.cloneFrom(this.source(active));
    await this.pg.start();
    this.setRole('standby', null);
  }

  /** Becomes a standby of the active hub: pg_rewind when the timelines diverged, else directly. */
  private async follow(active: ActiveHub, view: StoreView): Promise<void> {
    this.logger.info({ primary: active.name, epoch: active.epoch }, 'following the active hub');
    try {
      const result = await this.pg.followAsStandby(this.source(active), this.handoverPoint === null ? {} : { handedOverAt: this.handoverPoint });
      this.logger.info({ rewind: result.rewind, crashRecovered: result.crashRecovered, durationMs: result.durationMs }, 'rejoined as a standby');
      this.handedOverAt = null;
      this.handoverPoint = null;
      const afterFork = result.rewind === 'rewound' ? result.walAfterFork : { commits: 0, bytes: 0 };
      await this.recordRejoin(active, view, {
        rewind: result.rewind,
        commitsAfterFork: afterFork?.commits ?? null,
        walBytesAfterFork: afterFork?.bytes ?? null,
        divergedAt: result.divergedAt === undefined ? null : formatLsn(result.divergedAt),
      });
    } catch (err) {
      const code = (err as { code?: string }).code;
      if ((code === 'REWIND_FAILED' || code === 'TIMELINE_DIVERGED') && this.settings.postgres.autoReclone) {
        this.logger.warn({ code }, 'rewind impossible: re-cloning from the active hub');
        await this.pg.reclone(this.source(active));
        await this.pg.start();
        await this.recordRejoin(active, view, { rewind: 'recloned', commitsAfterFork: null, walBytesAfterFork: null, divergedAt: null });
      } else throw err;
    }
    this.setRole('standby', null);
  }

  /**
   * The former primary of the promotion it now follows records how it came back — above all the
   * commits its pg_rewind discarded, an asynchronous failover's loss — once per promotion (the
   * first successful follow; a later one would find nothing left to discard).
   */
  private async recordRejoin(active: ActiveHub, view: StoreView, how: Pick<Rejoin, 'rewind' | 'commitsAfterFork' | 'walBytesAfterFork' | 'divergedAt'>): Promise<void> {
    const me = this.settings.name;
    const promotion = view.lastPromotion;
    if (promotion === null || promotion.epoch !== active.epoch || promotion.from !== me) return;
    const key = rejoinKey(active.epoch);
    const record: Rejoin = { epoch: active.epoch, member: me, primary: active.name, at: new Date().toISOString(), ...how };
    try {
      const res = await this.session.txn({ compare: [{ key, target: 'create-revision', op: 'equal', number: 0 }], success: [{ type: 'put', key, value: encodeRecord(record) }], failure: [] });
      if (res.succeeded) this.logger.info({ epoch: active.epoch, rewind: how.rewind, commitsAfterFork: how.commitsAfterFork, walBytesAfterFork: how.walBytesAfterFork }, 'rejoin recorded');
    } catch (err) {
      // Only the account of what was discarded is lost; the rejoin itself is done.
      this.logger.warn({ epoch: active.epoch, err: err instanceof Error ? err.message : String(err) }, 'could not record the rejoin');
    }
  }

  // ---------------------------------------------------------------- fencing

  /**
   * Stops acting as the active hub: VIP first, then PostgreSQL (fast, then immediate), then the
   * lease; hooks last and never awaited. Idempotent; concurrent callers share one demotion.
   */
  private demote(reason: string, releaseLease = false): Promise<void> {
    if (this.demoting !== null) return this.demoting;
    if (this.role !== 'primary' && this.role !== 'promoting') return Promise.resolve();
    if (this.noFencing) {
      this.logger.error({ epoch: this.epoch, reason }, 'UNSAFE TESTING: NOT fencing (self-fencing disabled): VIP and PostgreSQL left as they are');
      return Promise.resolve();
    }
    const epoch = this.epoch;
    this.demoting = (async () => {
      const started = performance.now();
      this.setRole('demoting', epoch);
      this.clearFenceTimer();
      this.logger.warn({ epoch, reason }, 'demoting: fencing this hub');
      await this.options.vip?.release().catch((err: unknown) => this.logger.error({ err: String(err) }, 'VIP release failed'));
      this.vipHeld = false;
      const fence = await this.pg.fence().catch((err: unknown) => {
        this.logger.error({ err: String(err) }, 'fencing PostgreSQL failed');
        return null;
      });
      this.logger.warn({ epoch, method: fence?.method ?? 'failed', demotionMs: Math.round(performance.now() - started) }, 'fenced');
      // Fenced: the watchdog's job is done (disarm only now, after PostgreSQL stopped).
      await this.watchdog.disarm();
      const keeper = this.keeper;
      this.keeper = null;
      if (releaseLease) await keeper?.release().catch(() => false);
      await keeper?.close();
      await this.options.publishLocal?.(null).catch(() => undefined);
      this.setRole('fenced', null);
      this.hooks.run('demote', this.settings.hooks.onDemote, { role: 'fenced', epoch });
      this.hooks.run('role-change', this.settings.hooks.onRoleChange, { role: 'fenced', epoch });
    })().finally(() => {
      this.demoting = null;
    });
    return this.demoting;
  }

  // ---------------------------------------------------------------- reports

  /**
   * Sends a report every reportIntervalMs, and at once when what it says about PostgreSQL or
   * the role changes (report-schedule.ts); one at a time, without holding up the loop: against a
   * leader gone silent a put waits out its attempt (seconds), and the loop has a primary to run.
   */
  private maybeReport(snapshot: PgSnapshot): void {
    const now = performance.now();
    const intervalMs = this.settings.timings.reportIntervalMs;
    const shape = reportShape(snapshot, this.role);
    if (!reportDue({ inFlight: this.reportInFlight, lastAtMs: this.lastReportAt, lastShape: this.reportedShape }, now, shape, intervalMs)) return;
    this.lastReportAt = now;
    this.reportedShape = shape;
    this.reportInFlight = true;
    const report = buildReport(this.settings, snapshot, this.role, this.epoch, ++this.reportSeq, this.vipHeld, this.hooks.lastFailure());
    void this.reportSession
      .put(reportKey(this.settings.name), encodeRecord(report), { timeoutMs: 2 * intervalMs })
      .catch(() => {
        this.reportedShape = null; // not delivered: the next step tries again
      })
      .finally(() => (this.reportInFlight = false));
  }

  private async hasData(): Promise<boolean> {
    const entries = await readdir(this.settings.postgres.dataDir).catch(() => [] as string[]);
    return entries.includes('PG_VERSION');
  }

  /** A start would bring PostgreSQL up in recovery (as a standby), not as a primary. */
  private async hasStandbySignal(): Promise<boolean> {
    const entries = await readdir(this.settings.postgres.dataDir).catch(() => [] as string[]);
    return entries.includes('standby.signal');
  }

  private setRole(role: AgentRole, epoch: number | null): void {
    if (role === this.role && epoch === this.epoch) return;
    this.role = role;
    this.epoch = epoch;
    this.lastReportAt = 0; // report the new role at the next loop, not up to a report interval later
    this.logger.info({ role, epoch }, 'hub role');
    for (const listener of this.roleListeners) listener(role, epoch);
  }
}

function withReason(what: string, reason: string): string {
  return reason === '' ? what : `${what}: ${reason}`;
}

function splitHostPort(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at).replace(/^\[|\]$/g, ''), Number(address.slice(at + 1))];
}

export function buildReport(settings: HubSettings, snapshot: PgSnapshot, role: AgentRole, epoch: number | null, seq: number, vipHeld: boolean | null, lastHookFailure: string | null): HubReport {
  const address = `${settings.postgres.advertiseHost}:${settings.postgres.port}`;
  const base = { name: settings.name, at: new Date().toISOString(), seq, epoch, tags: { nofailover: settings.tags.nofailover, priority: settings.tags.priority }, vipHeld, lastHookFailure };
  if (!snapshot.up) {
    return { ...base, role: 'stopped', postgres: { up: false, inRecovery: null, timeline: null, systemId: null, lsn: null, replayLsn: null, streaming: false, address }, standbys: [] };
  }
  if (!snapshot.inRecovery) {
    return {
      ...base,
      role: role === 'primary' ? 'primary' : 'unknown',
      postgres: { up: true, inRecovery: false, timeline: snapshot.timeline, systemId: snapshot.systemIdentifier.toString(), lsn: formatLsn(snapshot.currentWalLsn), replayLsn: null, streaming: false, address },
      standbys: snapshot.standbys.map((s) => ({
        name: s.applicationName,
        state: s.state,
        syncState: s.syncState,
        flushLsn: s.flushLsn === null ? null : formatLsn(s.flushLsn),
        replayLsn: s.replayLsn === null ? null : formatLsn(s.replayLsn),
        // current_lsn and pg_stat_replication are read one after the other: under load the
        // standby's flush position can already be past the primary's position read just before.
        // A negative lag would make the whole report invalid for its readers (lagBytes >= 0).
        lagBytes: s.flushLsn === null ? null : Math.max(0, Number(snapshot.currentWalLsn - s.flushLsn)),
        replayLagMs: s.replayLagMs,
      })),
    };
  }
  const received = snapshot.receiveLsn ?? snapshot.replayLsn;
  return {
    ...base,
    role: 'standby',
    epoch: null,
    postgres: {
      up: true,
      inRecovery: true,
      timeline: snapshot.timeline,
      systemId: snapshot.systemIdentifier.toString(),
      lsn: received === null ? null : formatLsn(received),
      replayLsn: snapshot.replayLsn === null ? null : formatLsn(snapshot.replayLsn),
      streaming: snapshot.walReceiver?.status === 'streaming',
      address,
    },
    standbys: [],
  };
}
