import type { ActiveHub, HandoverRequest, HistoryEntry, HubReport, Paused, Rejoin, SyncStandby } from '../records/records.js';
import type { IneligibleReason } from './eligibility.js';
import type { TrackedReason } from './reason-tracker.js';

/**
 * The cluster's status as every surface shows it (GetStatus, GET /v1/status, `hubha status`):
 * computed in one place, computeClusterStatus, from the store's records, the Raft view and the
 * time. Plain JSON values only (times are ISO 8601 strings, sizes numbers).
 */

export type HaState = 'healthy' | 'degraded' | 'failed';

/** Every reason the HA state is not healthy. 'failed': no-active-hub or no-quorum; any other: 'degraded'. */
export const REASON_CODES = [
  'no-quorum',
  'no-active-hub',
  'no-leader',
  'primary-not-writable',
  'unexpected-primary',
  'member-unreachable',
  'report-stale',
  'standby-not-streaming',
  'replication-lag',
  'no-sync-standby',
  'timeline-mismatch',
  'vip-not-held',
  'vip-held-twice',
  'hook-failed',
  'paused',
  'invalid-record',
] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

/** The codes that make the state 'failed' rather than 'degraded'. */
export const FAILING_CODES: ReadonlySet<ReasonCode> = new Set(['no-quorum', 'no-active-hub']);

export type StatusReason = TrackedReason<ReasonCode>;

/** Why a standby may not take over: the agent's own rules, plus what only the cluster view shows. */
export type StandbyIneligibleCode = IneligibleReason | 'no-quorum' | 'report-stale' | 'no-report';

export interface StandbyEligibility {
  readonly eligible: boolean;
  readonly reasons: readonly { readonly code: StandbyIneligibleCode; readonly message: string }[];
}

export interface StatusThresholds {
  /** A hub whose last report is older than this is 'report-stale' (hubs report every second by default). */
  readonly reportMaxAgeMs: number;
  /** 'replication-lag' above this many bytes behind the primary... */
  readonly lagMaxBytes: number;
  /** ...or this many seconds of replay lag. */
  readonly lagMaxSeconds: number;
  /** The asynchronous failover bound the hubs use (their maximumLagOnFailoverBytes), for eligibility. */
  readonly maximumLagOnFailoverBytes: number;
  /**
   * The hubs' synchronous mode; null: inferred from the store (the hubs write hubha/sync-standby
   * only in mode on or strict, so a record means synchronous).
   */
  readonly synchronous: 'off' | 'on' | 'strict' | null;
}

export const DEFAULT_THRESHOLDS: StatusThresholds = {
  reportMaxAgeMs: 5_000,
  lagMaxBytes: 16 * 1024 * 1024,
  lagMaxSeconds: 30,
  maximumLagOnFailoverBytes: 1024 * 1024,
  synchronous: null,
};

/** The active-hub lease as the store holds it. */
export interface LeaseView {
  readonly holder: string;
  readonly epoch: number;
  readonly ttlMs: number;
  /** Time left before the leader expires it; null unless the answering member leads. */
  readonly remainingMs: number | null;
}

/** The hubha/* records, parsed (invalid ones are listed in `problems`). */
export interface StatusRecords {
  readonly active: ActiveHub | null;
  readonly lease: LeaseView | null;
  readonly sync: SyncStandby | null;
  /** The hubha/paused record as stored (paused true or false); null when absent. */
  readonly paused: Paused | null;
  readonly reports: readonly HubReport[];
  /** Every history entry (any order). */
  readonly history: readonly HistoryEntry[];
  /** A switchover or manual failover asked for and not over yet (hubha/handover/request). */
  readonly handover?: HandoverRequest | null;
  /** How former primaries came back (hubha/rejoin/<epoch>), any order; for the history. */
  readonly rejoins: readonly Rejoin[];
  readonly problems: readonly string[];
}

/** A switchover or manual failover under way or scheduled, as the status shows it. */
export interface HandoverView {
  readonly kind: 'switchover' | 'failover';
  readonly from: string | null;
  readonly to: string;
  /** When it starts (a scheduled switchover) or started. */
  readonly at: string;
  readonly requestedAt: string;
  readonly by: string;
  readonly reason: string;
  readonly force: boolean;
  /** Its time has not come yet. */
  readonly scheduled: boolean;
}

