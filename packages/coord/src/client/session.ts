/**
 * A client session: one client_id and its seq counter, for exactly-once mutations.
 *
 * The servers deduplicate per client_id (a retried seq gets the cached result) and require at
 * most one request in flight per client_id with strictly increasing seqs. So a session:
 *  - sends its mutations one at a time, in call order (a bounded queue);
 *  - gives each mutation the next seq when it is sent, and retries it with that same seq (the
 *    same request) across redirects, failovers and timeouts until the call's deadline;
 *  - after a mutation fails for good ('timeout', 'unavailable': outcome unknown) moves on to a
 *    new seq: the abandoned one can then never be applied after a later one (the server refuses
 *    it as stale), and is never confused with a different command.
 * Reads and membership calls are not queued (they carry no seq). Lease keepers started here send
 * through a session of their own (keepLease): behind another mutation in flight — up to its
 * whole deadline, against a leader that went silent — a renewal would come too late.
 */
import { randomUUID } from 'node:crypto';
import type { hubha } from '@hubha/proto/coord';
import type { Logger } from 'pino';
import { clusterService, kvService, leaseService } from '../rpc/definitions.js';
import type * as grpc from '@grpc/grpc-js';
import { compareToWire, txnOpToWire } from '../state/codec.js';
import { MAX_NAME_BYTES } from '../state/limits.js';
import type { Compare, LeaseRef, TxnOp } from '../state/types.js';
import { CoordClientError, closedError, invalidArgument } from './errors.js';
import type { LeaseKeeperOptions } from './lease-keeper.js';
import { LeaseKeeper } from './lease-keeper.js';
import type { Route, Router } from './router.js';
import type {
  CallOptions,
  DeleteResponse,
  GetResponse,
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  LeaseListResponse,
  LeaseReleaseRequest,
  LeaseReleaseResponse,
  MembersResponse,
  MutationOptions,
  PutResponse,
  RangeResponse,
  StatusResponse,
  TransferLeaderResponse,
  TxnResponse,
} from './types.js';
import {
  checkString,
  checkU64,
  decodeWith,
  headerFromWire,
  keyValuesFromWire,
  leaseInfoFromWire,
  malformed,
  membersFromWire,
  metadataToWire,
  optionalKeyValue,
  optionalLeaseInfo,
  txnOpResultFromWire,
  u64,
  valueBytes,
} from './wire.js';

/** What a session needs of its client. */
export interface SessionHost {
  readonly router: Router;
  readonly requestTimeoutMs: number;
  readonly maxQueuedMutations: number;
  readonly logger: Logger;
  /** The session was closed: forget it. */
  detach(session: CoordSession): void;
}

export interface PutOptions extends MutationOptions {
  /** Attach the key to this lease (refused unless held at exactly this epoch). */
  readonly lease?: LeaseRef;
  /** Return the previous key-value. */
  readonly prevKv?: boolean;
}

export interface DeleteOptions extends MutationOptions {
  readonly prevKv?: boolean;
}

export interface ReadOptions extends CallOptions {
  /** Served by any member from its replica, possibly stale; default false (linearizable). */
  readonly serializable?: boolean;
}

export interface RangeOptions extends ReadOptions {
  /** At most this many keys (0 or absent: the server's maximum, 10000). */
  readonly limit?: number;
  /** Only keys after this one (pagination: the last key of the previous page). */
  readonly startAfter?: string;
}

export interface TxnRequest {
  readonly compare?: readonly Compare[];
  readonly success?: readonly TxnOp[];
  readonly failure?: readonly TxnOp[];
}

/** The part of a mutation's request the session fills in. */
interface Sequenced {
  clientId?: string | null;
  seq?: unknown;
}

interface Job {
  readonly deadline: number;
  readonly run: (seq: number) => Promise<void>;
  readonly fail: (err: unknown) => void;
}

/** Client ids are sent as `${name}-${uuid}`: the name part is bounded to keep them valid. */
const MAX_SESSION_NAME_BYTES = MAX_NAME_BYTES - 37;

