import * as grpc from '@grpc/grpc-js';
import type { hubha } from '@hubha/proto/admin';
import { clientCredentials } from '../client/tls.js';
import type { CoordClientTls } from '../client/tls.js';
import { DEFAULT_CHANNEL_OPTIONS, GrpcTransport, RpcFailure } from '../client/transport.js';
import type { RpcTransport } from '../client/transport.js';
import type { HistoryEntry, Paused, Rejoin } from '../records/records.js';
import { METADATA_ERROR_CODE } from '../rpc/definitions.js';
import type { ClusterStatus, MemberStatus, StatusThresholds } from '../status/model.js';
import type { AdminEvent } from './admin-service.js';
import { adminService } from './definitions.js';
import type { FailoverOutcome, SwitchoverOutcome } from './handover-operations.js';
import { historyFromWire, memberStatusFromWire, pausedFromWire, raftFromWire, rejoinFromWire, statusFromWire, u64, u64OrNull } from './wire.js';

/**
 * A client of the Admin service (proto/admin.proto). Every member answers, so endpoints are tried
 * in turn: one that cannot be reached (or cannot answer: UNAVAILABLE) is skipped; a refusal
 * (INVALID_ARGUMENT, FAILED_PRECONDITION, UNIMPLEMENTED, ...) is final.
 */

export interface AdminClientOptions {
  readonly tls?: CoordClientTls;
  /** Each endpoint's deadline (default 5000 ms). */
  readonly timeoutMs?: number;
  /** Test seam: replaces gRPC. */
  readonly transport?: RpcTransport;
}

export interface AdminEndpointFailure {
  readonly endpoint: string;
  readonly error: string;
}

/** No endpoint answered. */
export class AdminUnreachableError extends Error {
  override readonly name = 'AdminUnreachableError';
  constructor(readonly failures: readonly AdminEndpointFailure[]) {
    super(`no member answered: ${failures.map((f) => `${f.endpoint}: ${f.error}`).join('; ') || 'no endpoints'}`);
  }
}

/** A member answered with a refusal. */
export class AdminCallError extends Error {
  override readonly name = 'AdminCallError';
  constructor(
    readonly endpoint: string,
    readonly status: grpc.status,
    /** The hubha-error-code metadata ('' when none). */
    readonly code: string,
    readonly details: string,
  ) {
    super(`${endpoint}: ${grpc.status[status] ?? status}: ${details}`);
  }

  /** The member refused (the request or the state forbids it); otherwise it gave no answer in time. */
  get refused(): boolean {
    return this.status === grpc.status.INVALID_ARGUMENT || this.status === grpc.status.FAILED_PRECONDITION || this.status === grpc.status.UNIMPLEMENTED;
  }
}

export interface Answered<T> {
  readonly value: T;
  readonly endpoint: string;
  readonly failures: readonly AdminEndpointFailure[];
}

export interface AdminWatchHandlers {
  onEvent(event: AdminEvent): void;
  /** Once: null for a clean end (the member shut down), else the failure. */
  onEnd(error: Error | null): void;
}

function describe(err: unknown): string {
  return err instanceof RpcFailure ? `${grpc.status[err.status] ?? err.status}: ${err.details}` : err instanceof Error ? err.message : String(err);
}

/** Statuses that mean "this member cannot answer, ask another". */
const TRY_NEXT = new Set<grpc.status>([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.CANCELLED, grpc.status.UNKNOWN, grpc.status.INTERNAL, grpc.status.RESOURCE_EXHAUSTED]);
/**
 * An operation that changes the cluster is sent to the next member only when the last one could
 * not have received it: after a deadline it may well be under way (a second request would be
 * refused as handover-in-progress at best), so that is reported instead.
 */
const TRY_NEXT_OPERATION = new Set<grpc.status>([grpc.status.UNAVAILABLE]);

const nullIfEmpty = (value: string | null | undefined): string | null => (value === undefined || value === null || value === '' ? null : value);

/** Switchover, failover and reinit wait for their outcome: longer than the handover window (30 s). */
const OPERATION_TIMEOUT_MS = 40_000;

/** The answers carry the same fields as the service's outcomes ("" on the wire is null here). */
export type SwitchoverAnswer = SwitchoverOutcome;
export type FailoverAnswer = FailoverOutcome;

export class AdminClient {
  private constructor(
    private readonly transport: RpcTransport,
    readonly timeoutMs: number,
  ) {}

