import { Gauge, Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { HistoryEntry } from '../records/records.js';
import type { ClusterStatus } from '../status/model.js';
import { ClusterMetrics } from './cluster-metrics.js';
import { processMetricsRegistry } from './process-metrics.js';

/**
 * One member's Prometheus metrics: its own Raft view, the cluster's status as it computes it, and
 * the process metrics. Everything is computed when scraped, from the same status model as
 * GET /v1/status, so the two never disagree on the reasons; nothing is kept between scrapes.
 *
 * The registry is this member's, not prom-client's global one: several members run in one process
 * in tests, and each must answer for itself.
 */

/** The local Raft node's state (RaftNode.status() has it). */
export interface LocalRaftView {
  readonly term: number;
  /** '' when no leader is known. */
  readonly leader: string;
  readonly commit: number;
  readonly applied: number;
}

/** What a scrape reads. */
export interface MetricsSource {
  /** This member's name. */
  readonly id: string;
  readonly version: string;
  raftStatus(): LocalRaftView;
  /**
   * The cluster's status and history from this member's applied state, without a read barrier
   * (a member without quorum must still answer). Rejects when the member cannot compute one.
   */
  cluster(): Promise<{ readonly status: ClusterStatus; readonly history: readonly HistoryEntry[] }>;
}

export class NodeMetrics {
  /** This member's own series, the cluster's and the process's. */
  private readonly withCluster: Registry;
  /** The same without the cluster's, for a scrape without a status. */
  private readonly withoutCluster: Registry;
  private readonly cluster = new ClusterMetrics();
  private readonly statusUp: Gauge;
  private readonly term: Gauge;
  private readonly isLeader: Gauge;
  private readonly leaderKnown: Gauge;
  private readonly commitIndex: Gauge;
  private readonly appliedIndex: Gauge;
  private scrape: Promise<string> | null = null;

  constructor(
    private readonly source: MetricsSource,
    private readonly logger: Logger,
  ) {
    const own = new Registry();
    const registers = [own];
    new Gauge({ name: 'hubha_node_info', help: 'This member: its name and software version (always 1)', labelNames: ['node', 'version'], registers }).set({ node: source.id, version: source.version }, 1);
    this.term = new Gauge({ name: 'hubha_raft_term', help: 'The current Raft term of this member', registers });
    this.isLeader = new Gauge({ name: 'hubha_raft_is_leader', help: '1 when this member is the Raft leader', registers });
    this.leaderKnown = new Gauge({ name: 'hubha_raft_leader_known', help: '1 when this member knows a Raft leader', registers });
    this.commitIndex = new Gauge({ name: 'hubha_raft_commit_index', help: 'The highest log index this member knows to be committed', registers });
    this.appliedIndex = new Gauge({ name: 'hubha_raft_applied_index', help: 'The highest log index this member has applied', registers });
    this.statusUp = new Gauge({ name: 'hubha_status_up', help: '1 when this member computed the cluster status for this scrape, 0 when it could not (the cluster series are then absent)', registers });
    this.withCluster = Registry.merge([own, this.cluster.registry, processMetricsRegistry()]);
    this.withoutCluster = Registry.merge([own, processMetricsRegistry()]);
  }

  /** The Content-Type of render()'s text. */
  get contentType(): string {
    return this.withCluster.contentType;
  }

  /**
   * The metrics in Prometheus text format. Concurrent scrapes share one evaluation: the series are
   * set as a whole before they are written out, and a second evaluation in between would mix two.
   */
  render(): Promise<string> {
    this.scrape ??= this.renderOnce().finally(() => {
      this.scrape = null;
    });
    return this.scrape;
  }

  private async renderOnce(): Promise<string> {
    let cluster: Awaited<ReturnType<MetricsSource['cluster']>> | null = null;
    try {
      cluster = await this.source.cluster();
    } catch (err: unknown) {
      // Expected while the member starts or stops; hubha_status_up says so to whoever scrapes.
      this.logger.debug({ err: err instanceof Error ? err.message : String(err) }, 'metrics: no cluster status');
    }
    // After the await, so that the Raft view is as fresh as the status.
    const raft = this.source.raftStatus();
    this.term.set(raft.term);
    this.isLeader.set(raft.leader === this.source.id ? 1 : 0);
    this.leaderKnown.set(raft.leader === '' ? 0 : 1);
    this.commitIndex.set(raft.commit);
    this.appliedIndex.set(raft.applied);
    this.statusUp.set(cluster === null ? 0 : 1);
    if (cluster === null) return this.withoutCluster.metrics();
    this.cluster.update(cluster.status, cluster.history);
    return this.withCluster.metrics();
  }
}
