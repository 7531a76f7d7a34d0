import { holderDeadlineMs } from '@hubha/coord';
import type { ReplicationTimeouts } from '../postgres/config-files.js';

/** Everything the hub agent needs, resolved and validated from the node's configuration. */
export interface HubSettings {
  /** This hub's name (its Raft member name too). */
  readonly name: string;
  /** Every hub of the cluster (this one included), e.g. ['hub1', 'hub2']. */
  readonly hubs: readonly string[];
  readonly postgres: {
    readonly binDir: string;
    readonly dataDir: string;
    readonly port: number;
    readonly socketDir: string;
    readonly listenAddresses: readonly string[];
    /** The host other hubs and clients use to reach this PostgreSQL. */
    readonly advertiseHost: string;
    readonly superuser: string;
    /** The OS user PostgreSQL runs as (when the sidecar runs as root). */
    readonly osUser: string;
    readonly replicationUser: string;
    readonly replicationPasswordFile: string;
    readonly peerCidrs: readonly string[];
    readonly clientCidrs: readonly string[];
    readonly settings: Readonly<Record<string, string | number | boolean>>;
    /** Re-clone a standby whose pg_rewind failed, without an operator. */
    readonly autoReclone: boolean;
  };
  /** off: asynchronous; on: one synchronous standby, dropped (after recording it) when it goes; strict: never drop. */
  readonly synchronous: 'off' | 'on' | 'strict';
  /** Asynchronous mode: a standby may take over only within this many bytes of the primary's last report. */
  readonly maximumLagOnFailoverBytes: number;
  readonly tags: { readonly nofailover: boolean; readonly priority: number };
  readonly vip: { readonly address: string; readonly interface: string } | null;
  readonly hooks: {
    readonly onPromote: readonly string[] | null;
    readonly onDemote: readonly string[] | null;
    readonly onRoleChange: readonly string[] | null;
    readonly timeoutMs: number;
  };
  readonly timings: HubTimings;
  /** Where the hub writes the active-hub record as JSON for local consumers (null: not written). */
  readonly activeHubFile: string | null;
  /** The Linux watchdog while this hub is active. */
  readonly watchdog: { readonly mode: 'off' | 'automatic' | 'required'; readonly device: string };
}

/**
 * The failover timings. Defaults give a failover of about 2.5 s on a LAN: the active hub renews
 * every 400 ms a lease of 2500 ms; a dead hub's lease expires 2.5 s after its last renewal was
 * applied; the standby checks every 200 ms. They are sized together with the Raft defaults
 * (50 ms ticks, elections after 400-800 ms): the active hub's own lease validity (2.2 s after its
 * last successful renewal was sent) minus one renew interval and the demotion budget must outlast
 * a Raft election, or losing the Raft leader (the witness) would make the active hub fence itself.
 */
export interface HubTimings {
  /** The active-hub lease's TTL. */
  readonly leaseTtlMs: number;
  /** How often the active hub renews (< TTL / 3). */
  readonly renewIntervalMs: number;
  /** The agent's loop: observe PostgreSQL, check the lease, act. */
  readonly loopIntervalMs: number;
  /** How often a hub writes its report into the store. */
  readonly reportIntervalMs: number;
  /**
   * Self-fencing starts this long before the holder's own lease validity ends, so that the
   * fast shutdown and the VIP removal finish before anyone else can be granted the lease.
   */
  readonly demotionBudgetMs: number;
  /**
   * Synchronous mode 'on': a standby not streaming for this long is dropped to async (recorded
   * first). A standby that vanished silently (a partition) stops "streaming" only when
   * PostgreSQL's wal_sender_timeout runs out, which is derived from this value too
   * (replicationTimeoutsFor), so commits stall at most about twice this long, plus a loop.
   */
  readonly syncDropAfterMs: number;
}

export const DEFAULT_HUB_TIMINGS: HubTimings = {
  leaseTtlMs: 2500,
  renewIntervalMs: 400,
  loopIntervalMs: 200,
  reportIntervalMs: 1000,
  demotionBudgetMs: 400,
  syncDropAfterMs: 2000,
};

/**
 * Checks the timings against each other and against the worst Raft election (2 × the election
 * timeout: the randomized timeout is in [T, 2T)); returns the problems (empty when fine).
 */
