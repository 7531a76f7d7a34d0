import * as grpc from '@grpc/grpc-js';
import type { ReadOutcome } from '@hubha/raft';
import type { Logger } from 'pino';
import { CoordClient } from '../client/client.js';
import type { CoordClientTls } from '../client/tls.js';
import { clientCredentials } from '../client/tls.js';
import type { RpcTransport } from '../client/transport.js';
import { DEFAULT_CHANNEL_OPTIONS, GrpcTransport, RpcFailure } from '../client/transport.js';
import { HubhaRecordsCollector } from '../records/collect.js';
import type { HistoryEntry, Paused, Rejoin } from '../records/records.js';
import { ACTIVE_HUB_LEASE, KEY_PREFIX, PAUSED_KEY, encodeRecord } from '../records/records.js';
import { clusterService } from '../rpc/definitions.js';
import { SOFTWARE_VERSION } from '../server/cluster-service.js';
import type { ApplyOutcome, KeyValue, LeaseInfo, Member } from '../state/types.js';
import { computeClusterStatus } from '../status/compute.js';
import { kindFromContext } from './member-kind.js';
import { HandoverOperations } from './handover-operations.js';
import { checkOperator } from './operator-input.js';
import type { ClusterStatus, MemberProbe, RaftMemberView, StatusReason, StatusRecords, StatusThresholds } from '../status/model.js';
import { DEFAULT_THRESHOLDS } from '../status/model.js';
import type { ReachabilityState } from '../status/reachability.js';
import { recordProbe, retainMembers } from '../status/reachability.js';

/**
 * The Admin service's work on one member: it gathers what the status model needs — the hubha/*
 * records from this member's state machine (after a read barrier, or serializable when that
 * fails), the Raft view (its own status plus a Cluster.Status call to every other member's client
 * endpoint, with a short deadline, for reachability and applied index) — and computes the
 * ClusterStatus. A monitor probes the members and evaluates the status every second, so that "since
 * when" (a member unreachable, a reason present) is known even when nobody asked. Pause and Resume
 * write hubha/paused through a client of the store (any member may be asked; the write goes to the
 * leader).
 */

/** What the service needs of a member (CoordNode has it; tests pass fakes). */
export interface AdminHost {
  readonly id: string;
  readonly state: {
    range(prefix: string, limit?: number, startAfter?: string): { readonly kvs: readonly KeyValue[]; readonly more: boolean };
    lease(name: string): LeaseInfo | null;
    members(): Member[];
    readonly revision: number;
  };
  readonly raft: {
    readBarrier(timeoutMs?: number): Promise<ReadOutcome>;
    status(): { readonly term: number; readonly leader: string; readonly role: string; readonly commit: number; readonly applied: number; readonly failed: string | null };
    onApplied(listener: (entry: unknown, outcome: ApplyOutcome) => void): () => void;
  };
  readonly leaseTimer: { deadlineMs(name: string): number | undefined };
  readonly scheduler: { now(): number };
  /** This member's client API address (its own probe needs none). */
  clientAddress(): string;
}

export interface AdminServiceOptions {
  readonly host: AdminHost;
  readonly logger: Logger;
  /** From the configuration: which members are hubs (a member with a report is a hub anyway). */
  readonly kinds?: ReadonlyMap<string, 'hub' | 'witness'>;
  /** The members' client endpoints from the configuration (the store's membership adds to them). */
  readonly endpoints?: readonly string[];
  readonly tls?: CoordClientTls;
  readonly thresholds?: StatusThresholds;
  /** Deadline of each member probe (default 700 ms). */
  readonly probeTimeoutMs?: number;
  /** The monitor's period (default 1000 ms); 0: no monitor. */
  readonly monitorIntervalMs?: number;
  /** How long a linearizable read waits for its barrier before answering serializable (default 1000 ms). */
  readonly barrierTimeoutMs?: number;
  /** Test seams. */
  readonly transport?: RpcTransport;
  readonly wallClock?: () => number;
}

