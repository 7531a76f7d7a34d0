/**
 * The holder side of the lease-safety rule (packages/coord/src/lease/lease-rule.ts).
 *
 * A LeaseKeeper acquires a named lease (retrying while another holder has it), renews it every
 * renewIntervalMs, and knows at every instant whether it may act as the holder:
 *
 *  - every successful grant or renewal extends validity to
 *    holderDeadlineMs(sentAtMs, ttlMs, marginMs), where sentAtMs is the keeper's monotonic time
 *    taken just before the request was handed to the session (so before it was sent, and before
 *    any retry of it: a retried request's result counts from its first send);
 *  - isHeld() / epoch() compare that deadline with now() when they are called: a request that
 *    hangs, a late timer or a blocked event loop cannot extend validity;
 *  - a timer fires at the deadline and tells the 'lost' listeners ('expired-locally');
 *  - once lost, the lease counts as held again only after a fresh grant, sent after the loss,
 *    succeeds: a late success of a request sent before the loss is ignored.
 *
 * The Raft leader expires the lease a full TTL after it applied the last renewal, which is after
 * the holder's deadline in real time (see the rule), so the holder has always stopped first.
 */
import type { Logger } from 'pino';
import { pino } from 'pino';
import { holderDeadlineMs } from '../lease/lease-rule.js';
import { MAX_TTL_MS, MIN_TTL_MS } from '../state/limits.js';
import type { LeaseInfo, Metadata } from '../state/types.js';
import { CoordClientError } from './errors.js';
import type { LeaseGrantRequest, LeaseKeepAliveRequest, LeaseReleaseRequest, MutationOptions } from './types.js';

/** What a LeaseKeeper needs of a session (CoordSession has it; tests give fakes). */
export interface LeaseKeeperSession {
  leaseGrant(request: LeaseGrantRequest, options?: MutationOptions): Promise<{ readonly granted: boolean; readonly lease: LeaseInfo }>;
  leaseKeepAlive(
    request: LeaseKeepAliveRequest,
    options?: MutationOptions,
  ): Promise<{ readonly renewed: true; readonly lease: LeaseInfo } | { readonly renewed: false; readonly lease: LeaseInfo | null }>;
  leaseRelease(request: LeaseReleaseRequest, options?: MutationOptions): Promise<{ readonly released: boolean }>;
}

export interface LeaseKeeperOptions {
  readonly name: string;
  /** Who holds the lease: unique per process instance that may hold it. */
  readonly holder: string;
  /** MIN_TTL_MS..MAX_TTL_MS. */
  readonly ttlMs: number;
  /** Sent with every grant (e.g. {"address": "10.0.0.1:5432"}); see updateMetadata(). */
  readonly metadata?: Metadata;
  /** Default ttlMs / 3; must be below ttlMs / 2 and below the validity of one renewal. */
  readonly renewIntervalMs?: number;
  /** Subtracted from each validity period (lease-rule). Default ttlMs / 10. */
  readonly marginMs?: number;
  /** Monotonic milliseconds. Default performance.now. */
  readonly now?: () => number;
  /** The delay before retrying after a failed request. Default min(renewIntervalMs, 250). */
  readonly retryDelayMs?: number;
  /**
   * The deadline of one attempt of a grant or renewal (the session retries within the request's
   * deadline: the validity left). Default max(250, renewIntervalMs / 2): a partitioned leader
   * must not use up the validity before the request is tried on its successor.
   */
  readonly attemptTimeoutMs?: number;
  readonly logger?: Logger;
}

/**
 * Why the keeper stopped being the holder:
 *  - 'expired-locally': the validity deadline passed without a successful renewal;
 *  - 'lost': a renewal answered renewed = false (expired, or taken over);
 *  - 'released': release() was called;
 *  - 'stopped': stop() / close() was called, or the session / client was closed.
 */
export type LeaseLostReason = 'expired-locally' | 'lost' | 'released' | 'stopped';

export type LeaseKeeperStatus = 'acquiring' | 'held' | 'stopped';

export interface LeaseKeeperEvents {
  /** Granted: act as the holder, with this fencing epoch, until validUntil at the latest. */
  readonly acquired: { readonly epoch: number; readonly lease: LeaseInfo; readonly validUntil: number };
  readonly renewed: { readonly epoch: number; readonly lease: LeaseInfo; readonly validUntil: number };
  /** Stop acting as the holder (fence yourself) now. */
  readonly lost: { readonly reason: LeaseLostReason; readonly epoch: number; readonly lease: LeaseInfo | null };
  /** A grant found the lease held by another holder (emitted at each such attempt). */
  readonly waiting: { readonly heldBy: LeaseInfo };
  /** A request failed (the keeper carries on: validity still ends at its deadline). */
  readonly error: { readonly error: unknown; readonly phase: 'grant' | 'renew' };
}

