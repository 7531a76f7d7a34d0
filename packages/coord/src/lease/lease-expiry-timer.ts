/** What the expiry timer needs to know of a held lease. */
export interface HeldLease {
  readonly name: string;
  readonly epoch: number;
  readonly ttlMs: number;
  /** Bumped by every applied renewal: an expiry decided before it is stale. */
  readonly renewCount: number;
}

export interface ExpireProposal {
  readonly name: string;
  readonly epoch: number;
  readonly renewCount: number;
}

interface Deadline {
  readonly epoch: number;
  readonly renewCount: number;
  readonly deadlineMs: number;
  proposedAtMs: number | null;
}

/** An expiry proposal that has not taken effect is proposed again after this long. */
export const EXPIRE_RETRY_MS = 1_000;
/** Upper bound on leases tracked (the state machine bounds leases the same way). */
export const MAX_TRACKED_LEASES = 100_000;

/**
 * The Raft leader's side of the lease-safety rule (see lease-rule.ts): deadlines counted on the
 * leader's monotonic clock from the moment a grant or renewal was *applied*, restarted in full on
 * election, and expiry decided only by proposing Expire entries. Pure: time comes from `now`.
 */
export class LeaseExpiryTimer {
  private leading = false;
  private readonly deadlines = new Map<string, Deadline>();

  constructor(private readonly now: () => number) {}

  isLeading(): boolean {
    return this.leading;
  }

  /** This node became the Raft leader: every held lease gets its full TTL from now. */
  becameLeader(leases: Iterable<HeldLease>): void {
    this.leading = true;
    this.deadlines.clear();
    const now = this.now();
    for (const lease of leases) this.track(lease, now);
  }

  lostLeadership(): void {
    this.leading = false;
    this.deadlines.clear();
  }

  /** A command touching lease `name` was applied: `lease` is its state now (null: not held). */
  applied(name: string, lease: HeldLease | null): void {
    if (!this.leading) return;
    if (lease === null) {
      this.deadlines.delete(name);
      return;
    }
    const current = this.deadlines.get(name);
    // Re-applying the same grant (an idempotent retry) does not move the deadline back.
    if (current !== undefined && current.epoch === lease.epoch && current.renewCount === lease.renewCount) return;
    this.track(lease, this.now());
  }

  private track(lease: HeldLease, now: number): void {
    if (this.deadlines.size >= MAX_TRACKED_LEASES && !this.deadlines.has(lease.name)) return;
    this.deadlines.set(lease.name, { epoch: lease.epoch, renewCount: lease.renewCount, deadlineMs: now + lease.ttlMs, proposedAtMs: null });
  }

  /** Leases past their deadline whose expiry should be proposed now (marked as proposed). */
  due(): ExpireProposal[] {
    if (!this.leading) return [];
    const now = this.now();
    const out: ExpireProposal[] = [];
    for (const [name, d] of this.deadlines) {
      if (d.deadlineMs > now) continue;
      if (d.proposedAtMs !== null && now - d.proposedAtMs < EXPIRE_RETRY_MS) continue;
      d.proposedAtMs = now;
      out.push({ name, epoch: d.epoch, renewCount: d.renewCount });
    }
    return out;
  }

  /** The leader-side deadline of a lease (monotonic ms), for status and tests. */
  deadlineMs(name: string): number | undefined {
    return this.deadlines.get(name)?.deadlineMs;
  }
}
