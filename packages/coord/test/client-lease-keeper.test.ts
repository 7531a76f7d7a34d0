import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CoordClientError } from '../src/client/errors.js';
import type { LeaseKeeperEvents, LeaseKeeperSession, LeaseLostReason } from '../src/client/lease-keeper.js';
import { LeaseKeeper, leaseKeeperTiming } from '../src/client/lease-keeper.js';
import type { LeaseGrantRequest, LeaseKeepAliveRequest, LeaseReleaseRequest, MutationOptions } from '../src/client/types.js';
import { holderDeadlineMs } from '../src/lease/lease-rule.js';
import type { LeaseInfo } from '../src/state/types.js';

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

type GrantAnswer = { granted: boolean; lease: LeaseInfo };
type RenewAnswer = { renewed: true; lease: LeaseInfo } | { renewed: false; lease: LeaseInfo | null };

interface Call<Req, Res> {
  readonly request: Req;
  readonly options: MutationOptions | undefined;
  /** The fake clock when the keeper handed the request to the session. */
  readonly at: number;
  readonly answer: Deferred<Res>;
}

/** A session whose every request waits until the test answers it. */
class FakeSession implements LeaseKeeperSession {
  readonly grants: Call<LeaseGrantRequest, GrantAnswer>[] = [];
  readonly renewals: Call<LeaseKeepAliveRequest, RenewAnswer>[] = [];
  readonly releases: Call<LeaseReleaseRequest, { released: boolean }>[] = [];

  leaseGrant(request: LeaseGrantRequest, options?: MutationOptions): Promise<GrantAnswer> {
    const answer = deferred<GrantAnswer>();
    this.grants.push({ request, options, at: Date.now(), answer });
    return answer.promise;
  }

  leaseKeepAlive(request: LeaseKeepAliveRequest, options?: MutationOptions): Promise<RenewAnswer> {
    const answer = deferred<RenewAnswer>();
    this.renewals.push({ request, options, at: Date.now(), answer });
    return answer.promise;
  }

  leaseRelease(request: LeaseReleaseRequest, options?: MutationOptions): Promise<{ released: boolean }> {
    const answer = deferred<{ released: boolean }>();
    this.releases.push({ request, options, at: Date.now(), answer });
    return answer.promise;
  }
}

function lease(epoch: number, holder = 'me', renewCount = 0): LeaseInfo {
  return { name: 'primary', holder, ttlMs: TTL, metadata: {}, epoch, grantRevision: 10, renewCount };
}

const TTL = 3000;
const RENEW = 1000;
const MARGIN = 300;
/** How long one successful request keeps the lease valid. */
const VALIDITY = holderDeadlineMs(0, TTL, MARGIN);

/** Lets the keeper's promise continuations run (no time passes). */
async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

/** Moves the fake clock (Date.now, which the keeper's now() reads) and runs due timers. */
async function advance(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
  await flush();
}

function record(keeper: LeaseKeeper): { events: string[]; lost: LeaseLostReason[]; acquired: LeaseKeeperEvents['acquired'][] } {
  const events: string[] = [];
  const lost: LeaseLostReason[] = [];
  const acquired: LeaseKeeperEvents['acquired'][] = [];
  keeper.on('acquired', (e) => {
    events.push(`acquired:${e.epoch}`);
    acquired.push(e);
  });
  keeper.on('renewed', (e) => events.push(`renewed:${e.epoch}`));
  keeper.on('waiting', (e) => events.push(`waiting:${e.heldBy.holder}`));
  keeper.on('error', () => events.push('error'));
  keeper.onLost((reason) => {
    events.push(`lost:${reason}`);
    lost.push(reason);
  });
  return { events, lost, acquired };
}

