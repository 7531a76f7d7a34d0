import { pino, type Logger } from 'pino';
import { VipError } from './errors.js';
import type { VipManager, VipOutcome } from './manager.js';

export interface VipReconcilerOptions {
  readonly manager: VipManager;
  /**
   * Whether this node should hold the VIP now (e.g. "I hold the active-hub lease and it has not
   * expired"). Called once per round. If it throws or rejects, the round treats the answer as
   * `false`: when in doubt, do not hold the address.
   */
  readonly desired: () => boolean | Promise<boolean>;
  /** Time between the end of one round and the start of the next (default 1000 ms). */
  readonly intervalMs?: number;
  /** Called after every round with its outcome (errors included); must not throw. */
  readonly onOutcome?: (outcome: VipOutcome) => void;
  readonly logger?: Logger;
}

/**
 * Runs `manager.reconcile(desired())` every `intervalMs` (rounds never overlap) until closed.
 * Errors are reported (log on change, `onOutcome`, `lastOutcome`), never thrown: a missing
 * capability or interface keeps being retried and reported, the loop does not die.
 */
export class VipReconciler {
  readonly intervalMs: number;
  readonly #manager: VipManager;
  readonly #desired: () => boolean | Promise<boolean>;
  readonly #onOutcome: ((o: VipOutcome) => void) | undefined;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #started = false;
  #closed = false;
  #closing: Promise<void> | undefined;
  #kickRequested = false;
  #last: VipOutcome | undefined;
  #lastErrorKey: string | undefined;
  #rounds = 0;

  constructor(options: VipReconcilerOptions) {
    const interval = options.intervalMs ?? 1000;
    if (!Number.isInteger(interval) || interval < 1 || interval > 3_600_000) {
      throw new VipError('INVALID_CONFIG', `intervalMs must be an integer 1..3600000, got ${interval}`);
    }
    this.intervalMs = interval;
    this.#manager = options.manager;
    this.#desired = options.desired;
    this.#onOutcome = options.onOutcome;
    this.#log = (options.logger ?? pino({ level: 'silent' })).child({ component: 'vip-reconciler' });
  }

  /** The outcome of the last finished round. */
  get lastOutcome(): VipOutcome | undefined {
    return this.#last;
  }

  /** Rounds finished so far. */
  get rounds(): number {
    return this.#rounds;
  }

  /** Starts the loop: the first round runs at once. Calling it again does nothing. */
  start(): this {
    if (this.#started || this.#closed) return this;
    this.#started = true;
    this.#schedule(0);
    return this;
  }

  /**
   * Runs a round as soon as possible (e.g. the lease changed hands) instead of waiting for the
   * timer. If a round is running, one more follows it.
   */
  kick(): void {
    if (!this.#started || this.#closed) return;
    if (this.#running) {
      this.#kickRequested = true;
      return;
    }
    this.#schedule(0);
  }

  /** Stops the loop and waits for a running round to finish. Idempotent; does not release the VIP. */
  close(): Promise<void> {
    if (!this.#closing) {
      this.#closed = true;
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = undefined;
      const running = this.#running;
      this.#closing = (async () => {
        await running;
      })();
    }
    return this.#closing;
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#round().finally(() => {
        this.#running = undefined;
        if (this.#closed) return;
        const again = this.#kickRequested;
        this.#kickRequested = false;
        this.#schedule(again ? 0 : this.intervalMs);
      });
    }, delayMs);
  }

  async #round(): Promise<void> {
    let desired: boolean;
    try {
      desired = (await this.#desired()) === true;
    } catch (err) {
      this.#log.error({ err }, 'desired() failed; treating it as "do not hold the VIP"');
      desired = false;
    }
    if (this.#closed) return;
    const outcome = await this.#manager.reconcile(desired);
    this.#last = outcome;
    this.#rounds++;
    if (outcome.ok) {
      if (this.#lastErrorKey !== undefined) this.#log.info({ held: outcome.held }, 'VIP reconcile recovered');
      this.#lastErrorKey = undefined;
      if (outcome.action !== 'none') this.#log.info({ action: outcome.action, durationMs: outcome.durationMs }, 'VIP reconciled');
    } else {
      const key = `${outcome.error.code}:${outcome.error.message}`;
      if (key !== this.#lastErrorKey) this.#log.error({ err: outcome.error, desired }, 'VIP reconcile failed (will retry)');
      this.#lastErrorKey = key;
    }
    try {
      this.#onOutcome?.(outcome);
    } catch (err) {
      this.#log.error({ err }, 'onOutcome threw');
    }
  }
}