/** What a member answered to Cluster.Status, or that it did not. */
export type MemberProbe =
  | {
      readonly reachable: true;
      /** 'leader', 'follower', 'candidate', 'pre-candidate'. */
      readonly state: string;
      readonly term: number;
      readonly leader: string;
      readonly commitIndex: number;
      readonly appliedIndex: number;
      readonly version: string;
    }
  | {
      readonly reachable: false;
      readonly error: string;
      /** Wall clock (ms) of the first failed probe after its last answer. */
      readonly unreachableSince: number;
      /** Wall clock (ms) of its last answer, null when unknown. */
      readonly lastSeen: number | null;
    };

export interface RaftMemberView {
  readonly name: string;
  readonly role: 'voter' | 'learner';
  /** From the configuration when known; a member with a report is a hub in any case. */
  readonly kind: 'hub' | 'witness' | null;
  readonly peerAddress: string | null;
  readonly clientAddress: string | null;
  /** null: not probed. */
  readonly probe: MemberProbe | null;
}

export interface RaftView {
  /** The member computing the status. */
  readonly servedBy: string;
  /** The leader as the answering member knows it; null when none. */
  readonly leader: string | null;
  readonly term: number;
  readonly members: readonly RaftMemberView[];
}

export interface StatusInput {
  /** Wall clock, ms since the epoch. */
  readonly now: number;
  readonly records: StatusRecords;
  readonly raft: RaftView;
  readonly read: {
    /** The records were read after a read barrier. */
    readonly linearizable: boolean;
    readonly revision: number;
    /** Why the read barrier failed, when it did. */
    readonly barrierError: string | null;
  };
  readonly thresholds: StatusThresholds;
  /** The previous evaluation's reasons (the reason tracker): reasons still present keep their start. */
  readonly previousReasons?: readonly StatusReason[];
}

export interface PostgresStatus {
  readonly role: HubReport['role'];
  readonly up: boolean;
  readonly inRecovery: boolean | null;
  readonly timeline: number | null;
  readonly systemId: string | null;
  readonly lsn: string | null;
  readonly replayLsn: string | null;
  readonly streaming: boolean;
  readonly address: string;
  /** As the primary's pg_stat_replication shows this standby (null for the primary or when absent). */
  readonly replicationState: string | null;
  readonly syncState: string | null;
  readonly lagBytes: number | null;
  readonly lagSeconds: number | null;
}

export interface MemberStatus {
  readonly name: string;
  readonly kind: 'hub' | 'witness';
  /** Holds the active-hub record. */
  readonly active: boolean;
  readonly raft: {
    /** null: not (or no longer) a member of the Raft group (a hub that only left a report). */
    readonly role: 'voter' | 'learner' | null;
    /** 'leader', 'follower', 'candidate', 'pre-candidate'; 'unknown' when it did not answer. */
    readonly state: string;
    readonly commitIndex: number | null;
    readonly appliedIndex: number | null;
    readonly peerAddress: string | null;
    readonly clientAddress: string | null;
  };
  readonly reachable: boolean;
  readonly unreachableSince: string | null;
  readonly lastError: string | null;
  /** Hubs: from the last report (null when it never reported). */
  readonly postgres: PostgresStatus | null;
  readonly report: { readonly at: string; readonly ageMs: number; readonly seq: number; readonly stale: boolean } | null;
  readonly tags: { readonly nofailover: boolean; readonly priority: number } | null;
  readonly vipHeld: boolean | null;
  readonly lastHookFailure: string | null;
  /** Hubs other than the active one: could it take over now, and if not every reason. */
  readonly eligibility: StandbyEligibility | null;
}

export interface ClusterStatus {
  /** When it was computed. */
  readonly at: string;
  readonly servedBy: string;
  readonly revision: number;
  readonly linearizable: boolean;
  readonly readError: string | null;
  readonly state: HaState;
  readonly reasons: readonly StatusReason[];
  readonly activeHub: ActiveHub | null;
  readonly lease: LeaseView | null;
  readonly synchronous: {
    /** 'off', or the mode in force ('on'/'strict' when configured, 'on' when inferred from the record). */
    readonly mode: 'off' | 'on' | 'strict';
    readonly inferred: boolean;
    /** The synchronous standby of the active hub now, null when none. */
    readonly standby: string | null;
    readonly record: SyncStandby | null;
  };
  readonly paused: Paused | null;
  readonly raft: {
    readonly leader: string | null;
    readonly term: number;
    readonly quorum: boolean;
    readonly voters: number;
    readonly reachableVoters: number;
  };
  readonly members: readonly MemberStatus[];
  readonly lastPromotion: HistoryEntry | null;
  /** A switchover or manual failover scheduled or under way; null: none. */
  readonly handover: HandoverView | null;
  readonly thresholds: StatusThresholds;
  readonly problems: readonly string[];
}
