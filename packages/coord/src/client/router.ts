/**
 * Where a request goes and what happens when it fails: leader discovery (follow the
 * hubha-leader-endpoint of a follower's refusal), failover across endpoints on connection errors,
 * bounded attempts with exponential backoff, all within one deadline.
 *
 * A retry resends the same request object: for a mutation that means the same client_id and seq,
 * which the server's session table makes exactly-once.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { METADATA_ERROR_CODE, METADATA_LEADER, METADATA_LEADER_ENDPOINT } from '../rpc/definitions.js';
import { CoordClientError, closedError, statusCodeName } from './errors.js';
import type { RpcTransport } from './transport.js';
import { RpcFailure, failureOf } from './transport.js';

/** 'leader': mutations and linearizable reads. 'any': serializable reads, watches, status. */
export type Route = 'leader' | 'any' | { readonly endpoint: string };

export interface BackoffOptions {
  /** The first delay. Default 25 ms. */
  readonly initialMs?: number;
  /** The largest delay. Default 1000 ms. */
  readonly maxMs?: number;
  /** Each delay is scaled by a random factor in [1 - jitter, 1 + jitter]. Default 0.2. */
  readonly jitter?: number;
}

export interface RouterOptions {
  readonly endpoints: readonly string[];
  readonly transport: RpcTransport;
  /** Deadline of one attempt (the overall deadline is the caller's). */
  readonly attemptTimeoutMs: number;
  /** Attempts per call at most (each redirect, failover and retry is one). */
  readonly maxAttempts: number;
  readonly backoff?: BackoffOptions;
  readonly logger: Logger;
  /** Cancels every call and sleep: they reject with 'closed'. */
  readonly signal: AbortSignal;
  readonly random?: () => number;
}

/** How a failed attempt is handled. */
export type FailureKind =
  /** A follower refused and named the leader's endpoint: go there. */
  | { readonly kind: 'redirect'; readonly endpoint: string }
  /** The member answered but cannot serve (not the leader and no leader known, or shutting down). */
  | { readonly kind: 'no-leader' }
  /** No answer: connection refused or dropped, cancelled by the server. */
  | { readonly kind: 'connection' }
  /** The attempt's deadline passed (client side), or the server timed the request out. */
  | { readonly kind: 'timeout'; readonly server: boolean }
  /** The server is overloaded; nothing was done. */
  | { readonly kind: 'overloaded' }
  /** A refusal to report: not retried. */
  | { readonly kind: 'fatal'; readonly error: CoordClientError };

const OVERLOAD_CODES: ReadonlySet<string> = new Set(['overloaded', 'too-many-uncommitted-bytes']);

/** Classifies a failed attempt (exported for tests). */
export function classifyFailure(f: RpcFailure): FailureKind {
  const code = f.get(METADATA_ERROR_CODE);
  switch (f.status) {
    case grpc.status.UNAVAILABLE: {
      const endpoint = f.get(METADATA_LEADER_ENDPOINT);
      if (endpoint !== undefined) return { kind: 'redirect', endpoint };
      if (code !== undefined || f.get(METADATA_LEADER) !== undefined) return { kind: 'no-leader' };
      return { kind: 'connection' };
    }
    case grpc.status.CANCELLED:
      return { kind: 'connection' };
    case grpc.status.DEADLINE_EXCEEDED:
      return { kind: 'timeout', server: code !== undefined };
    case grpc.status.RESOURCE_EXHAUSTED:
      if (code !== undefined && OVERLOAD_CODES.has(code)) return { kind: 'overloaded' };
      break;
    default:
      break;
  }
  return { kind: 'fatal', error: refusalError(f) };
}

/** A refusal as the error the API throws: the server's code, else the status's name. */
export function refusalError(f: RpcFailure): CoordClientError {
  const code = f.get(METADATA_ERROR_CODE) ?? statusCodeName(f.status);
  return new CoordClientError(code, f.details === '' ? code : f.details, { cause: f, grpcStatus: f.status, endpoint: f.endpoint });
}

export function backoffDelayMs(failures: number, backoff: Required<BackoffOptions>, random: () => number): number {
  const exponent = Math.max(0, Math.min(failures - 1, 30));
  const base = Math.min(backoff.maxMs, backoff.initialMs * 2 ** exponent);
  return Math.max(0, Math.round(base * (1 + backoff.jitter * (2 * random() - 1))));
}

