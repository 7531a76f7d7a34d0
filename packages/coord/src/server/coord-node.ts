import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { GrpcRaftTransport, LevelRaftStorage, RaftNode } from '@hubha/raft';
import type { NodeId, ProposeOutcome, RaftStorage, RaftTransport, ReadOutcome, Scheduler } from '@hubha/raft';
import { childLogger, realScheduler } from '@hubha/raft';
import type { NodeConfig } from '../config/node-config.js';
import { selfEndpoints } from '../config/node-config.js';
import { LeaseExpiryTimer } from '../lease/lease-expiry-timer.js';
import { encodeRequest } from '../state/codec.js';
import type { CoordStateMachine } from '../state/state-machine.js';
import type { ApplyOutcome, BootstrapMember, CoordRequest } from '../state/types.js';
import { WatchHub } from '../state/watch-hub.js';
import type { WatchEvent } from '../state/types.js';
import { CoordStateAdapter } from './state-adapter.js';
import { ClientApiServer } from './client-api-server.js';
import { ActiveHubReader } from '../discovery/reader.js';
import type { HttpServer } from '../http/http-server.js';
import { startNodeHttp } from '../http/node-http.js';
import { AdminService } from '../admin/admin-service.js';
import { registerAdminRoutes } from '../admin/http-routes.js';
import { registerOperatorRoutes } from '../http/operator-routes.js';
import { NodeMetrics } from '../metrics/node-metrics.js';
import { adminMetricsSource } from '../metrics/admin-source.js';

/** What a watch stream is told: events in revision order, or that the watch ended. */
export type WatchSignal =
  | { readonly type: 'events'; readonly events: readonly WatchEvent[] }
  /** compacted: the state was replaced by a snapshot; closing: the member is shutting down. */
  | { readonly type: 'ended'; readonly reason: 'compacted' | 'closing'; readonly revision: number };

/** How often the leader looks for leases past their deadline. */
const LEASE_CHECK_INTERVAL_MS = 50;

export interface CoordNodeOptions {
  readonly config: NodeConfig;
  readonly logger: Logger;
  readonly scheduler?: Scheduler;
  readonly seed?: number;
  /** Test seams: replace the LevelDB storage / gRPC transport. */
  readonly storage?: RaftStorage;
  readonly transport?: RaftTransport;
}

/**
 * One member of the coordination store: a Raft node whose state machine is the KV/lease store,
 * the leader-side lease timer, the watch fan-out and the client API server. This is all a
 * witness is; a hub adds PostgreSQL management on top.
 */
export class CoordNode {
  readonly id: NodeId;
  readonly clusterId: string;
  readonly raft: RaftNode<ApplyOutcome>;
  readonly leaseTimer: LeaseExpiryTimer;
  readonly watchHub: WatchHub;
  private readonly adapter: CoordStateAdapter;
  private readonly logger: Logger;
  readonly scheduler: Scheduler;
  private readonly watchListeners = new Map<number, (signal: WatchSignal) => void>();
  private leaseCheck: { cancel(): void } | null = null;
  private clientServer: ClientApiServer | null = null;
  /** Reads the active hub for the Discovery service and GET /v1/active-hub. */
  readonly discovery: ActiveHubReader;
  private httpServer: HttpServer | null = null;
  private adminService: AdminService | null = null;
  private closed = false;

  private constructor(args: {
    id: NodeId;
    clusterId: string;
    raft: RaftNode<ApplyOutcome>;
    adapter: CoordStateAdapter;
    logger: Logger;
    scheduler: Scheduler;
  }) {
    this.id = args.id;
    this.clusterId = args.clusterId;
    this.raft = args.raft;
    this.adapter = args.adapter;
    this.logger = args.logger;
    this.scheduler = args.scheduler;
    this.leaseTimer = new LeaseExpiryTimer(() => this.scheduler.now());
    this.watchHub = new WatchHub({ revision: this.adapter.state.revision });
    this.discovery = new ActiveHubReader(this, args.logger.child({ component: 'discovery' }));
  }

