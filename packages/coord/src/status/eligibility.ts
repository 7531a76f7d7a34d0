import type { HubReport, SyncStandby } from '../records/records.js';
import { lsnValue } from './lsn.js';

/**
 * Whether a standby may take over the active-hub lease. The hub agent decides with this function
 * (packages/hub re-exports it) and the status model explains with it, so "why did it not fail
 * over?" is answered by the very rules that decided.
 */

/** Why a standby may not take over right now (stable codes; operators see them). */
export type IneligibleReason =
  | 'nofailover'
  | 'paused'
  | 'postgres-down'
  | 'not-in-recovery'
  | 'not-streaming-data'
  | 'not-sync-standby'
  | 'lag-unknown'
  | 'lag-too-high'
  | 'better-candidate';

export interface EligibilityInput {
  readonly self: string;
  readonly synchronous: 'off' | 'on' | 'strict';
  readonly maximumLagOnFailoverBytes: number;
  readonly nofailover: boolean;
  readonly priority: number;
  readonly paused: boolean;
  readonly postgresUp: boolean;
  readonly inRecovery: boolean | null;
  /** Last WAL received (or replayed, when no receiver ran since start), 'X/Y'. */
  readonly receivedLsn: string | null;
  /** The store's record of the synchronous standby (null when never written). */
  readonly syncRecord: SyncStandby | null;
  /** The last report of the (former) primary, for the async lag bound. */
  readonly primaryReport: HubReport | null;
  /** Other standbys' reports, for choosing the best candidate. */
  readonly otherStandbys: readonly HubReport[];
}

export interface Eligibility {
  readonly eligible: boolean;
  readonly reasons: readonly { readonly code: IneligibleReason; readonly message: string }[];
}

/**
 * May this standby take over the active-hub lease now? Pure: every reason is listed, so
 * "why did it not fail over?" has an answer. In synchronous mode only the recorded synchronous
 * standby may (it has every acknowledged commit); in asynchronous mode only one within the lag
 * bound of the primary's last report. Among several candidates the most advanced LSN wins, then
 * the higher priority, then the name (so exactly one tries).
 */
export function evaluateEligibility(input: EligibilityInput): Eligibility {
  const reasons: { code: IneligibleReason; message: string }[] = [];
  const add = (code: IneligibleReason, message: string): void => void reasons.push({ code, message });
  if (input.nofailover) add('nofailover', 'this hub is tagged nofailover');
  if (input.paused) add('paused', 'the cluster is paused (maintenance): no automatic failover');
  if (!input.postgresUp) add('postgres-down', 'PostgreSQL is not running or not answering');
  else if (input.inRecovery !== true) add('not-in-recovery', 'PostgreSQL is not a standby');
  const mine = lsnValue(input.receivedLsn);
  if (input.postgresUp && input.inRecovery === true && mine === null) add('not-streaming-data', 'no WAL position known yet');

  if (input.synchronous !== 'off') {
    const standby = input.syncRecord?.standby ?? null;
    if (standby !== input.self) {
      add('not-sync-standby', standby === null ? 'no synchronous standby is recorded: an automatic failover could lose acknowledged commits' : `the synchronous standby is ${standby}, not this hub`);
    }
  } else {
    const primaryLsn = lsnValue(input.primaryReport?.postgres.lsn ?? null);
    if (primaryLsn === null) add('lag-unknown', "the primary's last report has no WAL position: the data loss bound is unknown");
    else if (mine !== null) {
      const lag = primaryLsn - mine;
      if (lag > BigInt(input.maximumLagOnFailoverBytes)) add('lag-too-high', `${lag} bytes behind the primary's last report (maximum ${input.maximumLagOnFailoverBytes})`);
    }
  }

  if (mine !== null) {
    for (const other of input.otherStandbys) {
      if (other.tags.nofailover || other.role !== 'standby' || !other.postgres.up) continue;
      if (input.synchronous !== 'off' && input.syncRecord?.standby !== other.name) continue;
      const theirs = lsnValue(other.postgres.lsn);
      if (theirs === null) continue;
      const better = theirs > mine || (theirs === mine && (other.tags.priority > input.priority || (other.tags.priority === input.priority && other.name < input.self)));
      if (better) add('better-candidate', `${other.name} is further ahead or preferred`);
    }
  }
  return { eligible: reasons.length === 0, reasons };
}