export type LeaseKeeperEvent = keyof LeaseKeeperEvents;

export interface LeaseKeeperState {
  readonly status: LeaseKeeperStatus;
  /** The epoch while held, else null. */
  readonly epoch: number | null;
  /** The validity deadline (now()'s clock) while held, else null. */
  readonly validUntil: number | null;
  /** The other holder's lease, as the last grant attempt saw it (null when none was seen). */
  readonly heldBy: LeaseInfo | null;
}

/** The parameters a keeper runs with, validated. */
export interface LeaseKeeperTiming {
  readonly ttlMs: number;
  readonly renewIntervalMs: number;
  readonly marginMs: number;
  readonly retryDelayMs: number;
  readonly attemptTimeoutMs: number;
  /** How long one successful request keeps the lease valid: holderDeadlineMs(0, ttl, margin). */
  readonly validityMs: number;
}

function bad(message: string): never {
  throw new CoordClientError('invalid-argument', `keepLease: ${message}`);
}

export function leaseKeeperTiming(options: Pick<LeaseKeeperOptions, 'ttlMs' | 'renewIntervalMs' | 'marginMs' | 'retryDelayMs' | 'attemptTimeoutMs'>): LeaseKeeperTiming {
  const { ttlMs } = options;
  if (typeof ttlMs !== 'number' || !Number.isInteger(ttlMs) || ttlMs < MIN_TTL_MS || ttlMs > MAX_TTL_MS) bad(`ttlMs must be an integer in ${MIN_TTL_MS}..${MAX_TTL_MS}, got ${String(ttlMs)}`);
  const renewIntervalMs = options.renewIntervalMs ?? ttlMs / 3;
  if (typeof renewIntervalMs !== 'number' || !Number.isFinite(renewIntervalMs) || renewIntervalMs <= 0 || renewIntervalMs >= ttlMs / 2) {
    bad(`renewIntervalMs must be above 0 and below ttlMs / 2 (${ttlMs / 2}), got ${String(renewIntervalMs)}`);
  }
  const marginMs = options.marginMs ?? ttlMs / 10;
  if (typeof marginMs !== 'number' || !Number.isFinite(marginMs) || marginMs < 0) bad(`marginMs must be a non-negative number, got ${String(marginMs)}`);
  const validityMs = holderDeadlineMs(0, ttlMs, marginMs);
  if (validityMs <= renewIntervalMs) bad(`with marginMs ${marginMs}, a renewal keeps the lease valid for ${validityMs} ms, not longer than renewIntervalMs ${renewIntervalMs}`);
  const retryDelayMs = options.retryDelayMs ?? Math.min(renewIntervalMs, 250);
  if (typeof retryDelayMs !== 'number' || !Number.isFinite(retryDelayMs) || retryDelayMs <= 0) bad(`retryDelayMs must be above 0, got ${String(retryDelayMs)}`);
  const attemptTimeoutMs = options.attemptTimeoutMs ?? Math.max(250, renewIntervalMs / 2);
  if (typeof attemptTimeoutMs !== 'number' || !Number.isFinite(attemptTimeoutMs) || attemptTimeoutMs <= 0) bad(`attemptTimeoutMs must be above 0, got ${String(attemptTimeoutMs)}`);
  return { ttlMs, renewIntervalMs, marginMs, retryDelayMs, attemptTimeoutMs, validityMs };
}

type Listener<E extends LeaseKeeperEvent> = (event: LeaseKeeperEvents[E]) => void;

/** Failures worth retrying soon; anything else is retried at the renew interval. */
const TRANSIENT = new Set(['unavailable', 'timeout', 'resource-exhausted', 'overloaded', 'too-many-uncommitted-bytes']);

export class LeaseKeeper {
  readonly name: string;
  readonly holder: string;
  readonly timing: LeaseKeeperTiming;
  private readonly now: () => number;
  private readonly log: Logger;
  private metadata: Metadata;
  /** Metadata to send with the next renewal (updateMetadata). */
  private pendingMetadata: Metadata | undefined;