  static async start(options: CoordNodeOptions): Promise<CoordNode> {
    const { config } = options;
    const scheduler = options.scheduler ?? realScheduler;
    const logger = childLogger(options.logger, { node: config.node.name, cluster: config.cluster.id });
    const self = selfEndpoints(config);
    const bootstrapMembers: BootstrapMember[] = config.cluster.members.map((m) => ({ id: m.name, peer: m.peer, client: m.client }));
    const adapter = new CoordStateAdapter(bootstrapMembers);
    const voters = config.cluster.members.map((m) => m.name);
    let storage = options.storage;
    if (storage === undefined) {
      const dir = join(config.node.dataDir, 'raft');
      await mkdir(dir, { recursive: true, mode: 0o700 });
      storage = await LevelRaftStorage.open({
        dir,
        identity: { clusterId: config.cluster.id, nodeId: config.node.name },
        bootstrap: config.node.join ? null : { voters, learners: [] },
      });
    }
    const transport =
      options.transport ??
      new GrpcRaftTransport({
        clusterId: config.cluster.id,
        self: config.node.name,
        listen: config.node.listenPeer ?? self.peer,
        peers: new Map(config.cluster.members.filter((m) => m.name !== config.node.name).map((m) => [m.name, m.peer])),
        logger,
        ...(config.tls === undefined ? {} : { tls: { caFile: config.tls.ca, certFile: config.tls.cert, keyFile: config.tls.key } }),
      });
    const raft = await RaftNode.start<ApplyOutcome>({
      id: config.node.name,
      raft: {
        electionTimeoutTicks: config.raft.electionTimeoutTicks,
        heartbeatIntervalTicks: config.raft.heartbeatIntervalTicks,
        preVote: config.raft.preVote,
        checkQuorum: config.raft.checkQuorum,
        canCampaign: config.raft.canCampaign,
        maxMsgBytes: config.raft.maxMsgBytes,
      },
      tickMs: config.raft.tickMs,
      storage,
      transport,
      stateMachine: adapter,
      logger,
      scheduler,
      snapshotEveryEntries: config.raft.snapshotEveryEntries,
      ...(options.seed === undefined ? {} : { seed: options.seed }),
    });
    const node = new CoordNode({ id: config.node.name, clusterId: config.cluster.id, raft, adapter, logger, scheduler });
    node.wire();
    node.adminService = new AdminService({
      host: node,
      logger,
      kinds: new Map(config.cluster.members.map((m) => [m.name, m.role])),
      endpoints: config.cluster.members.map((m) => m.client),
      ...(config.tls === undefined ? {} : { tls: config.tls }),
    });
    node.clientServer = await ClientApiServer.start(node, config.node.listenClient ?? self.client, config.tls, logger);
    try {
      node.httpServer = await startNodeHttp(node, node.discovery, config, logger);
      if (node.httpServer !== null) {
        registerAdminRoutes(node.httpServer, node.admin);
        const metrics = new NodeMetrics(adminMetricsSource(node, node.admin), logger.child({ component: 'metrics' }));
        registerOperatorRoutes(node.httpServer, metrics, logger.child({ component: 'http' }));
      }
    } catch (err) {
      await node.close();
      throw err;
    }
    return node;
  }