function checkSessionName(name: string): string {
  if (typeof name !== 'string' || name === '') throw invalidArgument('session name must be a non-empty string');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw invalidArgument('session name must not contain control characters');
  if (Buffer.byteLength(name, 'utf8') > MAX_SESSION_NAME_BYTES) throw invalidArgument(`session name must be at most ${MAX_SESSION_NAME_BYTES} UTF-8 bytes`);
  return name;
}

function checkBytes(value: unknown, field: string): void {
  if (!(value instanceof Uint8Array)) throw invalidArgument(`${field} must be a Uint8Array`);
}

function checkTxnOp(op: TxnOp, field: string): void {
  if (op.type === 'put') {
    checkBytes(op.value, `${field}.value`);
    if (op.lease !== undefined) checkU64(op.lease.epoch, `${field}.lease.epoch`);
  }
}

export class CoordSession {
  /** Sent with every mutation; the server's session table is keyed by it. */
  readonly clientId: string;
  private lastSeq = 0;
  private readonly queue: Job[] = [];
  private readonly urgent: Job[] = [];
  private busy = false;
  private closed = false;
  private readonly keepers = new Set<LeaseKeeper>();
  /** Where this session's lease keepers send (keepLease); created with the first keeper. */
  private leaseLane: CoordSession | null = null;
  private readonly log: Logger;
  private readonly name: string;

  constructor(
    private readonly host: SessionHost,
    name = 'session',
  ) {
    this.name = checkSessionName(name);
    this.clientId = `${this.name}-${randomUUID()}`;
    this.log = host.logger.child({ clientId: this.clientId });
  }

  /** The seq of the last mutation sent (0 before the first). */
  get seq(): number {
    return this.lastSeq;
  }

  /** Mutations waiting to be sent (not counting the one in flight). */
  get queued(): number {
    return this.queue.length + this.urgent.length;
  }

