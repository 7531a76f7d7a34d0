/**
 * # The lease-safety rule
 *
 * A lease is safe when its holder always believes it has lost the lease *before* anyone else can
 * be granted it. hubha gets there with two clocks that never talk to each other, both monotonic
 * (performance.now(): wall-clock jumps do not matter), and one bound on how fast they may drift
 * apart (`MAX_CLOCK_DRIFT`).
 *
 * **The holder** (client side, `HolderLeaseClock`) counts from the moment it *sent* the grant or
 * renewal that succeeded: it considers the lease valid until
 *
 *     sentAt + ttl × (1 − ρ) / (1 + ρ) − marginMs          (ρ = MAX_CLOCK_DRIFT)
 *
 * and stops acting as the holder (fences itself) at that instant at the latest.
 *
 * **The Raft leader** (server side, `LeaseExpiryTimer`) is the only one that decides expiry. It
 * counts from the moment it *applied* the grant or renewal, on its own monotonic clock, and when
 * `appliedAt + ttl` has passed it proposes an `Expire(name, epoch, renewCount)` entry through Raft;
 * only once that entry is applied (identically on every replica) is the lease free. An expiry
 * that races a renewal is stale (the renew count moved on) and is ignored on apply.
 *
 * **A newly elected leader** does not know when the last renewal was applied by its predecessor,
 * so it restarts every lease's full TTL from its election.
 *
 * Why it holds: the renewal is applied after it was sent (causality), so the leader's deadline
 * starts later than the holder's; the leader's TTL is the full TTL while the holder's is shortened
 * by the drift bound and a margin, so even if the leader's clock runs fast by MAX_CLOCK_DRIFT and
 * the holder's slow by as much, the holder's deadline comes first in real time. Across a leader
 * change: a renewal committed under the old leader was acknowledged by a member that also voted
 * for the new leader, and it acknowledged before it voted, so the renewal was sent before the new
 * leader's election, from which the new leader counts a full TTL; a renewal the new leader
 * commits itself is timed from its own apply. No one is granted the lease before the Expire entry
 * is applied, which is after the deadline.
 *
 * The known hole is a *process pause* of the holder (GC, SIGSTOP, a VM freeze) between checking
 * its deadline and acting on it: no lease scheme closes it alone. hubha closes it for
 * acknowledged writes with synchronous replication and fencing epochs carried by every write
 * (see the hub sidecar), and offers the Linux watchdog.
 *
 * The tests that check it: packages/coord/test/lease-expiry-timer.test.ts (the arithmetic, with
 * opposite clock drift) and test/cluster/lease-safety.test.ts (end to end: holders in their own
 * processes, one frozen, the Raft leader killed; no overlap on the shared monotonic clock).
 */

/** Assumed bound on the relative rate difference of two nodes' monotonic clocks (1%). */
export const MAX_CLOCK_DRIFT = 0.01;

/** The instant (holder's monotonic ms) until which a holder may act on a lease. */
export function holderDeadlineMs(sentAtMs: number, ttlMs: number, marginMs: number): number {
  // The holder's clock may run slow by ρ and the leader's fast by ρ: scaling by (1-ρ)/(1+ρ) makes
  // the holder's deadline come first in real time even with a zero margin.
  return sentAtMs + (ttlMs * (1 - MAX_CLOCK_DRIFT)) / (1 + MAX_CLOCK_DRIFT) - marginMs;
}
