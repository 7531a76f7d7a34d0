import type { PgSnapshot } from '../postgres/observe.js';

/**
 * What a hub's report must not be late about: whether its PostgreSQL answers, as a primary or a
 * standby, whether a standby's WAL receiver runs, and the hub's role. Readers join reports
 * taken at different moments — a switchover's eligibility reads `up` from the standby's own
 * report and `streaming` from the primary's — so a change of any of these is reported at the
 * next loop step rather than up to a report interval later.
 */
export function reportShape(snapshot: PgSnapshot, role: string): string {
  if (!snapshot.up) return `down/${role}`;
  if (!snapshot.inRecovery) return `primary/${role}`;
  return `standby/${snapshot.walReceiver === null ? 'no-receiver' : snapshot.walReceiver.status}/${role}`;
}

/** Whether to send a report now: none in flight, and either the interval passed or the shape changed. */
export function reportDue(state: { readonly inFlight: boolean; readonly lastAtMs: number; readonly lastShape: string | null }, nowMs: number, shape: string, intervalMs: number): boolean {
  if (state.inFlight) return false;
  return shape !== state.lastShape || nowMs - state.lastAtMs >= intervalMs;
}