  private status: LeaseKeeperStatus = 'acquiring';
  private heldEpoch: number | null = null;
  private heldLease: LeaseInfo | null = null;
  private validUntilMs = Number.NEGATIVE_INFINITY;
  private heldBy: LeaseInfo | null = null;
  /** Moves on at every loss (and at stop): answers to requests of an older generation are ignored. */
  private generation = 0;
  /** The epoch the server last granted or renewed to us, even if we since lost it locally: what release() frees. */
  private serverEpoch: number | null = null;
  private stopped = false;

  private deadlineTimer: ReturnType<typeof setTimeout> | null = null;
  private sleepTimer: ReturnType<typeof setTimeout> | null = null;
  private wakeSleeper: (() => void) | null = null;
  private readonly listeners = new Map<LeaseKeeperEvent, Set<(event: never) => void>>();
  private readonly loopDone: Promise<void>;
  private releasing: Promise<boolean> | null = null;

  constructor(
    private readonly session: LeaseKeeperSession,
    options: LeaseKeeperOptions,
  ) {
    if (typeof options.name !== 'string' || options.name === '') bad('name must be a non-empty string');
    if (typeof options.holder !== 'string' || options.holder === '') bad('holder must be a non-empty string');
    this.name = options.name;
    this.holder = options.holder;
    this.timing = leaseKeeperTiming(options);
    this.now = options.now ?? (() => performance.now());
    this.log = (options.logger ?? pino({ level: 'silent' })).child({ lease: options.name, holder: options.holder });
    this.metadata = options.metadata ?? {};
    // Started on the next tick, so that listeners attached right after construction see everything.
    this.loopDone = Promise.resolve().then(() => this.run());
  }

  // ------------------------------------------------------------------- the holder's view

  /** Whether this process may act as the holder right now (evaluated against now()). */
  isHeld(): boolean {
    return this.status === 'held' && this.now() < this.validUntilMs;
  }

  /** The fencing epoch while isHeld(), else null. */
  epoch(): number | null {
    return this.isHeld() ? this.heldEpoch : null;
  }

  /** The validity deadline (on now()'s clock) while isHeld(), else null. */
  validUntil(): number | null {
    return this.isHeld() ? this.validUntilMs : null;
  }

  state(): LeaseKeeperState {
    const held = this.isHeld();
    return {
      status: this.status === 'held' && !held ? 'acquiring' : this.status,
      epoch: held ? this.heldEpoch : null,
      validUntil: held ? this.validUntilMs : null,
      heldBy: this.heldBy,
    };
  }

  // ------------------------------------------------------------------------ events

