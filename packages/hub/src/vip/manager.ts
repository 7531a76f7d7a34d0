import { setTimeout as sleep } from 'node:timers/promises';
import { pino, type Logger } from 'pino';
import { parseVipAddress, validateInterfaceName, validateNetnsName } from './address.js';
import { runCommand, toVipError, type VipCommandSpec, type VipCommandResult } from './command.js';
import { VipError } from './errors.js';
import { parseAddrShow, type InterfaceState } from './ip-json.js';

export interface VipManagerOptions {
  /** IPv4 address with prefix length, e.g. `10.77.0.100/24`. */
  readonly address: string;
  /** The device the address goes on, e.g. `eth0`. */
  readonly interface: string;
  /**
   * Run `ip` / `arping` inside this network namespace (`ip -n NS …`, `ip netns exec NS arping …`).
   * For tests and the lab; production leaves it unset.
   */
  readonly netns?: string;
  /** Gratuitous ARPs sent after an add (default 5; 0 sends none). */
  readonly arpingCount?: number;
  /** Spacing of those ARPs (default 200 ms), as Pacemaker's IPaddr2 does. */
  readonly arpingIntervalMs?: number;
  /** Timeout of each `ip`/`arping` command (default 5000 ms). */
  readonly commandTimeoutMs?: number;
  /** Binaries, looked up on PATH unless absolute (defaults `ip`, `arping`). */
  readonly ipCommand?: string;
  readonly arpingCommand?: string;
  readonly logger?: Logger;
}

export type VipAction = 'added' | 'removed' | 'none';

/**
 * The result of `reconcile` / `release`. Failures are values: the caller (a loop) reports them.
 * `held` is what we know afterwards (undefined when the state could not be read).
 * `superseded`: a `reconcile(true)` requested before a later `release()` did not add the address
 * (or took it away again at once): the release wins.
 */
export type VipOutcome =
  | {
      readonly ok: true;
      readonly desired: boolean;
      readonly held: boolean;
      readonly action: VipAction;
      readonly durationMs: number;
      readonly superseded?: true;
    }
  | {
      readonly ok: false;
      readonly desired: boolean;
      readonly held: boolean | undefined;
      readonly error: VipError;
      readonly durationMs: number;
    };

/** `observe()`: the interface as it is now. */
export type VipObservation =
  | {
      readonly ok: true;
      /** The address is on the interface (with any prefix length). */
      readonly held: boolean;
      /** ... with exactly the configured prefix length. */
      readonly exact: boolean;
      readonly state: InterfaceState;
    }
  | { readonly ok: false; readonly error: VipError };

/** How a gratuitous-ARP burst went. */
export interface VipAnnouncement {
  readonly sent: number;
  readonly failed: number;
  /** Stopped early by release(), a removal, a new burst or close(). */
  readonly cancelled: boolean;
  readonly errors: readonly VipError[];
}

/** Last known state, without running anything. */
export interface VipStatus {
  readonly held: boolean | undefined;
  readonly lastError: VipError | undefined;
  /** Date.now() of the last successful observation or change. */
  readonly lastCheckedAt: number | undefined;
  readonly announcing: boolean;
}

interface Burst {
  readonly abort: AbortController;
  readonly done: Promise<VipAnnouncement>;
}

/** `ip addr del` of an address that is not there: old kernels (errno text) and new (extack). */
const EADDRNOTAVAIL_TEXT = /Cannot assign requested address|Address not found/;
/** `ip addr add` of an address that is there already. */
const EEXIST_TEXT = /File exists|Address already assigned/;

/**
 * Puts the virtual IP on an interface and takes it off, the way Pacemaker's IPaddr2 does, with
 * `ip addr add|del` and gratuitous ARP (`arping -U`). Every call compares the wanted state with
 * `ip -j addr show dev IFACE`, so repeating a call changes nothing.
 *
 * Ordering: `reconcile` calls run one at a time, in call order. `release()` does not queue: it
 * deletes the address at once, stops any ARP burst, and makes every add requested before it void
 * (an add already running when it arrives deletes its own address again). It returns once the
 * operations that were queued before it have settled, so "released" means the address is gone.
 */
export class VipManager {
  readonly address: string;
  readonly prefixLength: number;
  /** `address/prefixLength`. */
  readonly cidr: string;
  readonly interface: string;
  readonly netns: string | undefined;
  readonly arpingCount: number;
  readonly arpingIntervalMs: number;
  readonly commandTimeoutMs: number;
  readonly #ip: string;
  readonly #arping: string;
  readonly #log: Logger;

  /** Bumped by release(): adds requested under an older epoch are void. */
  #epoch = 0;
  #queue: Promise<void> = Promise.resolve();
  #closed = false;
  #closing: Promise<void> | undefined;
  #held: boolean | undefined;
  #lastError: VipError | undefined;
  #lastCheckedAt: number | undefined;
  #burst: Burst | undefined;
  #lastBurstDone: Promise<VipAnnouncement> | undefined;

