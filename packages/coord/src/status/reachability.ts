/**
 * Since when each member has been unreachable, pure. Every probe of a member (a Cluster.Status
 * call to its client endpoint) is recorded with the time; a member is unreachable from the first
 * failed probe after its last answer. A member never probed is unknown.
 */

export interface MemberReachability {
  /** The last probe answered. */
  readonly reachable: boolean;
  /** Wall clock (ms) of the last answer, null when none since this tracker started. */
  readonly lastSeen: number | null;
  /** Wall clock (ms) of the first failed probe after the last answer; null while reachable. */
  readonly unreachableSince: number | null;
  /** The last failure, null while reachable. */
  readonly error: string | null;
  /** Wall clock (ms) of the last probe. */
  readonly probedAt: number;
}

export type ReachabilityState = ReadonlyMap<string, MemberReachability>;

export type ProbeResult = { readonly ok: true } | { readonly ok: false; readonly error: string };

/** The state after one probe of `member` at `now`. */
export function recordProbe(state: ReachabilityState, member: string, result: ProbeResult, now: number): ReachabilityState {
  const next = new Map(state);
  const before = state.get(member);
  if (result.ok) next.set(member, { reachable: true, lastSeen: now, unreachableSince: null, error: null, probedAt: now });
  else next.set(member, { reachable: false, lastSeen: before?.lastSeen ?? null, unreachableSince: before?.unreachableSince ?? now, error: result.error, probedAt: now });
  return next;
}

/** Forgets members that are no longer in the cluster. */
export function retainMembers(state: ReachabilityState, members: Iterable<string>): ReachabilityState {
  const keep = new Set(members);
  const next = new Map<string, MemberReachability>();
  for (const [name, value] of state) if (keep.has(name)) next.set(name, value);
  return next;
}