describe('LeaseKeeper (holder side of the lease rule)', () => {
  /** How far the keeper's monotonic clock is ahead of the fake timers' clock. */
  let skew = 0;
  beforeEach(() => {
    skew = 0;
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function start(session: FakeSession, extra: Partial<Parameters<typeof keeperOptions>[0]> = {}): LeaseKeeper {
    return new LeaseKeeper(session, keeperOptions(extra));
  }

  function keeperOptions(extra: { renewIntervalMs?: number; marginMs?: number; retryDelayMs?: number }) {
    return { name: 'primary', holder: 'me', ttlMs: TTL, metadata: { address: '10.0.0.1:5432' }, renewIntervalMs: RENEW, marginMs: MARGIN, now: () => Date.now() + skew, ...extra };
  }

  it('validates its timing: renewIntervalMs below ttl/2, defaults ttl/3 and ttl/10', () => {
    expect(leaseKeeperTiming({ ttlMs: 3000 })).toMatchObject({ renewIntervalMs: 1000, marginMs: 300, validityMs: holderDeadlineMs(0, 3000, 300) });
    expect(() => leaseKeeperTiming({ ttlMs: 3000, renewIntervalMs: 1500 })).toThrow(/below ttlMs \/ 2/);
    expect(() => leaseKeeperTiming({ ttlMs: 3000, renewIntervalMs: 0 })).toThrow(CoordClientError);
    expect(() => leaseKeeperTiming({ ttlMs: 100 })).toThrow(/ttlMs/);
    expect(() => leaseKeeperTiming({ ttlMs: 3000, marginMs: -1 })).toThrow(/marginMs/);
    // A margin so large that one renewal would not last until the next.
    expect(() => leaseKeeperTiming({ ttlMs: 3000, renewIntervalMs: 1000, marginMs: 2000 })).toThrow(/not longer than renewIntervalMs/);
    try {
      leaseKeeperTiming({ ttlMs: 3000, renewIntervalMs: 2000 });
    } catch (err) {
      expect(err).toBeInstanceOf(CoordClientError);
      expect((err as CoordClientError).code).toBe('invalid-argument');
    }
  });

  it('acquires, then renews every interval; validity counts from each request\'s send time, not its answer', async () => {
    const session = new FakeSession();
    const keeper = start(session);
    const log = record(keeper);
    await flush();
    expect(session.grants).toHaveLength(1);
    expect(session.grants[0]!.request).toEqual({ name: 'primary', holder: 'me', ttlMs: TTL, metadata: { address: '10.0.0.1:5432' } });
    expect(session.grants[0]!.options).toMatchObject({ priority: true });
    expect(keeper.isHeld()).toBe(false);
    expect(keeper.state().status).toBe('acquiring');

    // The grant was sent at 0 and answered at 400: valid until 0 + VALIDITY, not 400 + VALIDITY.
    await advance(400);
    session.grants[0]!.answer.resolve({ granted: true, lease: lease(7) });
    await flush();
    expect(keeper.isHeld()).toBe(true);
    expect(keeper.epoch()).toBe(7);
    expect(keeper.validUntil()).toBe(VALIDITY);
    expect(log.acquired).toEqual([{ epoch: 7, lease: lease(7), validUntil: VALIDITY }]);

    // The first renewal goes out one interval after the grant was sent.
    await advance(599);
    expect(session.renewals).toHaveLength(0);
    await advance(1);
    expect(session.renewals).toHaveLength(1);
    const renewal = session.renewals[0]!;
    expect(renewal.at).toBe(1000);
    expect(renewal.request).toEqual({ name: 'primary', holder: 'me', epoch: 7 });
    // It may take no longer than the current validity.
    expect(renewal.options?.timeoutMs).toBe(Math.ceil(VALIDITY - 1000));
    await advance(250);
    renewal.answer.resolve({ renewed: true, lease: lease(7, 'me', 1) });
    await flush();
    expect(keeper.validUntil()).toBe(1000 + VALIDITY);
    expect(log.events).toEqual(['acquired:7', 'renewed:7']);

    // The next renewal: 1000 after the previous one was sent.
    await advance(749);
    expect(session.renewals).toHaveLength(1);
    await advance(1);
    expect(session.renewals).toHaveLength(2);
    expect(session.renewals[1]!.at).toBe(2000);
    await keeper.stop();
  });

  it('ends validity at the sent-at based deadline when a renewal never answers, even if no timer has run', async () => {
    const session = new FakeSession();
    const keeper = start(session);
    const log = record(keeper);
    await flush();
    session.grants[0]!.answer.resolve({ granted: true, lease: lease(3) });
    await flush();
    await advance(RENEW);
    expect(session.renewals).toHaveLength(1); // sent at 1000, and it hangs

    // The monotonic clock moves past the deadline while the event loop is "blocked" (no timer
    // runs): isHeld() still answers from the clock.
    skew = Math.floor(VALIDITY) - 1000;
    expect(keeper.isHeld()).toBe(true);
    expect(keeper.epoch()).toBe(3);
    skew = Math.ceil(VALIDITY) - 1000;
    expect(keeper.isHeld()).toBe(false);
    expect(keeper.epoch()).toBeNull();
    expect(keeper.state()).toMatchObject({ status: 'acquiring', epoch: null, validUntil: null });
    expect(log.lost).toEqual([]); // the timer has not run yet

    // The loop gets to run again: the timer at the deadline tells the listeners, once.
    await advance(Math.ceil(VALIDITY) - 1000);
    expect(log.lost).toEqual(['expired-locally']);
    expect(log.events).toEqual(['acquired:3', 'lost:expired-locally']);
    await keeper.stop();
  });

  it('fires onLost at the deadline by its timer (nothing else happening)', async () => {
    const session = new FakeSession();
    const keeper = start(session);
    const lostAt: number[] = [];
    keeper.onLost(() => lostAt.push(Date.now()));
    await flush();
    session.grants[0]!.answer.resolve({ granted: true, lease: lease(3) });
    await flush();
    await advance(5000);
    expect(lostAt).toEqual([Math.ceil(VALIDITY)]);
    await keeper.stop();
  });

  it('a late success after the local deadline does not bring the lease back; a fresh grant does', async () => {
    const session = new FakeSession();
    const keeper = start(session);
    const log = record(keeper);
    await flush();
    session.grants[0]!.answer.resolve({ granted: true, lease: lease(5) });
    await flush();
    await advance(RENEW);
    const hung = session.renewals[0]!;
    expect(hung.at).toBe(1000);

    await advance(Math.ceil(VALIDITY) - 1000);
    expect(log.lost).toEqual(['expired-locally']);
    expect(keeper.isHeld()).toBe(false);

    // The renewal's success arrives now. By the rule alone it would be valid until
    // 1000 + VALIDITY, but it was sent before the loss: ignored.
    await advance(50);
    hung.answer.resolve({ renewed: true, lease: lease(5, 'me', 1) });
    await flush();
    expect(keeper.isHeld()).toBe(false);
    expect(keeper.epoch()).toBeNull();
    expect(log.events).toEqual(['acquired:5', 'lost:expired-locally']);

    // The keeper asks again with a grant sent after the loss; its success counts.
    expect(session.grants).toHaveLength(2);
    const fresh = session.grants[1]!;
    expect(fresh.at).toBeGreaterThanOrEqual(Math.ceil(VALIDITY));
    await advance(20);
    fresh.answer.resolve({ granted: true, lease: lease(5, 'me', 2) });
    await flush();
    expect(keeper.isHeld()).toBe(true);
    expect(keeper.validUntil()).toBe(fresh.at + VALIDITY);
    expect(log.events).toEqual(['acquired:5', 'lost:expired-locally', 'acquired:5']);
    await keeper.stop();
  });

  it('a grant answered after its own validity is not acted on', async () => {
    const session = new FakeSession();
    const keeper = start(session);
    const log = record(keeper);
    await flush();
    await advance(Math.ceil(VALIDITY));
    session.grants[0]!.answer.resolve({ granted: true, lease: lease(2) });
    await flush();
    expect(keeper.isHeld()).toBe(false);
    expect(log.events).toEqual([]);
    expect(session.grants).toHaveLength(2); // asks again at once
    await keeper.stop();
  });

  it('renewed = false is lost at once, then it tries to acquire again', async () => {
    const session = new FakeSession();
    const keeper = start(session);
    const log = record(keeper);
    await flush();
    session.grants[0]!.answer.resolve({ granted: true, lease: lease(4) });
    await flush();
    await advance(RENEW);
    session.renewals[0]!.answer.resolve({ renewed: false, lease: lease(5, 'other') });
    await flush();
    expect(keeper.isHeld()).toBe(false);
    expect(log.events).toEqual(['acquired:4', 'lost:lost']);
    expect(session.grants).toHaveLength(2);
    session.grants[1]!.answer.resolve({ granted: false, lease: lease(5, 'other') });
    await flush();
    expect(log.events.at(-1)).toBe('waiting:other');
    expect(keeper.state().heldBy).toEqual(lease(5, 'other'));
    await keeper.stop();
  });

  it('while another holder has it, retries every renew interval until granted', async () => {
    const session = new FakeSession();
    const keeper = start(session);
    const log = record(keeper);
    const epochPromise = keeper.waitAcquired();
    await flush();
    for (let i = 0; i < 3; i++) {
      session.grants[i]!.answer.resolve({ granted: false, lease: lease(9, 'other') });
      await flush();
      await advance(RENEW - 1);
      expect(session.grants).toHaveLength(i + 1);
      await advance(1);
      expect(session.grants).toHaveLength(i + 2);
    }
    session.grants[3]!.answer.resolve({ granted: true, lease: lease(10) });
    await flush();
    await expect(epochPromise).resolves.toBe(10);
    expect(log.events).toEqual(['waiting:other', 'waiting:other', 'waiting:other', 'acquired:10']);
    await keeper.stop();
  });

  it('a failed renewal is retried soon; validity still ends at the last success\'s deadline', async () => {
    const session = new FakeSession();
    const keeper = start(session, { retryDelayMs: 100 });
    const log = record(keeper);
    await flush();
    session.grants[0]!.answer.resolve({ granted: true, lease: lease(1) });
    await flush();
    await advance(RENEW);
    session.renewals[0]!.answer.reject(new CoordClientError('unavailable', 'no leader'));
    await flush();
    expect(log.events).toEqual(['acquired:1', 'error']);
    await advance(100);
    expect(session.renewals).toHaveLength(2);
    expect(session.renewals[1]!.at).toBe(1100);
    session.renewals[1]!.answer.resolve({ renewed: true, lease: lease(1, 'me', 1) });
    await flush();
    expect(keeper.validUntil()).toBe(1100 + VALIDITY);
    await keeper.stop();
  });

  it('release() tells the listeners first, then releases the epoch on the server; idempotent', async () => {
    const session = new FakeSession();
    const keeper = start(session);
    const order: string[] = [];
    keeper.onLost((reason) => order.push(`lost:${reason}:${session.releases.length}`));
    await flush();
    session.grants[0]!.answer.resolve({ granted: true, lease: lease(6) });
    await flush();
    const released = keeper.release();
    expect(keeper.isHeld()).toBe(false);
    expect(keeper.state().status).toBe('stopped');
    expect(order).toEqual(['lost:released:0']);
    await flush();
    expect(session.releases).toHaveLength(1);
    expect(session.releases[0]!.request).toEqual({ name: 'primary', holder: 'me', epoch: 6 });
    session.releases[0]!.answer.resolve({ released: true });
    await expect(released).resolves.toBe(true);
    await expect(keeper.release()).resolves.toBe(true);
    expect(session.releases).toHaveLength(1);
    await advance(10_000);
    expect(session.grants).toHaveLength(1);
    expect(session.renewals).toHaveLength(0);
  });

  it('release() while a grant is out releases what that grant got', async () => {
    const session = new FakeSession();
    const keeper = start(session);
    const log = record(keeper);
    await flush();
    const released = keeper.release();
    session.grants[0]!.answer.resolve({ granted: true, lease: lease(8) });
    await flush();
    expect(log.events).toEqual([]); // never acquired as far as the holder is concerned
    expect(session.releases[0]!.request.epoch).toBe(8);
    session.releases[0]!.answer.resolve({ released: true });
    await expect(released).resolves.toBe(true);
  });

  it('stop() is lost(stopped) at once, sends nothing more, and is idempotent', async () => {
    const session = new FakeSession();
    const keeper = start(session);
    const log = record(keeper);
    await flush();
    session.grants[0]!.answer.resolve({ granted: true, lease: lease(2) });
    await flush();
    const stopped = keeper.stop();
    expect(keeper.isHeld()).toBe(false);
    expect(log.lost).toEqual(['stopped']);
    await stopped;
    await keeper.stop();
    await keeper[Symbol.asyncDispose]();
    expect(log.lost).toEqual(['stopped']);
    await advance(10_000);
    expect(session.renewals).toHaveLength(0);
    expect(session.releases).toHaveLength(0);
    await expect(keeper.waitAcquired()).rejects.toMatchObject({ code: 'closed' });
  });

  it('a closed session stops the keeper', async () => {
    const session = new FakeSession();
    const keeper = start(session);
    const log = record(keeper);
    await flush();
    session.grants[0]!.answer.resolve({ granted: true, lease: lease(2) });
    await flush();
    await advance(RENEW);
    session.renewals[0]!.answer.reject(new CoordClientError('closed', 'the client is closed'));
    await flush();
    expect(log.lost).toEqual(['stopped']);
    await keeper.whenStopped();
  });

  it('updateMetadata() goes out with the next renewal, and with later grants', async () => {
    const session = new FakeSession();
    const keeper = start(session);
    await flush();
    session.grants[0]!.answer.resolve({ granted: true, lease: lease(2) });
    await flush();
    keeper.updateMetadata({ address: '10.0.0.9:5432' });
    await advance(RENEW);
    expect(session.renewals[0]!.request).toEqual({ name: 'primary', holder: 'me', epoch: 2, metadata: { address: '10.0.0.9:5432' } });
    session.renewals[0]!.answer.resolve({ renewed: true, lease: lease(2) });
    await flush();
    await advance(RENEW);
    expect(session.renewals[1]!.request).toEqual({ name: 'primary', holder: 'me', epoch: 2 });
    session.renewals[1]!.answer.resolve({ renewed: false, lease: null });
    await flush();
    expect(session.grants[1]!.request.metadata).toEqual({ address: '10.0.0.9:5432' });
    await keeper.stop();
  });

  it('a listener that throws does not stop the keeper', async () => {
    const session = new FakeSession();
    const keeper = start(session);
    keeper.onAcquired(() => {
      throw new Error('listener bug');
    });
    await flush();
    session.grants[0]!.answer.resolve({ granted: true, lease: lease(2) });
    await flush();
    expect(keeper.isHeld()).toBe(true);
    await advance(RENEW);
    expect(session.renewals).toHaveLength(1);
    await keeper.stop();
  });
});