  /** Adds a listener; returns the function that removes it. Listeners run synchronously. */
  on<E extends LeaseKeeperEvent>(event: E, listener: Listener<E>): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as (event: never) => void);
    return () => set.delete(listener as (event: never) => void);
  }

  /** Called as soon as the lease stops being held, with why. */
  onLost(listener: (reason: LeaseLostReason, event: LeaseKeeperEvents['lost']) => void): () => void {
    return this.on('lost', (e) => listener(e.reason, e));
  }

  onAcquired(listener: (epoch: number, event: LeaseKeeperEvents['acquired']) => void): () => void {
    return this.on('acquired', (e) => listener(e.epoch, e));
  }

  /** Resolves with the epoch once held (at once if held now); rejects when stopped first. */
  waitAcquired(): Promise<number> {
    const epoch = this.epoch();
    if (epoch !== null) return Promise.resolve(epoch);
    if (this.stopped) return Promise.reject(new CoordClientError('closed', `lease ${this.name}: the keeper is stopped`));
    return new Promise((resolve, reject) => {
      const offAcquired = this.on('acquired', (e) => {
        offAcquired();
        offLost();
        resolve(e.epoch);
      });
      const offLost = this.on('lost', (e) => {
        if (e.reason === 'released' || e.reason === 'stopped') {
          offAcquired();
          offLost();
          reject(new CoordClientError('closed', `lease ${this.name}: the keeper was stopped`));
        }
      });
      // stop() while acquiring emits nothing: watch for it too.
      void this.loopDone.then(() => {
        offAcquired();
        offLost();
        reject(new CoordClientError('closed', `lease ${this.name}: the keeper was stopped`));
      });
    });
  }

  private emit<E extends LeaseKeeperEvent>(event: E, payload: LeaseKeeperEvents[E]): void {
    const set = this.listeners.get(event);
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<E>)(payload);
      } catch (err: unknown) {
        this.log.error({ err, event }, 'lease keeper: a listener threw');
      }
    }
  }

  // ----------------------------------------------------------------------- control

  /** The metadata to send from now on: with the next renewal, and with every later grant. */
  updateMetadata(metadata: Metadata): void {
    this.metadata = metadata;
    this.pendingMetadata = metadata;
    this.wake();
  }

  /**
   * Stops keeping the lease, without releasing it on the server (it expires there after its
   * TTL). If held, 'lost' ('stopped') is emitted at once. Idempotent. The answer to a request in
   * flight, if any, is ignored (whenStopped() resolves once it has come).
   */
  stop(): Promise<void> {
    this.halt('stopped');
    return Promise.resolve();
  }

  close(): Promise<void> {
    return this.stop();
  }

  /**
   * Resolves once the keeper's loop has ended: after stop(), release() or its session / client
   * closing, when the request that was in flight (if any) has finished.
   */
  whenStopped(): Promise<void> {
    return this.loopDone;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /**
   * Stops keeping the lease and releases it on the server, so that another holder can have it at
   * once. If held, 'lost' ('released') is emitted before the release is sent. Resolves with
   * whether the server released it (false: it was not held by us any more). Idempotent.
   */
  release(): Promise<boolean> {
    if (this.releasing === null) {
      this.halt('released');
      this.releasing = this.loopDone.then(async () => {
        const epoch = this.serverEpoch;
        if (epoch === null) return false;
        const result = await this.session.leaseRelease({ name: this.name, holder: this.holder, epoch });
        this.serverEpoch = null;
        return result.released;
      });
    }
    return this.releasing;
  }

  // -------------------------------------------------------------------- internals

  /** The synchronous part of stopping: no longer held from this instant. */
  private halt(reason: 'stopped' | 'released'): void {
    if (this.stopped) return;
    if (this.status === 'held') {
      if (this.now() >= this.validUntilMs) this.lose('expired-locally', this.heldLease);
      else this.lose(reason, this.heldLease);
    }
    this.stopped = true;
    this.status = 'stopped';
    this.generation++;
    this.clearDeadline();
    this.wake();
  }

  private lose(reason: LeaseLostReason, lease: LeaseInfo | null): void {
    const epoch = this.heldEpoch ?? 0;
    this.status = this.stopped ? 'stopped' : 'acquiring';
    this.heldEpoch = null;
    this.heldLease = null;
    this.validUntilMs = Number.NEGATIVE_INFINITY;
    this.generation++;
    this.clearDeadline();
    this.log.warn({ reason, epoch }, 'lease keeper: lease lost');
    this.emit('lost', { reason, epoch, lease });
    this.wake();
  }

  private clearDeadline(): void {
    if (this.deadlineTimer !== null) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = null;
  }

  /** Arms the timer that ends validity at validUntilMs. */
  private armDeadline(): void {
    this.clearDeadline();
    const generation = this.generation;
    this.deadlineTimer = setTimeout(() => {
      this.deadlineTimer = null;
      if (generation !== this.generation || this.status !== 'held') return;
      if (this.now() >= this.validUntilMs) this.lose('expired-locally', this.heldLease);
      else this.armDeadline(); // the timer ran early on now()'s clock
    }, Math.max(0, Math.ceil(this.validUntilMs - this.now())));
  }

  private wake(): void {
    const wake = this.wakeSleeper;
    this.wakeSleeper = null;
    wake?.();
  }

  private sleepUntil(at: number): Promise<void> {
    const ms = at - this.now();
    if (ms <= 0 || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        if (this.sleepTimer !== null) clearTimeout(this.sleepTimer);
        this.sleepTimer = null;
        this.wakeSleeper = null;
        resolve();
      };
      this.wakeSleeper = done;
      this.sleepTimer = setTimeout(done, Math.ceil(ms));
    });
  }

  private async run(): Promise<void> {
    let nextAt = this.now();
    while (!this.stopped) {
      await this.sleepUntil(nextAt);
      if (this.stopped) break;
      if (this.status === 'held') {
        if (this.now() >= this.validUntilMs) {
          this.lose('expired-locally', this.heldLease);
          nextAt = this.now();
        } else {
          nextAt = await this.renewOnce();
        }
      } else {
        nextAt = await this.grantOnce();
      }
    }
  }

  private failed(err: unknown, phase: 'grant' | 'renew'): number {
    const code = err instanceof CoordClientError ? err.code : null;
    if (code === 'closed') {
      this.halt('stopped');
      return this.now();
    }
    this.log.debug({ err, phase }, 'lease keeper: request failed');
    this.emit('error', { error: err, phase });
    return this.now() + (code !== null && TRANSIENT.has(code) ? this.timing.retryDelayMs : this.timing.renewIntervalMs);
  }

  private async grantOnce(): Promise<number> {
    const generation = this.generation;
    const sentAt = this.now();
    let result: Awaited<ReturnType<LeaseKeeperSession['leaseGrant']>>;
    try {
      result = await this.session.leaseGrant(
        { name: this.name, holder: this.holder, ttlMs: this.timing.ttlMs, metadata: this.metadata },
        // An answer later than this could not make the lease valid any more.
        { timeoutMs: Math.max(1, Math.floor(this.timing.validityMs)), attemptTimeoutMs: this.timing.attemptTimeoutMs, priority: true },
      );
    } catch (err: unknown) {
      if (this.stopped) return this.now();
      return this.failed(err, 'grant');
    }
    if (result.granted) {
      this.serverEpoch = result.lease.epoch;
      this.pendingMetadata = undefined;
    }
    if (this.stopped || generation !== this.generation) return this.now();
    if (!result.granted) {
      this.heldBy = result.lease;
      this.emit('waiting', { heldBy: result.lease });
      return this.now() + this.timing.renewIntervalMs;
    }
    const validUntil = holderDeadlineMs(sentAt, this.timing.ttlMs, this.timing.marginMs);
    if (this.now() >= validUntil) {
      // Granted, but the answer came too late to act on: ask again (the holder's re-grant keeps the epoch).
      this.log.warn({ epoch: result.lease.epoch }, 'lease keeper: a grant answered after its validity; granting again');
      return this.now();
    }
    this.status = 'held';
    this.heldEpoch = result.lease.epoch;
    this.heldLease = result.lease;
    this.heldBy = null;
    this.validUntilMs = validUntil;
    this.armDeadline();
    this.log.info({ epoch: result.lease.epoch }, 'lease keeper: acquired');
    this.emit('acquired', { epoch: result.lease.epoch, lease: result.lease, validUntil });
    return sentAt + this.timing.renewIntervalMs;
  }

  private async renewOnce(): Promise<number> {
    const generation = this.generation;
    const epoch = this.heldEpoch as number;
    const metadata = this.pendingMetadata;
    const sentAt = this.now();
    let result: Awaited<ReturnType<LeaseKeeperSession['leaseKeepAlive']>>;
    try {
      result = await this.session.leaseKeepAlive(
        { name: this.name, holder: this.holder, epoch, ...(metadata === undefined ? {} : { metadata }) },
        // Past the current validity the answer is of no use (a late success is ignored).
        { timeoutMs: Math.max(1, Math.ceil(this.validUntilMs - sentAt)), attemptTimeoutMs: this.timing.attemptTimeoutMs, priority: true },
      );
    } catch (err: unknown) {
      if (this.stopped) return this.now();
      if (metadata !== undefined && this.pendingMetadata === metadata && err instanceof CoordClientError && err.code === 'invalid-metadata') {
        this.pendingMetadata = undefined;
      }
      return this.failed(err, 'renew');
    }
    if (result.renewed) {
      this.serverEpoch = epoch;
      if (this.pendingMetadata === metadata) this.pendingMetadata = undefined;
    } else {
      this.serverEpoch = result.lease !== null && result.lease.holder === this.holder ? result.lease.epoch : null;
    }
    // Lost (or stopped) while the request was out: its answer does not bring the lease back.
    if (this.stopped || generation !== this.generation) return this.now();
    if (!result.renewed) {
      this.lose('lost', result.lease);
      return this.now();
    }
    if (this.now() >= this.validUntilMs) {
      // The deadline passed before this answer was handled (the timer had not run yet).
      this.lose('expired-locally', result.lease);
      return this.now();
    }
    const validUntil = holderDeadlineMs(sentAt, this.timing.ttlMs, this.timing.marginMs);
    this.validUntilMs = Math.max(this.validUntilMs, validUntil);
    this.heldLease = result.lease;
    this.armDeadline();
    this.emit('renewed', { epoch, lease: result.lease, validUntil: this.validUntilMs });
    return sentAt + this.timing.renewIntervalMs;
  }
}