  static async create(options: AdminClientOptions = {}): Promise<AdminClient> {
    const timeoutMs = options.timeoutMs ?? 5_000;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError(`AdminClient: timeoutMs must be positive, got ${timeoutMs}`);
    let transport = options.transport;
    if (transport === undefined) {
      const { credentials, options: tlsOptions } = await clientCredentials(options.tls);
      transport = new GrpcTransport(credentials, { ...DEFAULT_CHANNEL_OPTIONS, ...tlsOptions });
    }
    return new AdminClient(transport, timeoutMs);
  }

  /** Calls `method` on the endpoints in turn until one answers (or refuses). */
  private async first<Req, Res, T>(
    endpoints: readonly string[],
    method: grpc.MethodDefinition<Req, Res>,
    request: Req,
    decode: (res: Res) => T,
    accept: (value: T) => boolean = () => true,
    timeoutMs: number = this.timeoutMs,
    tryNext: ReadonlySet<grpc.status> = TRY_NEXT,
  ): Promise<Answered<T>> {
    const failures: AdminEndpointFailure[] = [];
    let fallback: { value: T; endpoint: string } | null = null;
    for (const endpoint of endpoints) {
      let value: T;
      try {
        value = decode(await this.transport.unary(endpoint, method, request, { timeoutMs }));
      } catch (err: unknown) {
        if (err instanceof RpcFailure && !tryNext.has(err.status)) throw new AdminCallError(endpoint, err.status, err.get(METADATA_ERROR_CODE) ?? '', err.details);
        failures.push({ endpoint, error: describe(err) });
        continue;
      }
      if (accept(value)) return { value, endpoint, failures };
      fallback ??= { value, endpoint };
    }
    if (fallback !== null) return { ...fallback, failures };
    throw new AdminUnreachableError(failures);
  }

  /**
   * The cluster's status. The first linearizable answer wins; a member that could only answer
   * serializable (no quorum where it is) is kept and the next one asked; if none does better, the
   * first serializable answer is returned (it says `linearizable: false`).
   */
  async status(endpoints: readonly string[], options: { readonly serializable?: boolean; readonly thresholds?: Partial<StatusThresholds> } = {}): Promise<Answered<ClusterStatus>> {
    const t = options.thresholds ?? {};
    const thresholds: hubha.admin.StatusThresholds.$Properties = {
      ...(t.reportMaxAgeMs === undefined ? {} : { reportMaxAgeMs: t.reportMaxAgeMs }),
      ...(t.lagMaxBytes === undefined ? {} : { lagMaxBytes: t.lagMaxBytes }),
      ...(t.lagMaxSeconds === undefined ? {} : { lagMaxSeconds: t.lagMaxSeconds }),
      ...(t.maximumLagOnFailoverBytes === undefined ? {} : { maximumLagOnFailoverBytes: t.maximumLagOnFailoverBytes }),
      synchronous: t.synchronous ?? '',
    };
    return this.first(
      endpoints,
      adminService.GetStatus,
      { serializable: options.serializable === true, thresholds } as hubha.admin.GetStatusRequest,
      (res) => statusFromWire(res.status),
      (status) => status.linearizable || options.serializable === true,
    );
  }

  async members(endpoints: readonly string[], options: { readonly serializable?: boolean } = {}): Promise<Answered<{ members: MemberStatus[]; linearizable: boolean; servedBy: string; raft: ClusterStatus['raft'] }>> {
    return this.first(
      endpoints,
      adminService.ListMembers,
      { serializable: options.serializable === true } as hubha.admin.ListMembersRequest,
      (res) => ({ members: (res.members ?? []).map((m, i) => memberStatusFromWire(m, i)), linearizable: res.linearizable === true, servedBy: res.servedBy ?? '', raft: raftFromWire(res.raft) }),
      (v) => v.linearizable || options.serializable === true,
    );
  }

  async history(endpoints: readonly string[], options: { readonly serializable?: boolean; readonly limit?: number } = {}): Promise<Answered<{ entries: HistoryEntry[]; rejoins: Rejoin[]; linearizable: boolean; servedBy: string; revision: number; problems: string[] }>> {
    return this.first(
      endpoints,
      adminService.GetHistory,
      { serializable: options.serializable === true, limit: options.limit ?? 0 } as hubha.admin.GetHistoryRequest,
      (res) => ({
        entries: (res.entries ?? []).map((e, i) => historyFromWire(e, `entries[${i}]`)),
        rejoins: (res.rejoins ?? []).map((r, i) => rejoinFromWire(r, `rejoins[${i}]`)),
        linearizable: res.linearizable === true,
        servedBy: res.servedBy ?? '',
        revision: u64(res.revision, 'revision'),
        problems: [...(res.problems ?? [])],
      }),
      (v) => v.linearizable || options.serializable === true,
    );
  }