export function timingProblems(t: HubTimings, worstElectionMs = 0): string[] {
  const problems: string[] = [];
  const ridesOutMs = holderDeadlineMs(0, t.leaseTtlMs, t.leaseTtlMs / 10) - t.renewIntervalMs - t.demotionBudgetMs;
  if (ridesOutMs < worstElectionMs) {
    problems.push(
      `leaseTtlMs (${t.leaseTtlMs}) is too short for the Raft election timeout: the active hub rides out ${Math.floor(ridesOutMs)} ms without a renewal, a Raft election may take ${worstElectionMs} ms (lengthen the lease or shorten raft.tickMs × raft.electionTimeoutTicks)`,
    );
  }
  if (t.renewIntervalMs * 3 > t.leaseTtlMs) problems.push(`renewIntervalMs (${t.renewIntervalMs}) must be at most leaseTtlMs / 3 (${Math.floor(t.leaseTtlMs / 3)})`);
  if (t.demotionBudgetMs >= t.leaseTtlMs / 2) problems.push(`demotionBudgetMs (${t.demotionBudgetMs}) must be below leaseTtlMs / 2`);
  if (t.demotionBudgetMs < 200) problems.push(`demotionBudgetMs (${t.demotionBudgetMs}) must leave at least 200 ms for a fast shutdown and the VIP removal`);
  if (t.loopIntervalMs > t.renewIntervalMs) problems.push(`loopIntervalMs (${t.loopIntervalMs}) must not exceed renewIntervalMs (${t.renewIntervalMs})`);
  if (t.leaseTtlMs < 500) problems.push('leaseTtlMs must be at least 500');
  return problems;
}

/** The range replicationTimeoutsFor clamps wal_sender_timeout to. */
export const WAL_SENDER_TIMEOUT_RANGE_MS = { min: 2000, max: 60_000 } as const;

/**
 * PostgreSQL's replication timeouts for these timings (written into the managed configuration
 * file, postgres/config-files.ts). wal_sender_timeout = syncDropAfterMs, clamped to
 * [2 s, 60 s]: syncDropAfterMs is how long the operator accepts commits waiting for a standby
 * that is gone, and detecting that it is gone is the first half of that wait (the agent's own
 * clock only starts once pg_stat_replication stops listing the standby as streaming). Not below
 * 2 s, because a standby reports its position once a second at the most often
 * (wal_receiver_status_interval is whole seconds) and a live standby must never look silent; not
 * above PostgreSQL's own default of 60 s. The standby detects a silent primary after the same
 * time (wal_receiver_timeout: it then reconnects, rather than sitting on a dead connection after
 * a partition heals) and reports a quarter of it (at least every second), so the primary hears
 * from a live standby several times per window even when no WAL flows. A standby whose primary
 * went away tries again after half of it (at most 5 s, PostgreSQL's default): synchronous
 * commits wait for that reconnection after the primary's PostgreSQL restarts.
 */
export function replicationTimeoutsFor(t: Pick<HubTimings, 'syncDropAfterMs'>): ReplicationTimeouts {
  const { min, max } = WAL_SENDER_TIMEOUT_RANGE_MS;
  const senderMs = Math.min(max, Math.max(min, Math.round(t.syncDropAfterMs)));
  // Reconnect attempts come at half the receiver timeout (1 s by default), at most PostgreSQL's 5 s.
  const retryMs = Math.min(5000, Math.round(senderMs / 2));
  return { walSenderTimeoutMs: senderMs, walReceiverTimeoutMs: senderMs, walReceiverStatusIntervalS: Math.max(1, Math.floor(senderMs / 4000)), walRetrieveRetryIntervalMs: retryMs };
}

/**
 * How long the fence's fast shutdown may take before it falls back to an immediate one
 * (PostgresInstance's timeouts.fenceFastMs): half the demotion budget, leaving the other half to
 * the VIP release before it and the immediate shutdown after it. Writes end at the shutdown
 * request either way (backends are terminated, new connections refused); what a fast shutdown
 * adds is a shutdown checkpoint and the wait for every walsender to deliver it — up to
 * wal_sender_timeout for a standby that has just gone silent (measured: 10 s, then the
 * immediate fallback, with PostgreSQL's 60 s default and a fixed 10 s fast timeout). Fencing
 * must be over before the lease can be granted to the other hub, and an immediate shutdown
 * only costs a crash recovery before the next start (followAsStandby runs it anyway).
 */
export function fenceFastTimeoutFor(t: Pick<HubTimings, 'demotionBudgetMs'>): number {
  return Math.floor(t.demotionBudgetMs / 2);
}

/** The replication slot a hub streams through on the primary. */
export function slotName(hub: string): string {
  return `hubha_${hub.replace(/[^a-z0-9_]/g, '_')}`;
}
