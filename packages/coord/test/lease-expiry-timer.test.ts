import { describe, expect, it } from 'vitest';
import { EXPIRE_RETRY_MS, LeaseExpiryTimer } from '../src/lease/lease-expiry-timer.js';
import { MAX_CLOCK_DRIFT, holderDeadlineMs } from '../src/lease/lease-rule.js';

describe('LeaseExpiryTimer (leader side of the lease rule)', () => {
  it('expires only after a full TTL from the apply, and only while leading', () => {
    let now = 1000;
    const timer = new LeaseExpiryTimer(() => now);
    timer.applied('a', { name: 'a', epoch: 1, ttlMs: 3000, renewCount: 0 });
    expect(timer.due()).toEqual([]); // not leader: tracks nothing
    timer.becameLeader([]);
    timer.applied('a', { name: 'a', epoch: 1, ttlMs: 3000, renewCount: 0 });
    now += 2999;
    expect(timer.due()).toEqual([]);
    now += 1;
    expect(timer.due()).toEqual([{ name: 'a', epoch: 1, renewCount: 0 }]);
    expect(timer.due()).toEqual([]); // proposed: not again until the retry interval
    now += EXPIRE_RETRY_MS;
    expect(timer.due()).toEqual([{ name: 'a', epoch: 1, renewCount: 0 }]);
  });

  it('a renewal restarts the TTL; a freed lease is forgotten', () => {
    let now = 0;
    const timer = new LeaseExpiryTimer(() => now);
    timer.becameLeader([{ name: 'a', epoch: 2, ttlMs: 1000, renewCount: 5 }]);
    now = 900;
    timer.applied('a', { name: 'a', epoch: 2, ttlMs: 1000, renewCount: 6 });
    now = 1500;
    expect(timer.due()).toEqual([]);
    now = 1900;
    expect(timer.due()).toEqual([{ name: 'a', epoch: 2, renewCount: 6 }]);
    timer.applied('a', null);
    now = 5000;
    expect(timer.due()).toEqual([]);
  });

  it('a new leader restarts every TTL from its election, even if the old deadline had passed', () => {
    let now = 0;
    const timer = new LeaseExpiryTimer(() => now);
    now = 10_000; // long after the last renewal
    timer.becameLeader([{ name: 'a', epoch: 1, ttlMs: 2000, renewCount: 9 }]);
    expect(timer.deadlineMs('a')).toBe(12_000);
    now = 11_999;
    expect(timer.due()).toEqual([]);
    timer.lostLeadership();
    now = 20_000;
    expect(timer.due()).toEqual([]);
  });

  it('an idempotent re-apply of the same grant does not move the deadline', () => {
    let now = 0;
    const timer = new LeaseExpiryTimer(() => now);
    timer.becameLeader([]);
    timer.applied('a', { name: 'a', epoch: 1, ttlMs: 1000, renewCount: 0 });
    now = 800;
    timer.applied('a', { name: 'a', epoch: 1, ttlMs: 1000, renewCount: 0 });
    expect(timer.deadlineMs('a')).toBe(1000);
  });

  it('the holder deadline comes first in real time even with opposite clock drift', () => {
    // Holder clock slow by MAX_CLOCK_DRIFT, leader clock fast by as much: real elapsed time until
    // each believes its deadline passed, for a renewal sent at real 0 and applied at real 0.
    for (const ttlMs of [500, 3000, 60_000]) {
      for (const marginMs of [0, 50]) {
        const holderRealMs = holderDeadlineMs(0, ttlMs, marginMs) / (1 - MAX_CLOCK_DRIFT);
        const leaderRealMs = ttlMs / (1 + MAX_CLOCK_DRIFT);
        expect(holderRealMs).toBeLessThanOrEqual(leaderRealMs + 1e-9);
      }
    }
  });
});
