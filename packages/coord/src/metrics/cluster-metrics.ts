import { Counter, Gauge, Registry } from 'prom-client';
import type { HistoryEntry } from '../records/records.js';
import type { ClusterStatus, HaState } from '../status/model.js';

/**
 * The cluster-wide metrics, set from one ClusterStatus (computeClusterStatus: the same model as
 * GET /v1/status, so the reasons here are the reasons there) and the failover history.
 *
 * Every update replaces every series: a standby that left, a reason that cleared, must disappear
 * from the next scrape rather than keep its last value. They live in a registry of their own so
 * that a scrape without a status (the member cannot compute one) can leave them all out: an
 * unlabelled gauge would otherwise still say 0, and hubha_raft_quorum 0 is a claim, not a blank.
 */

/** The history kinds that moved the active hub (bootstrap did not). */
export const FAILOVER_KINDS = ['failover', 'manual-failover', 'switchover'] as const satisfies readonly HistoryEntry['kind'][];
const HA_STATES: readonly HaState[] = ['healthy', 'degraded', 'failed'];

const bit = (value: boolean): number => (value ? 1 : 0);

export class ClusterMetrics {
  /** Only these series; NodeMetrics adds them to a scrape that has a status. */
  readonly registry = new Registry();
  private readonly haState: Gauge<'state'>;
  private readonly reason: Gauge<'code' | 'member'>;
  private readonly reasonSince: Gauge<'code' | 'member'>;
  private readonly paused: Gauge;
  private readonly quorum: Gauge;
  private readonly members: Gauge;
  private readonly membersReachable: Gauge;
  private readonly memberReachable: Gauge<'member' | 'kind'>;
  private readonly hubActive: Gauge<'hub'>;
  private readonly leaseEpoch: Gauge<'holder'>;
  private readonly failovers: Counter<'kind'>;
  private readonly lagBytes: Gauge<'standby'>;
  private readonly lagSeconds: Gauge<'standby'>;
  private readonly reportAge: Gauge<'hub'>;

  constructor() {
    const registers = [this.registry];
    this.haState = new Gauge({ name: 'hubha_ha_state', help: 'The HA state: 1 for the current state, 0 for the others', labelNames: ['state'], registers });
    this.reason = new Gauge({ name: 'hubha_degraded_reason', help: 'A reason the HA state is not healthy, present while it lasts (member is empty for cluster-wide reasons)', labelNames: ['code', 'member'], registers });
    this.reasonSince = new Gauge({ name: 'hubha_degraded_reason_since_seconds', help: 'When each present reason started, Unix time in seconds', labelNames: ['code', 'member'], registers });
    this.paused = new Gauge({ name: 'hubha_paused', help: '1 while the cluster is paused (no automatic failover)', registers });
    this.quorum = new Gauge({ name: 'hubha_raft_quorum', help: '1 when a majority of the voters answer this member', registers });
    this.members = new Gauge({ name: 'hubha_members', help: 'Members of the cluster (Raft members and hubs that report)', registers });
    this.membersReachable = new Gauge({ name: 'hubha_members_reachable', help: 'Members that answered the last probe of this member', registers });
    this.memberReachable = new Gauge({ name: 'hubha_member_reachable', help: '1 when the member answered the last probe of this member', labelNames: ['member', 'kind'], registers });
    this.hubActive = new Gauge({ name: 'hubha_hub_active', help: '1 for the hub that holds the active-hub record, 0 for the other hubs', labelNames: ['hub'], registers });
    this.leaseEpoch = new Gauge({ name: 'hubha_active_hub_lease_epoch', help: 'The fencing epoch of the active-hub lease, labelled with its holder; absent while nobody holds it', labelNames: ['holder'], registers });
    this.failovers = new Counter({ name: 'hubha_failovers_total', help: 'Changes of the active hub recorded in the history, by kind', labelNames: ['kind'], registers });
    this.lagBytes = new Gauge({ name: 'hubha_replication_lag_bytes', help: 'How far the standby is behind the primary, in bytes of WAL (from pg_stat_replication on the primary)', labelNames: ['standby'], registers });
    this.lagSeconds = new Gauge({ name: 'hubha_replication_lag_seconds', help: 'The replay lag of the standby in seconds (from pg_stat_replication on the primary)', labelNames: ['standby'], registers });
    this.reportAge = new Gauge({ name: 'hubha_report_age_seconds', help: 'Age of the last report of the hub in the store', labelNames: ['hub'], registers });
  }

  /** Replaces every series with those of `status` and `history`. */
  update(status: ClusterStatus, history: readonly HistoryEntry[]): void {
    this.registry.resetMetrics();

    for (const state of HA_STATES) this.haState.set({ state }, bit(state === status.state));
    // Two reasons of one code and member (told apart by a discriminator) are one series: the earlier start.
    const since = new Map<string, { labels: { code: string; member: string }; seconds: number }>();
    for (const reason of status.reasons) {
      const labels = { code: reason.code, member: reason.member ?? '' };
      const seconds = Date.parse(reason.since) / 1000;
      const key = `${labels.code}|${labels.member}`;
      since.set(key, { labels, seconds: Math.min(seconds, since.get(key)?.seconds ?? seconds) });
    }
    for (const { labels, seconds } of since.values()) {
      this.reason.set(labels, 1);
      this.reasonSince.set(labels, seconds);
    }
    this.paused.set(bit(status.paused?.paused === true));
    this.quorum.set(bit(status.raft.quorum));

    this.members.set(status.members.length);
    this.membersReachable.set(status.members.filter((m) => m.reachable).length);
    for (const member of status.members) {
      this.memberReachable.set({ member: member.name, kind: member.kind }, bit(member.reachable));
      if (member.kind === 'hub') this.hubActive.set({ hub: member.name }, bit(member.active));
      if (member.report !== null) this.reportAge.set({ hub: member.name }, member.report.ageMs / 1000);
      if (member.postgres?.lagBytes != null) this.lagBytes.set({ standby: member.name }, member.postgres.lagBytes);
      if (member.postgres?.lagSeconds != null) this.lagSeconds.set({ standby: member.name }, member.postgres.lagSeconds);
    }
    if (status.lease !== null) this.leaseEpoch.set({ holder: status.lease.holder }, status.lease.epoch);

    // Every kind, 0 included, so that increase() works from the first failover on.
    for (const kind of FAILOVER_KINDS) this.failovers.inc({ kind }, history.filter((e) => e.kind === kind).length);
  }
}
