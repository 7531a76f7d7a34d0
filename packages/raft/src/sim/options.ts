/** Options and result shapes of one simulated run. */

export const BUG_NAMES = ['skip-vote-persist', 'ack-before-persist'] as const;
export type BugName = (typeof BUG_NAMES)[number];

export function isBugName(name: string): name is BugName {
  return (BUG_NAMES as readonly string[]).includes(name);
}

export const DEFAULT_STEPS = 2000;
export const DEFAULT_TRACE_LINES = 30;

export interface SimOptions {
  readonly seed: number;
  /** Initial voters: 3 or 5 (default: 3 for even seeds, 5 for odd). */
  readonly nodes?: 3 | 5;
  /** Scheduler steps before the liveness phase (default 2000). */
  readonly steps?: number;
  /** Inject a driver bug to prove the checker catches it. */
  readonly bug?: BugName | null;
  /** Run the final liveness phase (default true). */
  readonly liveness?: boolean;
  /** Lines of trace to report with a violation (default 30). */
  readonly traceLines?: number;
}

export interface SimViolationReport {
  readonly invariant: string;
  readonly detail: string;
  readonly step: number;
  readonly time: number;
}

export interface SimStats {
  steps: number;
  ticks: number;
  proposals: number;
  acked: number;
  leaders: number;
  maxTerm: number;
  crashes: number;
  restarts: number;
  partitions: number;
  confChanges: number;
  transfers: number;
  readsServed: number;
  snapshotsCreated: number;
  snapshotsInstalled: number;
  delivered: number;
  dropped: number;
  highestCommitted: number;
  /** Ticks the liveness phase needed (-1 when it did not run or failed). */
  livenessTicks: number;
}

export interface SimResult {
  readonly seed: number;
  readonly nodes: 3 | 5;
  readonly steps: number;
  readonly bug: BugName | null;
  readonly violation: SimViolationReport | null;
  /** The last events before the violation (or before the end), formatted. */
  readonly trace: readonly string[];
  /** A digest of every event of the run: equal digests for equal seeds. */
  readonly digest: string;
  readonly stats: SimStats;
}

/** Counters of a run, all zero (liveness not measured: -1). */
export function emptySimStats(): SimStats {
  return {
    steps: 0,
    ticks: 0,
    proposals: 0,
    acked: 0,
    leaders: 0,
    maxTerm: 0,
    crashes: 0,
    restarts: 0,
    partitions: 0,
    confChanges: 0,
    transfers: 0,
    readsServed: 0,
    snapshotsCreated: 0,
    snapshotsInstalled: 0,
    delivered: 0,
    dropped: 0,
    highestCommitted: 0,
    livenessTicks: -1,
  };
}