  private deadline(options: CallOptions | undefined): number {
    const timeoutMs = options?.timeoutMs ?? this.host.requestTimeoutMs;
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) throw invalidArgument(`timeoutMs must be a positive number, got ${String(timeoutMs)}`);
    const attempt = options?.attemptTimeoutMs;
    if (attempt !== undefined && (typeof attempt !== 'number' || !(attempt > 0))) throw invalidArgument(`attemptTimeoutMs must be a positive number, got ${String(attempt)}`);
    return performance.now() + timeoutMs;
  }

  private checkOpen(): void {
    if (this.closed) throw closedError('the session is closed');
    if (this.host.router.signal.aborted) throw closedError();
  }

  // -------------------------------------------------------------------- plumbing

  /** A mutation: queued, given its seq when sent, retried with it until the deadline. */
  private mutate<Req extends Sequenced, Res, T>(
    method: grpc.MethodDefinition<Req, Res>,
    build: () => Omit<Req, keyof Sequenced>,
    decode: (response: Res) => T,
    options: MutationOptions | undefined,
  ): Promise<T> {
    try {
      this.checkOpen();
      const deadline = this.deadline(options);
      const base = build();
      if (options?.priority !== true && this.queue.length >= this.host.maxQueuedMutations) {
        throw new CoordClientError('queue-full', `the session has ${this.queue.length} mutations waiting (maxQueuedMutations)`);
      }
      return new Promise<T>((resolve, reject) => {
        const job: Job = {
          deadline,
          fail: reject,
          run: async (seq) => {
            const request = { ...base, clientId: this.clientId, seq } as Req;
            const { response } = await this.host.router.call('leader', method, request, deadline, options?.attemptTimeoutMs);
            resolve(decodeWith(method.path, () => decode(response)));
          },
        };
        (options?.priority === true ? this.urgent : this.queue).push(job);
        void this.pump();
      });
    } catch (err: unknown) {
      return Promise.reject(err);
    }
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (let job = this.urgent.shift() ?? this.queue.shift(); job !== undefined; job = this.urgent.shift() ?? this.queue.shift()) {
        if (this.closed || this.host.router.signal.aborted) {
          job.fail(closedError(this.closed ? 'the session is closed' : undefined));
          continue;
        }
        if (performance.now() >= job.deadline) {
          // Never sent: certainly not applied.
          job.fail(new CoordClientError('timeout', 'the deadline passed while the mutation waited in the session queue'));
          continue;
        }
        const seq = ++this.lastSeq;
        try {
          await job.run(seq);
        } catch (err: unknown) {
          job.fail(err);
        }
      }
    } finally {
      this.busy = false;
    }
  }

  /** A call without a seq (reads, membership): straight to the router. */
  private async request<Req, Res, T>(route: Route, method: grpc.MethodDefinition<Req, Res>, build: () => Req, decode: (response: Res, endpoint: string) => T, options: CallOptions | undefined): Promise<T> {
    this.checkOpen();
    const deadline = this.deadline(options);
    const request = build();
    const { response, endpoint } = await this.host.router.call(route, method, request, deadline, options?.attemptTimeoutMs);
    return decodeWith(method.path, () => decode(response, endpoint));
  }

  // -------------------------------------------------------------------------- KV

  put(key: string, value: Uint8Array | string, options: PutOptions = {}): Promise<PutResponse> {
    return this.mutate(
      kvService.Put,
      () => {
        const lease = options.lease;
        return {
          key: checkString(key, 'key'),
          value: valueBytes(value),
          ...(lease === undefined ? {} : { lease: { name: checkString(lease.name, 'lease.name'), epoch: checkU64(lease.epoch, 'lease.epoch') } }),
          prevKv: options.prevKv === true,
        };
      },
      (res) => {
        const header = headerFromWire(res.header);
        return { header, revision: header.revision, prevKv: optionalKeyValue(res.prevKv, 'prevKv') };
      },
      options,
    );
  }

  get(key: string, options: ReadOptions = {}): Promise<GetResponse> {
    const serializable = options.serializable === true;
    return this.request(serializable ? 'any' : 'leader', kvService.Get, () => ({ key: checkString(key, 'key'), serializable }), (res) => ({ header: headerFromWire(res.header), kv: optionalKeyValue(res.kv, 'kv') }), options);
  }

  range(prefix: string, options: RangeOptions = {}): Promise<RangeResponse> {
    const serializable = options.serializable === true;
    return this.request(
      serializable ? 'any' : 'leader',
      kvService.Range,
      () => {
        const limit = options.limit ?? 0;
        if (!Number.isInteger(limit) || limit < 0 || limit > 0xffff_ffff) throw invalidArgument(`limit must be a non-negative integer, got ${String(limit)}`);
        return { prefix: checkString(prefix, 'prefix'), limit, startAfter: checkString(options.startAfter ?? '', 'startAfter'), serializable };
      },
      (res) => ({ header: headerFromWire(res.header), kvs: keyValuesFromWire(res.kvs, 'kvs'), more: res.more === true }),
      options,
    );
  }

  delete(key: string, options: DeleteOptions = {}): Promise<DeleteResponse> {
    return this.mutate(
      kvService.Delete,
      () => ({ key: checkString(key, 'key'), prevKv: options.prevKv === true }),
      (res) => deleteResponse(res),
      options,
    );
  }

  deleteRange(prefix: string, options: DeleteOptions = {}): Promise<DeleteResponse> {
    return this.mutate(
      kvService.DeleteRange,
      () => ({ prefix: checkString(prefix, 'prefix'), prevKv: options.prevKv === true }),
      (res) => deleteResponse(res),
      options,
    );
  }

  txn(txn: TxnRequest, options: MutationOptions = {}): Promise<TxnResponse> {
    return this.mutate(
      kvService.Txn,
      () => {
        const compare = txn.compare ?? [];
        const success = txn.success ?? [];
        const failure = txn.failure ?? [];
        compare.forEach((c, i) => {
          if (c.target === 'value') checkBytes(c.value, `compare[${i}].value`);
          else if (c.target !== 'exists') checkU64(c.number, `compare[${i}].number`);
        });
        success.forEach((op, i) => checkTxnOp(op, `success[${i}]`));
        failure.forEach((op, i) => checkTxnOp(op, `failure[${i}]`));
        return { compare: compare.map(compareToWire), success: success.map(txnOpToWire), failure: failure.map(txnOpToWire) };
      },
      (res) => {
        const header = headerFromWire(res.header);
        return {
          header,
          revision: header.revision,
          succeeded: res.succeeded === true,
          results: (res.results ?? []).map((r, i) => txnOpResultFromWire(r, `results[${i}]`)),
        };
      },
      options,
    );
  }

  // ----------------------------------------------------------------------- leases

  leaseGrant(request: LeaseGrantRequest, options: MutationOptions = {}): Promise<LeaseGrantResponse> {
    return this.mutate(
      leaseService.Grant,
      () => ({
        name: checkString(request.name, 'name'),
        holder: checkString(request.holder, 'holder'),
        ttlMs: checkU64(request.ttlMs, 'ttlMs'),
        metadata: metadataToWire(request.metadata, 'metadata'),
      }),
      (res): LeaseGrantResponse => {
        const header = headerFromWire(res.header);
        const lease = leaseInfoFromWire(res.lease, 'lease');
        return res.granted === true ? { header, revision: header.revision, granted: true, lease } : { header, revision: header.revision, granted: false, lease };
      },
      options,
    );
  }

  /** renewed = false is an answer, not an error: the lease is lost, stop acting as its holder. */
  leaseKeepAlive(request: LeaseKeepAliveRequest, options: MutationOptions = {}): Promise<LeaseKeepAliveResponse> {
    return this.mutate(
      leaseService.KeepAlive,
      () => ({
        name: checkString(request.name, 'name'),
        holder: checkString(request.holder, 'holder'),
        epoch: checkU64(request.epoch, 'epoch'),
        updateMetadata: request.metadata !== undefined,
        metadata: metadataToWire(request.metadata, 'metadata'),
      }),
      (res): LeaseKeepAliveResponse => {
        const header = headerFromWire(res.header);
        const lease = optionalLeaseInfo(res.lease, 'lease');
        if (res.renewed === true) {
          if (lease === null) return malformed('lease: missing in a renewal');
          return { header, revision: header.revision, renewed: true, lease };
        }
        return { header, revision: header.revision, renewed: false, lease };
      },
      options,
    );
  }

  leaseRelease(request: LeaseReleaseRequest, options: MutationOptions = {}): Promise<LeaseReleaseResponse> {
    return this.mutate(
      leaseService.Release,
      () => ({ name: checkString(request.name, 'name'), holder: checkString(request.holder, 'holder'), epoch: checkU64(request.epoch, 'epoch') }),
      (res) => {
        const header = headerFromWire(res.header);
        return { header, revision: header.revision, released: res.released === true, lease: optionalLeaseInfo(res.lease, 'lease'), deleted: u64(res.deleted, 'deleted') };
      },
      options,
    );
  }

  leaseList(prefix = '', options: ReadOptions = {}): Promise<LeaseListResponse> {
    const serializable = options.serializable === true;
    return this.request(
      serializable ? 'any' : 'leader',
      leaseService.List,
      () => ({ prefix: checkString(prefix, 'prefix'), serializable }),
      (res) => ({
        header: headerFromWire(res.header),
        leases: (res.leases ?? []).map((s, i) => ({
          lease: leaseInfoFromWire(s.lease, `leases[${i}].lease`),
          remainingMs: s.remainingMs === null || s.remainingMs === undefined ? null : u64(s.remainingMs, `leases[${i}].remainingMs`),
        })),
      }),
      options,
    );
  }

  /**
   * Keeps a lease (see LeaseKeeper): acquires it, renews it, tells when it is lost. Its requests
   * go through this session's lease lane — a session of its own (client id
   * `<this session's name>.lease-<uuid>`), shared by the keepers started here — so that they
   * never wait behind this session's other mutations. Stopped when this session is closed.
   */
  keepLease(options: LeaseKeeperOptions): LeaseKeeper {
    this.checkOpen();
    const suffixed = `${this.name}.lease`;
    this.leaseLane ??= new CoordSession(this.host, Buffer.byteLength(suffixed, 'utf8') <= MAX_SESSION_NAME_BYTES ? suffixed : 'lease');
    const keeper = new LeaseKeeper(this.leaseLane, { logger: this.leaseLane.log, ...options });
    this.keepers.add(keeper);
    void keeper.whenStopped().then(() => this.keepers.delete(keeper));
    return keeper;
  }

  // ---------------------------------------------------------------------- cluster

  /** The status of one member: `endpoint` (asked once, no failover), or any reachable member. */
  status(endpoint?: string, options: CallOptions = {}): Promise<StatusResponse> {
    return this.request(endpoint === undefined ? 'any' : { endpoint }, clusterService.Status, () => ({}), (res, answered) => ({
      header: headerFromWire(res.header),
      endpoint: answered,
      role: typeof res.role === 'string' ? res.role : '',
      isLearner: res.isLearner === true,
      commitIndex: u64(res.commitIndex, 'commitIndex'),
      appliedIndex: u64(res.appliedIndex, 'appliedIndex'),
      version: typeof res.version === 'string' ? res.version : '',
    }), options);
  }

  memberList(options: ReadOptions = {}): Promise<MembersResponse> {
    const serializable = options.serializable === true;
    return this.request(serializable ? 'any' : 'leader', clusterService.MemberList, () => ({ serializable }), membersResponse, options);
  }

  /**
   * Membership changes are not deduplicated by seq: a retry after a lost answer may be refused
   * by the server's own idempotence checks (e.g. the member already exists).
   */
  memberAddLearner(id: string, peerAddress: string, clientAddress: string, options: CallOptions = {}): Promise<MembersResponse> {
    return this.request(
      'leader',
      clusterService.MemberAddLearner,
      () => ({ id: checkString(id, 'id'), peerAddress: checkString(peerAddress, 'peerAddress'), clientAddress: checkString(clientAddress, 'clientAddress') }),
      membersResponse,
      options,
    );
  }

  memberPromote(id: string, options: CallOptions = {}): Promise<MembersResponse> {
    return this.request('leader', clusterService.MemberPromote, () => ({ id: checkString(id, 'id') }), membersResponse, options);
  }

  memberRemove(id: string, options: CallOptions = {}): Promise<MembersResponse> {
    return this.request('leader', clusterService.MemberRemove, () => ({ id: checkString(id, 'id') }), membersResponse, options);
  }

  /** Asks the leader to hand leadership to `target` (default: the server picks a voter). */
  async transferLeader(target = '', options: CallOptions = {}): Promise<TransferLeaderResponse> {
    const response = await this.request('leader', clusterService.TransferLeader, () => ({ target: checkString(target, 'target') }), (res) => ({ header: headerFromWire(res.header) }), options);
    this.host.router.forgetLeader();
    return response;
  }

  // ---------------------------------------------------------------------- lifetime

  /**
   * Stops this session's lease keepers (without releasing their leases), refuses new calls and
   * fails queued mutations with 'closed'. The mutation in flight, if any, runs to its end.
   * Idempotent.
   */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.host.detach(this);
      for (const job of this.urgent.splice(0)) job.fail(closedError('the session is closed'));
      for (const job of this.queue.splice(0)) job.fail(closedError('the session is closed'));
    }
    await Promise.all([...this.keepers].map((k) => k.stop()));
    await this.leaseLane?.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function deleteResponse(res: { header?: hubha.coord.ResponseHeader.$Properties | null; deleted?: unknown; prevKvs?: hubha.coord.KeyValue.$Properties[] | null }): DeleteResponse {
  const header = headerFromWire(res.header);
  return { header, revision: header.revision, deleted: u64(res.deleted, 'deleted'), prevKvs: keyValuesFromWire(res.prevKvs, 'prevKvs') };
}

function membersResponse(res: { header?: hubha.coord.ResponseHeader.$Properties | null; members?: hubha.coord.Member.$Properties[] | null }): MembersResponse {
  return { header: headerFromWire(res.header), members: membersFromWire(res.members) };
}