  async pause(endpoints: readonly string[], reason: string, by: string): Promise<Answered<{ paused: Paused; changed: boolean; servedBy: string }>> {
    return this.first(endpoints, adminService.Pause, { reason, by } as hubha.admin.PauseRequest, (res) => ({ paused: pausedFromWire(res.paused ?? {}), changed: res.changed === true, servedBy: res.servedBy ?? '' }));
  }

  /** A planned switchover; waits for it (up to the handover window) unless scheduled or a dry run. */
  async switchover(endpoints: readonly string[], request: { target: string; at: string; dryRun: boolean; reason: string; by: string }): Promise<Answered<SwitchoverAnswer>> {
    return this.first(
      endpoints,
      adminService.Switchover,
      request as hubha.admin.SwitchoverRequest,
      (res): SwitchoverAnswer => ({ from: res.from ?? '', to: res.to ?? '', epoch: u64(res.epoch, 'epoch'), finalLsn: nullIfEmpty(res.finalLsn), durationS: res.durationS ?? 0, steps: res.steps ?? [], dryRun: res.dryRun === true, scheduledAt: nullIfEmpty(res.scheduledAt) }),
      () => true,
      OPERATION_TIMEOUT_MS,
      TRY_NEXT_OPERATION,
    );
  }

  /** A manual failover to `target` (the lease must be free). */
  async failover(endpoints: readonly string[], request: { target: string; force: boolean; dryRun: boolean; reason: string; by: string }): Promise<Answered<FailoverAnswer>> {
    return this.first(
      endpoints,
      adminService.Failover,
      request as hubha.admin.FailoverRequest,
      (res): FailoverAnswer => ({ from: nullIfEmpty(res.from), to: res.to ?? '', epoch: u64(res.epoch, 'epoch'), dataLossBytes: u64OrNull(res.dataLossBytes, 'dataLossBytes'), warnings: res.warnings ?? [], steps: res.steps ?? [], dryRun: res.dryRun === true }),
      () => true,
      OPERATION_TIMEOUT_MS,
      TRY_NEXT_OPERATION,
    );
  }

  /** Asks `member` to re-clone itself from the active hub. */
  async reinit(endpoints: readonly string[], request: { member: string; force: boolean; by: string }): Promise<Answered<{ member: string; started: boolean; message: string }>> {
    return this.first(endpoints, adminService.Reinit, request as hubha.admin.ReinitRequest, (res) => ({ member: res.member ?? '', started: res.started === true, message: res.message ?? '' }), () => true, OPERATION_TIMEOUT_MS, TRY_NEXT_OPERATION);
  }

  async resume(endpoints: readonly string[], reason: string, by: string): Promise<Answered<{ paused: Paused; changed: boolean; servedBy: string }>> {
    return this.first(endpoints, adminService.Resume, { reason, by } as hubha.admin.ResumeRequest, (res) => ({ paused: pausedFromWire(res.paused ?? {}), changed: res.changed === true, servedBy: res.servedBy ?? '' }));
  }

  /** The events of one member, until it ends or cancel(). */
  watch(endpoint: string, handlers: AdminWatchHandlers): { cancel(): void } {
    let done = false;
    const finish = (error: Error | null): void => {
      if (done) return;
      done = true;
      handlers.onEnd(error);
    };
    const handle = this.transport.serverStream(endpoint, adminService.WatchEvents, {} as hubha.admin.WatchEventsRequest, {
      onMessage: (m) => {
        if (done) return;
        handlers.onEvent({
          type: m.type ?? '',
          member: m.member === '' || m.member === undefined || m.member === null ? null : m.member,
          message: m.message ?? '',
          at: m.at ?? '',
          revision: u64(m.revision, 'revision'),
          recordJson: m.recordJson === '' || m.recordJson === undefined || m.recordJson === null ? null : m.recordJson,
        });
      },
      onEnd: (failure) => finish(failure),
    });
    return {
      cancel: () => {
        done = true;
        handle.cancel();
      },
    };
  }

  /** A raw call, for the operations not wrapped here (e.g. the declared Switchover). */
  async call<Req, Res>(endpoints: readonly string[], method: grpc.MethodDefinition<Req, Res>, request: Req): Promise<Answered<Res>> {
    return this.first(endpoints, method, request, (res) => res);
  }

  close(): void {
    this.transport.close();
  }
}