  private wire(): void {
    this.raft.onLeaderChange((change) => {
      if (change.leader === this.id) {
        this.leaseTimer.becameLeader(this.adapter.state.leases());
        this.logger.info({ term: change.term, leases: this.adapter.state.leases().length }, 'leading: every lease restarts its full TTL from now');
      } else if (this.leaseTimer.isLeading()) {
        this.leaseTimer.lostLeadership();
      }
    });
    this.raft.onApplied((entry, outcome) => {
      for (const change of outcome.leaseChanges) {
        this.leaseTimer.applied(change.name, change.lease);
        if (change.lease === null) this.logger.info({ term: entry.term, lease: change.name, index: entry.index }, 'lease freed');
        else if (change.lease.renewCount === 0) this.logger.info({ term: entry.term, lease: change.name, holder: change.lease.holder, epoch: change.lease.epoch }, 'lease granted');
      }
      const deliveries = this.watchHub.publish(outcome.events, this.adapter.state.revision);
      for (const delivery of deliveries) this.watchListeners.get(delivery.id)?.({ type: 'events', events: delivery.events });
    });
    this.adapter.onRestore((machine) => {
      const ended = this.watchHub.reset(machine.revision);
      for (const id of ended) {
        this.watchListeners.get(id)?.({ type: 'ended', reason: 'compacted', revision: machine.revision });
        this.watchListeners.delete(id);
      }
      if (this.leaseTimer.isLeading()) this.leaseTimer.becameLeader(machine.leases());
    });
    this.leaseCheck = this.scheduler.every(LEASE_CHECK_INTERVAL_MS, () => this.expireDueLeases());
  }

  private expireDueLeases(): void {
    if (!this.raft.isLeader()) return;
    for (const due of this.leaseTimer.due()) {
      this.logger.info({ lease: due.name, epoch: due.epoch, renewCount: due.renewCount, term: this.raft.status().term }, 'lease deadline passed: proposing expiry');
      const request: CoordRequest = { clientId: '', seq: 0, command: { type: 'lease-expire', name: due.name, epoch: due.epoch, renewCount: due.renewCount } };
      void this.raft.propose(encodeRequest(request)).then((outcome) => {
        if (outcome.ok && outcome.result.result?.type === 'lease-expire' && outcome.result.result.expired) {
          this.logger.info({ lease: due.name, epoch: due.epoch, term: outcome.term }, 'lease expired');
        }
      });
    }
  }

  // ---------------------------------------------------------------- for the API handlers

  get state(): CoordStateMachine {
    return this.adapter.state;
  }

  /** Replicates a request; resolves once it is applied here. */
  propose(request: CoordRequest): Promise<ProposeOutcome<ApplyOutcome>> {
    return this.raft.propose(encodeRequest(request));
  }

  /** Linearizable read barrier (ReadIndex, served by followers too). */
  readBarrier(): Promise<ReadOutcome> {
    return this.raft.readBarrier();
  }

  leaderClientAddress(): string | null {
    const leader = this.raft.leader();
    return leader === '' ? null : this.adapter.clientAddress(leader);
  }

  clientAddressOf(id: NodeId): string | null {
    return this.adapter.clientAddress(id);
  }

  /** Attaches a watch stream to hub subscription `id`. */
  subscribe(id: number, deliver: (signal: WatchSignal) => void): void {
    this.watchListeners.set(id, deliver);
  }

  unsubscribe(id: number): void {
    this.watchListeners.delete(id);
    this.watchHub.cancel(id);
  }

  /** The client API's bound address (useful with port 0). */
  clientAddress(): string {
    return this.clientServer?.address() ?? '';
  }

  /** The Admin service (status, history, pause, events) this member serves. */
  get admin(): AdminService {
    if (this.adminService === null) throw new Error('CoordNode: the admin service is not started');
    return this.adminService;
  }

  /** The HTTP server (null when none is configured): the hub registers its own routes on it. */
  get http(): HttpServer | null {
    return this.httpServer;
  }

  /** The HTTP server's bound address; '' without one. */
  httpAddress(): string {
    return this.httpServer?.address() ?? '';
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.leaseCheck?.cancel();
    await this.adminService?.close();
    await this.httpServer?.close();
    await this.clientServer?.close();
    for (const [id, deliver] of this.watchListeners) {
      deliver({ type: 'ended', reason: 'closing', revision: this.adapter.state.revision });
      this.watchHub.cancel(id);
    }
    this.watchListeners.clear();
    await this.raft.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