/** The member cannot answer at all (gRPC UNAVAILABLE, HTTP 503). */
export class AdminUnavailableError extends Error {
  override readonly name = 'AdminUnavailableError';
  constructor(
    /** 'closed' | 'failed' | 'nothing-applied' */
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** A request the service refuses (gRPC INVALID_ARGUMENT / FAILED_PRECONDITION). */
export class AdminRefusal extends Error {
  override readonly name = 'AdminRefusal';
  constructor(
    readonly kind: 'invalid-argument' | 'failed-precondition',
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** What was read of the hubha/* records, with how. */
export interface RecordsRead {
  readonly records: StatusRecords;
  readonly linearizable: boolean;
  readonly barrierError: string | null;
  readonly revision: number;
  /** modRevision of hubha/active-hub (0: absent), to tell a re-publication apart. */
  readonly activeModRevision: number;
}

/** An event of the WatchEvents stream (proto/admin.proto, Event). */
export interface AdminEvent {
  readonly type: string;
  readonly member: string | null;
  readonly message: string;
  readonly at: string;
  readonly revision: number;
  /** The record after the change, as JSON text; null for a removal. */
  readonly recordJson: string | null;
}

const MAX_RANGE = 10_000;

/** A failed probe in a few words: "connect ECONNREFUSED 10.0.0.12:7101", "DEADLINE_EXCEEDED: ...". */
export function probeError(err: unknown): string {
  if (!(err instanceof RpcFailure)) return err instanceof Error ? err.message : String(err);
  // grpc-js: "No connection established. Last error: Error: connect ECONNREFUSED …. Resolution note: "
  const connect = /Last error: (?:Error: )?(.*?)\.?(?: Resolution note:.*)?$/.exec(err.details);
  if (err.status === grpc.status.UNAVAILABLE && connect?.[1] !== undefined && connect[1] !== '' && connect[1] !== 'null') return connect[1];
  const details = err.details.replace(/\s*Resolution note:\s*$/, '').replace(/\s*Last error: null\.?$/, '');
  return `${grpc.status[err.status] ?? err.status}: ${details}`;
}

export class AdminService {
  private readonly host: AdminHost;
  private readonly logger: Logger;
  readonly thresholds: StatusThresholds;
  private readonly probeTimeoutMs: number;
  private readonly barrierTimeoutMs: number;
  private readonly wallClock: () => number;
  private transport: RpcTransport | null;
  private transportPromise: Promise<RpcTransport> | null = null;
  private client: Promise<CoordClient> | null = null;
  private handoverOps: HandoverOperations | null = null;
  private lastProbes: Map<string, MemberProbe | null> | null = null;
  private reachability: ReachabilityState = new Map();
  private lastReasons: readonly StatusReason[] = [];
  private lastState: ClusterStatus['state'] | null = null;
  private monitorTimer: NodeJS.Timeout | null = null;
  private monitoring = false;
  private closed = false;
  private readonly stateListeners = new Set<(status: ClusterStatus) => void>();
  private readonly closeListeners = new Set<() => void>();

  constructor(private readonly options: AdminServiceOptions) {
    this.host = options.host;
    this.logger = options.logger.child({ component: 'admin' });
    this.thresholds = options.thresholds ?? DEFAULT_THRESHOLDS;
    this.probeTimeoutMs = options.probeTimeoutMs ?? 700;
    this.barrierTimeoutMs = options.barrierTimeoutMs ?? 1_000;
    this.wallClock = options.wallClock ?? Date.now;
    this.transport = options.transport ?? null;
    const interval = options.monitorIntervalMs ?? 1_000;
    if (interval > 0) this.startMonitor(interval);
  }

  get id(): string {
    return this.host.id;
  }

  // ---------------------------------------------------------------- status

  /** The cluster's status as this member sees it now. */
  async status(options: { readonly serializable?: boolean; readonly thresholds?: StatusThresholds; readonly cachedProbes?: boolean } = {}): Promise<ClusterStatus> {
    // cachedProbes: the monitor's last round (at most a second old) — the operations check the
    // records, which are read fresh, and need not wait for a probe of every member.
    const cached = options.cachedProbes === true ? this.lastProbes : null;
    const [read, probes] = await Promise.all([this.readRecords(options.serializable === true), cached ?? this.probeAll()]);
    return this.compute(read, probes, options.thresholds ?? this.thresholds);
  }

  /** Every history entry, oldest first (the last `limit` when limit > 0). */
  /** The history, oldest first, and the rejoins of the promotions it returns. */
  async history(options: { readonly serializable?: boolean; readonly limit?: number } = {}): Promise<{ entries: HistoryEntry[]; rejoins: Rejoin[]; read: RecordsRead }> {
    const read = await this.readRecords(options.serializable === true);
    const sorted = [...read.records.history].sort((a, b) => a.epoch - b.epoch);
    const limit = options.limit ?? 0;
    const entries = limit > 0 ? sorted.slice(-limit) : sorted;
    const epochs = new Set(entries.map((e) => e.epoch));
    const rejoins = read.records.rejoins.filter((r) => epochs.has(r.epoch)).sort((a, b) => a.epoch - b.epoch);
    return { entries, rejoins, read };
  }

  /** Called with the outcome of every entry this member applies (for the event streams). */
  onApplied(listener: (outcome: ApplyOutcome) => void): () => void {
    return this.host.raft.onApplied((_entry, outcome) => listener(outcome));
  }

  /** This member's applied value of a key, without a barrier (for polling while waiting). */
  localValue(key: string): Uint8Array | null {
    const page = this.host.state.range(key, 1);
    const kv = page.kvs[0];
    return kv !== undefined && kv.key === key ? kv.value : null;
  }

  /** Switchover, manual failover and reinit (handover-operations.ts). */
  get handovers(): HandoverOperations {
    this.handoverOps ??= new HandoverOperations({
      id: this.host.id,
      logger: this.logger,
      status: (options) => this.status({ ...options, cachedProbes: true }),
      readRecords: (serializable) => this.readRecords(serializable),
      localValue: (key) => this.localValue(key),
      localRevision: () => this.host.state.revision,
      onApplied: (listener) => this.onApplied(() => listener()),
      storeClient: () => this.storeClient(),
      wallClock: () => this.wallClock(),
    });
    return this.handoverOps;
  }

  /** Called once when the service closes (the member shuts down). */
  onClose(listener: () => void): () => void {
    if (this.closed) {
      queueMicrotask(listener);
      return () => undefined;
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /** Called with every status the monitor computes (for ha-state events). */
  onStatus(listener: (status: ClusterStatus) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  private compute(read: RecordsRead, probes: ReadonlyMap<string, MemberProbe | null>, thresholds: StatusThresholds): ClusterStatus {
    const raftStatus = this.host.raft.status();
    const kinds = this.options.kinds ?? new Map<string, 'hub' | 'witness'>();
    const members: RaftMemberView[] = this.host.state.members().map((m) => ({
      name: m.id,
      role: m.role,
      // Configured, else the role AddMember was given (a member with a report is a hub anyway).
      kind: kinds.get(m.id) ?? kindFromContext(m.context),
      peerAddress: m.peerAddress,
      clientAddress: m.clientAddress,
      probe: probes.get(m.id) ?? null,
    }));
    const status = computeClusterStatus({
      now: this.wallClock(),
      records: read.records,
      raft: { servedBy: this.host.id, leader: raftStatus.leader === '' ? null : raftStatus.leader, term: raftStatus.term, members },
      read: { linearizable: read.linearizable, revision: read.revision, barrierError: read.barrierError },
      thresholds,
      previousReasons: this.lastReasons,
    });
    this.lastReasons = status.reasons;
    return status;
  }

  private checkServing(): void {
    if (this.closed) throw new AdminUnavailableError('closed', 'the member is shutting down');
    const status = this.host.raft.status();
    if (status.failed !== null) throw new AdminUnavailableError('failed', 'the member has stopped after a fault');
    if (status.applied === 0) throw new AdminUnavailableError('nothing-applied', 'the member has not applied any of the log yet');
  }

  /** The hubha/* records and the active-hub lease: after a read barrier unless serializable (or the barrier fails). */
  async readRecords(serializable: boolean): Promise<RecordsRead> {
    this.checkServing();
    let linearizable = false;
    let barrierError: string | null = null;
    if (!serializable) {
      const outcome = await this.host.raft.readBarrier(this.barrierTimeoutMs);
      if (outcome.ok) linearizable = true;
      else if (outcome.reason === 'closed') throw new AdminUnavailableError('closed', 'the member is shutting down');
      else barrierError = outcome.reason;
    }
    this.checkServing();
    return this.readLocal(linearizable, barrierError);
  }

  /** The records from the applied state as it is now (no barrier). */
  readLocal(linearizable = false, barrierError: string | null = null): RecordsRead {
    const state = this.host.state;
    const revision = state.revision;
    const collector = new HubhaRecordsCollector();
    let startAfter: string | undefined;
    for (;;) {
      const page = state.range(KEY_PREFIX, MAX_RANGE, startAfter);
      for (const kv of page.kvs) collector.add(kv);
      const last = page.kvs[page.kvs.length - 1];
      if (!page.more || last === undefined) break;
      startAfter = last.key;
    }
    const { active: published, sync, paused, reports, history, handover, rejoins, problems } = collector.result();
    const active = published?.record ?? null;
    const activeModRevision = published?.modRevision ?? 0;
    const lease = state.lease(ACTIVE_HUB_LEASE);
    let remainingMs: number | null = null;
    if (lease !== null && this.host.raft.status().role === 'leader') {
      const deadline = this.host.leaseTimer.deadlineMs(ACTIVE_HUB_LEASE);
      if (deadline !== undefined) remainingMs = Math.max(0, Math.round(deadline - this.host.scheduler.now()));
    }
    return {
      records: { active, lease: lease === null ? null : { holder: lease.holder, epoch: lease.epoch, ttlMs: lease.ttlMs, remainingMs }, sync, paused, reports, history, handover, rejoins, problems },
      linearizable,
      barrierError,
      revision,
      activeModRevision,
    };
  }

  // ---------------------------------------------------------------- probes

  private async getTransport(): Promise<RpcTransport> {
    if (this.transport !== null) return this.transport;
    this.transportPromise ??= clientCredentials(this.options.tls).then(({ credentials, options }) => {
      const transport = new GrpcTransport(credentials, { ...DEFAULT_CHANNEL_OPTIONS, ...options });
      if (this.closed) transport.close();
      this.transport = transport;
      return transport;
    });
    return this.transportPromise;
  }

  /** Asks every member for its Raft status (this one answers from memory); records reachability. */
  async probeAll(): Promise<Map<string, MemberProbe | null>> {
    const members = this.host.state.members();
    const out = new Map<string, MemberProbe | null>();
    const transport = this.closed ? null : await this.getTransport().catch(() => null);
    await Promise.all(
      members.map(async (m) => {
        if (m.id === this.host.id) {
          const s = this.host.raft.status();
          this.reachability = recordProbe(this.reachability, m.id, { ok: true }, this.wallClock());
          out.set(m.id, { reachable: true, state: s.role, term: s.term, leader: s.leader, commitIndex: s.commit, appliedIndex: s.applied, version: SOFTWARE_VERSION });
          return;
        }
        const endpoint = m.clientAddress;
        let probe: MemberProbe;
        if (endpoint === null || transport === null) {
          probe = this.failed(m.id, endpoint === null ? 'no client address known for this member' : 'the member is shutting down');
        } else {
          try {
            const res = await transport.unary(endpoint, clusterService.Status, {}, { timeoutMs: this.probeTimeoutMs });
            this.reachability = recordProbe(this.reachability, m.id, { ok: true }, this.wallClock());
            const n = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'object' && v !== null ? Number((v as { toString(): string }).toString()) : 0);
            probe = { reachable: true, state: res.role ?? '', term: n(res.header?.raftTerm), leader: res.header?.leader ?? '', commitIndex: n(res.commitIndex), appliedIndex: n(res.appliedIndex), version: res.version ?? '' };
          } catch (err: unknown) {
            probe = this.failed(m.id, probeError(err));
          }
        }
        out.set(m.id, probe);
      }),
    );
    this.reachability = retainMembers(this.reachability, members.map((m) => m.id));
    this.lastProbes = out;
    return out;
  }

  private failed(member: string, error: string): MemberProbe {
    const now = this.wallClock();
    this.reachability = recordProbe(this.reachability, member, { ok: false, error }, now);
    const r = this.reachability.get(member)!;
    return { reachable: false, error, unreachableSince: r.unreachableSince ?? now, lastSeen: r.lastSeen };
  }

  // ---------------------------------------------------------------- monitor

  private startMonitor(intervalMs: number): void {
    const tick = (): void => {
      this.monitorTimer = null;
      if (this.closed) return;
      void this.monitorOnce().finally(() => {
        if (!this.closed) {
          this.monitorTimer = setTimeout(tick, intervalMs);
          this.monitorTimer.unref();
        }
      });
    };
    this.monitorTimer = setTimeout(tick, intervalMs);
    this.monitorTimer.unref();
  }

  /** One monitor round: probe, evaluate serializably, tell the listeners. */
  async monitorOnce(): Promise<ClusterStatus | null> {
    if (this.monitoring) return null;
    this.monitoring = true;
    try {
      const status = this.host.raft.status();
      if (status.failed !== null || status.applied === 0) return null;
      const probes = await this.probeAll();
      if (this.closed) return null;
      const computed = this.compute(this.readLocal(false, null), probes, this.thresholds);
      if (computed.state !== this.lastState) {
        if (this.lastState !== null) this.logger.info({ state: computed.state, was: this.lastState, reasons: computed.reasons.map((r) => r.code) }, 'HA state changed');
        this.lastState = computed.state;
      }
      for (const listener of this.stateListeners) listener(computed);
      return computed;
    } catch (err: unknown) {
      this.logger.debug({ err: err instanceof Error ? err.message : String(err) }, 'status monitor round failed');
      return null;
    } finally {
      this.monitoring = false;
    }
  }

  // ---------------------------------------------------------------- pause / resume

  /** A client of the store through this member and the others (for the operations that write). */
  async storeClient(): Promise<CoordClient> {
    this.client ??= (async () => {
      const endpoints = new Set<string>();
      const own = this.host.clientAddress();
      if (own !== '') endpoints.add(own);
      for (const m of this.host.state.members()) if (m.clientAddress !== null) endpoints.add(m.clientAddress);
      for (const e of this.options.endpoints ?? []) endpoints.add(e);
      return CoordClient.connect({ endpoints: [...endpoints], requestTimeoutMs: 5_000, logger: this.logger, ...(this.options.tls === undefined ? {} : { tls: this.options.tls }) });
    })();
    return this.client;
  }

  /** Writes hubha/paused {paused: true}; unchanged when already paused. */
  async pause(reason: string, by: string): Promise<{ paused: Paused; changed: boolean; revision: number }> {
    return this.setPaused(true, reason, by);
  }

  /** Writes hubha/paused {paused: false}; unchanged when not paused. */
  async resume(reason: string, by: string): Promise<{ paused: Paused; changed: boolean; revision: number }> {
    return this.setPaused(false, reason, by);
  }

  private async setPaused(paused: boolean, reason: string, by: string): Promise<{ paused: Paused; changed: boolean; revision: number }> {
    checkOperator(reason, by);
    const read = await this.readRecords(false);
    if (!read.linearizable) throw new AdminRefusal('failed-precondition', 'no-quorum', `the store cannot confirm its state (${read.barrierError ?? 'no read barrier'}): nothing written`);
    const current = read.records.paused;
    if ((current?.paused ?? false) === paused) {
      return { paused: current ?? { paused: false, by: '', at: new Date(this.wallClock()).toISOString(), reason: '' }, changed: false, revision: read.revision };
    }
    const record: Paused = { paused, by: by === '' ? 'unknown' : by, at: new Date(this.wallClock()).toISOString(), reason };
    const client = await this.storeClient();
    const response = await client.session('admin').put(PAUSED_KEY, encodeRecord(record));
    this.logger.warn({ paused, by: record.by, reason }, paused ? 'cluster paused: no automatic failover until resumed' : 'cluster resumed');
    return { paused: record, changed: true, revision: response.revision };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.monitorTimer !== null) clearTimeout(this.monitorTimer);
    this.monitorTimer = null;
    this.stateListeners.clear();
    const closing = [...this.closeListeners];
    this.closeListeners.clear();
    for (const listener of closing) listener();
    const client = this.client;
    this.client = null;
    await client?.then((c) => c.close()).catch(() => undefined);
    // Only the transport this service created (a test's fake is the test's).
    if (this.options.transport === undefined) this.transport?.close();
  }
}