/** Resolves after `ms`, or rejects with 'closed' when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(closedError());
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(closedError());
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export interface CallResult<Res> {
  readonly response: Res;
  readonly endpoint: string;
}

export class Router {
  private readonly known: string[];
  private leader: string | null = null;
  /** The last endpoint that answered: where 'any' calls go first when no leader is known. */
  private lastGood: string | null = null;
  private cursor = 0;
  private readonly backoff: Required<BackoffOptions>;
  private readonly random: () => number;

  constructor(private readonly options: RouterOptions) {
    if (options.endpoints.length === 0) throw new CoordClientError('invalid-argument', 'at least one endpoint is required');
    this.known = [...new Set(options.endpoints)];
    this.backoff = { initialMs: options.backoff?.initialMs ?? 25, maxMs: options.backoff?.maxMs ?? 1000, jitter: options.backoff?.jitter ?? 0.2 };
    this.random = options.random ?? Math.random;
  }

  get signal(): AbortSignal {
    return this.options.signal;
  }

  /** The leader's endpoint as last learned; null when unknown. */
  leaderEndpoint(): string | null {
    return this.leader;
  }

  /** The endpoints known: the configured ones and those learned from redirects. */
  endpoints(): readonly string[] {
    return this.known;
  }

  private learn(endpoint: string): void {
    if (!this.known.includes(endpoint)) {
      this.known.push(endpoint);
      this.options.logger.info({ endpoint }, 'coord client: learned a new endpoint from a redirect');
    }
  }

  /** The endpoint to try first for a route. */
  pick(route: Route): string {
    if (typeof route === 'object') return route.endpoint;
    if (this.leader !== null) return this.leader;
    if (route === 'any' && this.lastGood !== null) return this.lastGood;
    return this.known[this.cursor % this.known.length] as string;
  }

  /** The endpoint after `endpoint` in the rotation. */
  next(endpoint: string): string {
    const i = this.known.indexOf(endpoint);
    this.cursor = i < 0 ? this.cursor + 1 : i + 1;
    return this.known[this.cursor % this.known.length] as string;
  }

  /** The leader is about to change (e.g. a transfer): find it again on the next call. */
  forgetLeader(): void {
    this.leader = null;
  }

  /** Tells the router an endpoint failed at the connection level (e.g. a dropped watch). */
  noteFailure(endpoint: string): void {
    if (this.leader === endpoint) this.leader = null;
    if (this.lastGood === endpoint) this.lastGood = null;
  }

  noteSuccess(endpoint: string, route: Route): void {
    this.lastGood = endpoint;
    if (route === 'leader') this.leader = endpoint;
  }

  backoffMs(failures: number): number {
    return backoffDelayMs(failures, this.backoff, this.random);
  }

  /**
   * Calls `method` with `request` until it succeeds, fails with a refusal (thrown as a
   * CoordClientError with the server's code), or `deadline` (performance.now() ms) passes
   * ('timeout' when the last attempt timed out, else 'unavailable'). A route to one endpoint
   * is tried once. `attemptTimeoutMs` overrides the router's for this call.
   */
  async call<Req, Res>(route: Route, method: grpc.MethodDefinition<Req, Res>, request: Req, deadline: number, attemptTimeoutMs = this.options.attemptTimeoutMs): Promise<CallResult<Res>> {
    const what = method.path;
    const single = typeof route === 'object';
    let target = this.pick(route);
    let attempts = 0;
    let backoffs = 0;
    let hops = 0;
    let roundFailures = 0;
    let last: { failure: RpcFailure; kind: FailureKind } | null = null;
    const giveUp = (reason: string): CoordClientError => {
      const timedOut = last === null || last.kind.kind === 'timeout';
      const detail = last === null ? '' : `; last: ${last.failure.message}`;
      return new CoordClientError(timedOut ? 'timeout' : 'unavailable', `${what}: ${reason} after ${attempts} attempt(s)${detail}`, {
        ...(last === null ? {} : { cause: last.failure, grpcStatus: last.failure.status, endpoint: last.failure.endpoint }),
      });
    };
    for (;;) {
      if (this.options.signal.aborted) throw closedError();
      const remaining = deadline - performance.now();
      if (remaining <= 0) throw giveUp('deadline passed');
      attempts++;
      try {
        const response = await this.options.transport.unary(target, method, request, {
          timeoutMs: Math.max(1, Math.min(attemptTimeoutMs, Math.ceil(remaining))),
          signal: this.options.signal,
        });
        this.noteSuccess(target, route);
        return { response, endpoint: target };
      } catch (err: unknown) {
        if (this.options.signal.aborted) throw closedError();
        const failure = failureOf(target, err);
        const kind = classifyFailure(failure);
        if (kind.kind === 'fatal') throw kind.error;
        last = { failure, kind };
        this.options.logger.debug({ endpoint: target, method: what, status: failure.status, details: failure.details, kind: kind.kind }, 'coord client: attempt failed');
        if (single) throw giveUp(`${target} did not answer`);
        if (attempts >= this.options.maxAttempts) throw giveUp('too many attempts');
        let delay = 0;
        switch (kind.kind) {
          case 'redirect':
            this.learn(kind.endpoint);
            if (kind.endpoint !== target && hops < this.known.length) {
              // Go to the named leader at once; a chain of redirects longer than the cluster
              // means stale views: back off.
              hops++;
              this.leader = kind.endpoint;
              target = kind.endpoint;
              continue;
            }
            hops = 0;
            this.leader = kind.endpoint === target ? null : kind.endpoint;
            target = this.leader ?? this.next(target);
            delay = this.backoffMs(++backoffs);
            break;
          case 'no-leader':
            // An election is under way (or the member is leaving): wait, then ask someone else.
            this.noteFailure(target);
            target = this.next(target);
            delay = this.backoffMs(++backoffs);
            break;
          case 'timeout':
          case 'connection':
            if (kind.kind === 'timeout' && kind.server) {
              // The member took the request but could not finish it in time: the same one again.
              delay = this.backoffMs(++backoffs);
              break;
            }
            // No answer (or a silent member): try the next one.
            this.noteFailure(target);
            target = this.next(target);
            // A full round of unreachable members: back off before the next round.
            if (++roundFailures >= this.known.length) {
              roundFailures = 0;
              delay = this.backoffMs(++backoffs);
            }
            break;
          case 'overloaded':
            delay = this.backoffMs(++backoffs);
            break;
        }
        if (delay > 0) {
          if (performance.now() + delay >= deadline) throw giveUp('deadline would pass while backing off');
          await sleep(delay, this.options.signal);
        }
      }
    }
  }
}
