/**
 * Start times of degraded-state reasons across evaluations, pure. A reason is identified by its
 * key (code, member, and a discriminator for codes that can occur several times per member); the
 * time it started is, in order of preference:
 *  - its intrinsic start, when the data says (paused.at, "unreachable since", a report's time plus
 *    the staleness threshold, ...);
 *  - the `since` of the same reason in the previous evaluation (it has been going on since then);
 *  - now (first seen in this evaluation).
 * A reason absent from one evaluation is forgotten: if it comes back, it starts again.
 */

/** A reason as found by one evaluation, before its start time is settled. */
export interface FoundReason<Code extends string = string> {
  readonly code: Code;
  /** The member concerned, null for the cluster as a whole. */
  readonly member: string | null;
  readonly message: string;
  /** When the data itself says when the condition started (ms since the epoch). */
  readonly startedAt?: number | undefined;
  /** Distinguishes several reasons of one code and member (default ''). */
  readonly discriminator?: string | undefined;
}

/** A reason with its start time (ISO 8601). */
export interface TrackedReason<Code extends string = string> {
  readonly code: Code;
  readonly member: string | null;
  readonly message: string;
  readonly since: string;
  /** code|member|discriminator: the identity across evaluations. */
  readonly key: string;
}

export function reasonKey(code: string, member: string | null, discriminator = ''): string {
  return `${code}|${member ?? ''}|${discriminator}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * Settles the start time of each reason found now, given the previous evaluation's reasons.
 * Pure: the same arguments always give the same result. Duplicate keys keep the first.
 */
export function carryReasonStarts<Code extends string>(previous: readonly TrackedReason<string>[], found: readonly FoundReason<Code>[], now: number): TrackedReason<Code>[] {
  const before = new Map<string, string>();
  for (const reason of previous) if (!before.has(reason.key)) before.set(reason.key, reason.since);
  const out: TrackedReason<Code>[] = [];
  const seen = new Set<string>();
  for (const reason of found) {
    const key = reasonKey(reason.code, reason.member, reason.discriminator ?? '');
    if (seen.has(key)) continue;
    seen.add(key);
    const intrinsic = reason.startedAt;
    const since = intrinsic !== undefined && Number.isFinite(intrinsic) ? iso(Math.min(intrinsic, now)) : (before.get(key) ?? iso(now));
    out.push({ code: reason.code, member: reason.member, message: reason.message, since, key });
  }
  return out;
}