  constructor(options: VipManagerOptions) {
    const parsed = parseVipAddress(options.address);
    if (typeof parsed === 'string') throw new VipError('INVALID_CONFIG', `VIP address: ${parsed}`);
    const ifErr = validateInterfaceName(options.interface);
    if (ifErr) throw new VipError('INVALID_CONFIG', `VIP interface: ${ifErr}`);
    if (options.netns !== undefined) {
      const nsErr = validateNetnsName(options.netns);
      if (nsErr) throw new VipError('INVALID_CONFIG', `VIP netns: ${nsErr}`);
    }
    const count = options.arpingCount ?? 5;
    const interval = options.arpingIntervalMs ?? 200;
    const timeout = options.commandTimeoutMs ?? 5000;
    if (!Number.isInteger(count) || count < 0 || count > 100) throw new VipError('INVALID_CONFIG', `arpingCount must be an integer 0..100, got ${count}`);
    if (!Number.isInteger(interval) || interval < 0 || interval > 60_000) throw new VipError('INVALID_CONFIG', `arpingIntervalMs must be an integer 0..60000, got ${interval}`);
    if (!Number.isInteger(timeout) || timeout < 100 || timeout > 600_000) throw new VipError('INVALID_CONFIG', `commandTimeoutMs must be an integer 100..600000, got ${timeout}`);
    for (const [name, value] of [['ipCommand', options.ipCommand], ['arpingCommand', options.arpingCommand]] as const) {
      if (value !== undefined && (value === '' || value.startsWith('-'))) throw new VipError('INVALID_CONFIG', `${name} ${JSON.stringify(value)} is not a command`);
    }
    this.address = parsed.address;
    this.prefixLength = parsed.prefixLength;
    this.cidr = parsed.cidr;
    this.interface = options.interface;
    this.netns = options.netns;
    this.arpingCount = count;
    this.arpingIntervalMs = interval;
    this.commandTimeoutMs = timeout;
    this.#ip = options.ipCommand ?? 'ip';
    this.#arping = options.arpingCommand ?? 'arping';
    this.#log = (options.logger ?? pino({ level: 'silent' })).child({
      component: 'vip',
      vip: this.cidr,
      dev: this.interface,
      ...(this.netns === undefined ? {} : { netns: this.netns }),
    });
  }

  /** Last known state (no command is run). */
  get status(): VipStatus {
    return { held: this.#held, lastError: this.#lastError, lastCheckedAt: this.#lastCheckedAt, announcing: this.#burst !== undefined };
  }

  /**
   * Makes the interface hold the address (`desired`) or not. Idempotent; never rejects.
   * After an add, the gratuitous-ARP burst runs in the background (see `whenAnnounced`).
   */
  reconcile(desired: boolean): Promise<VipOutcome> {
    const epoch = this.#epoch;
    return this.#enqueue(() => this.#reconcile(desired, epoch));
  }

  /**
   * Takes the address off now: the demotion path calls it before anything else. One
   * `ip addr del` in the common case; never rejects. Also stops an ARP burst in progress and
   * voids adds requested earlier. Works after close() too.
   */
  async release(): Promise<VipOutcome> {
    const started = Date.now();
    this.#epoch++;
    const before = this.#queue;
    this.#cancelBurst();
    let outcome: VipOutcome;
    const del = await this.#ipAddr('del', this.cidr);
    if (del.exitCode === 0) {
      this.#noteState(false);
      this.#log.info({ durationMs: Date.now() - started }, 'VIP released');
      outcome = { ok: true, desired: false, held: false, action: 'removed', durationMs: Date.now() - started };
    } else if (EADDRNOTAVAIL_TEXT.test(del.result.stderr)) {
      // Not there with our prefix length; it may be there with another one.
      outcome = await this.#removeAll(started, false);
    } else {
      outcome = this.#fail(false, toVipError(del.spec, del.result, 'releasing the VIP'), started, this.#held);
    }
    // Operations queued before us: a running add sees the new epoch and deletes its own address.
    await before;
    return outcome;
  }

  /** Reads the interface now (not queued). */
  async observe(): Promise<VipObservation> {
    const spec = this.#ipSpec(['-j', 'addr', 'show', 'dev', this.interface]);
    const r = await runCommand(spec);
    if (r.exitCode !== 0) return { ok: false, error: toVipError(spec, r, 'reading the interface') };
    const state = parseAddrShow(r.stdout, this.interface);
    if (typeof state === 'string') {
      return { ok: false, error: new VipError('UNEXPECTED_OUTPUT', `reading the interface: ip -j addr show: ${state}`) };
    }
    const mine = state.ipv4.filter((a) => a.address === this.address);
    return { ok: true, held: mine.length > 0, exact: mine.some((a) => a.prefixLength === this.prefixLength), state };
  }

  /** Whether the interface holds the address now. Rejects with a VipError if it cannot be read. */
  async held(): Promise<boolean> {
    const o = await this.observe();
    if (!o.ok) throw o.error;
    this.#noteState(o.held);
    return o.held;
  }

  /**
   * Sends a gratuitous-ARP burst now (e.g. an operator's "re-announce"), in the background;
   * replaces a burst in progress. Returns its report promise.
   */
  announce(): Promise<VipAnnouncement> {
    return this.#startBurst();
  }

  /** The report of the current (or last started) ARP burst; undefined if none was started. */
  whenAnnounced(): Promise<VipAnnouncement> | undefined {
    return this.#lastBurstDone;
  }

  /**
   * Stops background work (ARP burst) and refuses further reconcile calls (CLOSED). Does NOT take
   * the address off: whoever closes decides that with release(). Idempotent.
   */
  close(): Promise<void> {
    if (!this.#closing) {
      this.#closed = true;
      this.#cancelBurst();
      const last = this.#lastBurstDone;
      this.#closing = (async () => {
        await this.#queue;
        await last;
      })();
    }
    return this.#closing;
  }

  // ---------------------------------------------------------------------------------------------

  #enqueue(fn: () => Promise<VipOutcome>): Promise<VipOutcome> {
    const run = this.#queue.then(fn);
    this.#queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async #reconcile(desired: boolean, epoch: number): Promise<VipOutcome> {
    const started = Date.now();
    if (this.#closed) return this.#fail(desired, new VipError('CLOSED', 'the VIP manager is closed'), started, this.#held, true);
    try {
      if (!desired) return await this.#removeAll(started, true);
      if (epoch !== this.#epoch) return this.#superseded(started);
      const obs = await this.observe();
      if (!obs.ok) return this.#fail(true, obs.error, started, undefined);
      const mine = obs.state.ipv4.filter((a) => a.address === this.address);
      const wrong = mine.filter((a) => a.prefixLength !== this.prefixLength);
      if (!obs.state.up) this.#log.warn('the VIP interface is administratively down');
      if (obs.exact && wrong.length === 0) {
        this.#noteState(true);
        return { ok: true, desired: true, held: true, action: 'none', durationMs: Date.now() - started };
      }
      // The address with another prefix length: someone else's configuration or an old one of ours.
      for (const a of wrong) {
        const del = await this.#ipAddr('del', `${a.address}/${a.prefixLength}`);
        if (del.exitCode !== 0 && !EADDRNOTAVAIL_TEXT.test(del.result.stderr)) {
          return this.#fail(true, toVipError(del.spec, del.result, `removing ${a.address}/${a.prefixLength}`), started, true);
        }
        this.#log.warn({ found: `${a.address}/${a.prefixLength}` }, 'VIP was present with another prefix length; replaced');
      }
      if (epoch !== this.#epoch) return this.#superseded(started);
      if (obs.exact) {
        this.#noteState(true);
        return { ok: true, desired: true, held: true, action: 'none', durationMs: Date.now() - started };
      }
      const add = await this.#ipAddr('add', this.cidr);
      if (add.exitCode !== 0 && !EEXIST_TEXT.test(add.result.stderr)) {
        return this.#fail(true, toVipError(add.spec, add.result, 'adding the VIP'), started, false);
      }
      if (epoch !== this.#epoch) {
        // release() ran while we were adding; its delete may have come before our add. Undo.
        await this.#ipAddr('del', this.cidr);
        this.#noteState(false);
        return this.#superseded(started);
      }
      this.#noteState(true);
      if (add.exitCode !== 0) {
        // EEXIST: added by someone else between our read and our add. Held; no burst of ours.
        return { ok: true, desired: true, held: true, action: 'none', durationMs: Date.now() - started };
      }
      void this.#startBurst();
      this.#log.info({ durationMs: Date.now() - started }, 'VIP added');
      return { ok: true, desired: true, held: true, action: 'added', durationMs: Date.now() - started };
    } catch (err) {
      // Not expected (runCommand does not reject); reported like any failure, never thrown.
      return this.#fail(desired, new VipError('COMMAND_FAILED', `VIP reconcile failed: ${(err as Error).message}`, { cause: err }), started, undefined);
    }
  }

  /** Observes and deletes every entry of our address (any prefix length). */
  async #removeAll(started: number, stopBurst: boolean): Promise<VipOutcome> {
    if (stopBurst) this.#cancelBurst();
    const obs = await this.observe();
    if (!obs.ok) return this.#fail(false, obs.error, started, undefined);
    const mine = obs.state.ipv4.filter((a) => a.address === this.address);
    if (mine.length === 0) {
      this.#noteState(false);
      return { ok: true, desired: false, held: false, action: 'none', durationMs: Date.now() - started };
    }
    for (const a of mine) {
      const del = await this.#ipAddr('del', `${a.address}/${a.prefixLength}`);
      if (del.exitCode !== 0 && !EADDRNOTAVAIL_TEXT.test(del.result.stderr)) {
        return this.#fail(false, toVipError(del.spec, del.result, 'removing the VIP'), started, true);
      }
    }
    this.#noteState(false);
    this.#log.info({ durationMs: Date.now() - started }, 'VIP removed');
    return { ok: true, desired: false, held: false, action: 'removed', durationMs: Date.now() - started };
  }

  #superseded(started: number): VipOutcome {
    this.#log.debug('add superseded by a release');
    return { ok: true, desired: true, held: false, action: 'none', durationMs: Date.now() - started, superseded: true };
  }

  #fail(desired: boolean, error: VipError, started: number, held: boolean | undefined, quiet = false): VipOutcome {
    const repeated = this.#lastError?.code === error.code && this.#lastError.message === error.message;
    this.#lastError = error;
    if (!quiet) {
      if (repeated) this.#log.debug({ err: error }, 'VIP reconcile failed again');
      else this.#log.warn({ err: error }, 'VIP reconcile failed');
    }
    return { ok: false, desired, held, error, durationMs: Date.now() - started };
  }

  #noteState(held: boolean): void {
    this.#held = held;
    this.#lastError = undefined;
    this.#lastCheckedAt = Date.now();
  }

  #ipSpec(args: readonly string[]): VipCommandSpec {
    const ns = this.netns === undefined ? [] : ['-n', this.netns];
    return { command: this.#ip, args: [...ns, ...args], timeoutMs: this.commandTimeoutMs };
  }

  async #ipAddr(op: 'add' | 'del', cidr: string): Promise<{ exitCode: number | null; spec: VipCommandSpec; result: VipCommandResult }> {
    const spec = this.#ipSpec(['addr', op, cidr, 'dev', this.interface]);
    const result = await runCommand(spec);
    return { exitCode: result.spawnError ? null : result.exitCode, spec, result };
  }

  // ---- gratuitous ARP -------------------------------------------------------------------------

  #startBurst(): Promise<VipAnnouncement> {
    this.#cancelBurst();
    const abort = new AbortController();
    const count = this.#closed ? 0 : this.arpingCount;
    const done = this.#runBurst(count, abort.signal);
    const burst: Burst = { abort, done };
    this.#burst = burst;
    this.#lastBurstDone = done;
    void done.then((report) => {
      if (this.#burst === burst) this.#burst = undefined;
      if (report.errors.length > 0) {
        const first = report.errors[0] as VipError;
        const level = first.code === 'PERMISSION_DENIED' || first.code === 'COMMAND_MISSING' ? 'error' : 'warn';
        this.#log[level]({ err: first, sent: report.sent, failed: report.failed }, 'gratuitous ARP failed');
      } else {
        this.#log.debug({ sent: report.sent, cancelled: report.cancelled }, 'gratuitous ARP burst done');
      }
    });
    return done;
  }

  #cancelBurst(): void {
    const b = this.#burst;
    if (b) {
      this.#burst = undefined;
      b.abort.abort();
    }
  }

  async #runBurst(count: number, signal: AbortSignal): Promise<VipAnnouncement> {
    const args = ['-q', '-U', '-c', '1', '-I', this.interface, this.address];
    const spec: VipCommandSpec =
      this.netns === undefined
        ? { command: this.#arping, args, timeoutMs: this.commandTimeoutMs, signal }
        : { command: this.#ip, args: ['netns', 'exec', this.netns, this.#arping, ...args], timeoutMs: this.commandTimeoutMs, signal };
    // Each `arping -U -c 1` sends at once, then lingers ~1 s for replies that never come in -U
    // mode; so the processes overlap and the spacing is ours, not arping's.
    const runs: Promise<VipCommandResult>[] = [];
    for (let i = 0; i < count; i++) {
      if (i > 0) {
        try {
          await sleep(this.arpingIntervalMs, undefined, { signal });
        } catch {
          break; // aborted
        }
      }
      if (signal.aborted) break;
      runs.push(runCommand(spec));
    }
    const results = await Promise.all(runs);
    let sent = 0;
    let failed = 0;
    const errors: VipError[] = [];
    for (const r of results) {
      if (r.aborted && r.exitCode !== 0) continue; // killed by cancel after it had sent (or not): not a failure
      if (r.exitCode === 0) sent++;
      else {
        failed++;
        errors.push(toVipError(spec, r, 'gratuitous ARP'));
      }
    }
    return { sent, failed, cancelled: signal.aborted, errors };
  }
}
