/**
 * The coordination store's client: sessions (exactly-once mutations, reads, leases, membership),
 * watches and lease keepers over one gRPC channel per member.
 *
 *     const client = await CoordClient.connect({ endpoints: ['10.0.0.1:2380', '10.0.0.2:2380'] });
 *     const session = client.session('sidecar');
 *     await session.put('/hubs/a/state', 'primary');
 *     const keeper = session.keepLease({ name: 'hub-primary', holder: 'node-a', ttlMs: 3000, metadata: {} });
 *     keeper.onLost((reason) => fence(reason));
 *     for await (const event of client.watch({ key: '/hubs/', prefix: true })) { ... }
 *     await client.close();
 */
import { setMaxListeners } from 'node:events';
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { closedError, invalidArgument } from './errors.js';
import type { BackoffOptions } from './router.js';
import { Router } from './router.js';
import { CoordSession } from './session.js';
import type { CoordClientTls } from './tls.js';
import { clientCredentials } from './tls.js';
import type { RpcTransport } from './transport.js';
import { DEFAULT_CHANNEL_OPTIONS, GrpcTransport } from './transport.js';
import type { WatchOptions } from './watch.js';
import { CoordWatch } from './watch.js';

export interface CoordClientOptions {
  /** The members' client endpoints, "host:port". More are learned from leader redirects. */
  readonly endpoints: readonly string[];
  /** Absent: plaintext. See CoordClientTls (PEM text or file paths). */
  readonly tls?: CoordClientTls;
  /** The deadline of each call, retries included. Default 5000 ms. */
  readonly requestTimeoutMs?: number;
  /** The deadline of one attempt within a call. Default min(2000, requestTimeoutMs). */
  readonly attemptTimeoutMs?: number;
  /** Attempts per call at most (redirects, failovers, retries). Default 20. */
  readonly maxAttempts?: number;
  /** Backoff between attempts (default 25 ms doubling to 1000 ms, ±20 % jitter). */
  readonly backoff?: BackoffOptions;
  /** Mutations a session may have waiting behind the one in flight. Default 1000. */
  readonly maxQueuedMutations?: number;
  /** Default: silent. */
  readonly logger?: Logger;
  /** Merged over the default channel options (keepalive, reconnect backoff, message sizes). */
  readonly channelOptions?: grpc.ChannelOptions;
  /** Replaces gRPC (tests); `tls` and `channelOptions` are then ignored. */
  readonly transport?: RpcTransport;
}

const HOST_PORT = /^(?:\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/;

function checkEndpoint(endpoint: unknown): string {
  if (typeof endpoint !== 'string' || !HOST_PORT.test(endpoint)) throw invalidArgument(`endpoint ${JSON.stringify(endpoint)} is not "host:port"`);
  const port = Number(endpoint.slice(endpoint.lastIndexOf(':') + 1));
  if (port < 1 || port > 65535) throw invalidArgument(`endpoint ${endpoint}: port out of range`);
  return endpoint;
}

function positive(value: number | undefined, fallback: number, what: string): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw invalidArgument(`${what} must be a positive number, got ${String(v)}`);
  return v;
}

export class CoordClient {
  readonly requestTimeoutMs: number;
  readonly maxQueuedMutations: number;
  readonly logger: Logger;
  readonly router: Router;
  readonly transport: RpcTransport;
  private readonly abort: AbortController;
  private readonly sessions = new Set<CoordSession>();
  private readonly watches = new Set<CoordWatch>();
  private closing: Promise<void> | null = null;

  private constructor(options: {
    transport: RpcTransport;
    abort: AbortController;
    endpoints: readonly string[];
    requestTimeoutMs: number;
    attemptTimeoutMs: number;
    maxAttempts: number;
    maxQueuedMutations: number;
    backoff: BackoffOptions | undefined;
    logger: Logger;
  }) {
    this.transport = options.transport;
    this.abort = options.abort;
    this.requestTimeoutMs = options.requestTimeoutMs;
    this.maxQueuedMutations = options.maxQueuedMutations;
    this.logger = options.logger;
    this.router = new Router({
      endpoints: options.endpoints,
      transport: options.transport,
      attemptTimeoutMs: options.attemptTimeoutMs,
      maxAttempts: options.maxAttempts,
      ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
      logger: options.logger,
      signal: options.abort.signal,
    });
  }

  /**
   * Creates the client: validates the options, loads the TLS material and starts connecting to
   * every endpoint. It does not wait for any member to answer (calls do, within their deadline).
   */
  static async connect(options: CoordClientOptions): Promise<CoordClient> {
    if (!Array.isArray(options.endpoints) || options.endpoints.length === 0) throw invalidArgument('connect: at least one endpoint is required');
    const endpoints = options.endpoints.map(checkEndpoint);
    const requestTimeoutMs = positive(options.requestTimeoutMs, 5000, 'requestTimeoutMs');
    const attemptTimeoutMs = positive(options.attemptTimeoutMs, Math.min(2000, requestTimeoutMs), 'attemptTimeoutMs');
    const maxAttempts = Math.floor(positive(options.maxAttempts, 20, 'maxAttempts'));
    const maxQueuedMutations = Math.floor(positive(options.maxQueuedMutations, 1000, 'maxQueuedMutations'));
    const logger = options.logger ?? pino({ level: 'silent' });
    let transport = options.transport;
    if (transport === undefined) {
      const { credentials, options: tlsOptions } = await clientCredentials(options.tls);
      const grpcTransport = new GrpcTransport(credentials, { ...DEFAULT_CHANNEL_OPTIONS, ...tlsOptions, ...options.channelOptions });
      for (const endpoint of endpoints) grpcTransport.warmUp(endpoint);
      transport = grpcTransport;
    }
    logger.debug({ endpoints, tls: options.tls !== undefined }, 'coord client: created');
    // Every call and backoff in flight listens to it.
    const abort = new AbortController();
    setMaxListeners(0, abort.signal);
    return new CoordClient({
      transport,
      abort,
      endpoints,
      requestTimeoutMs,
      attemptTimeoutMs,
      maxAttempts,
      maxQueuedMutations,
      backoff: options.backoff,
      logger,
    });
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  /** The leader's endpoint as last learned (null when unknown). */
  leaderEndpoint(): string | null {
    return this.router.leaderEndpoint();
  }

  /** The endpoints known: the configured ones and those learned from redirects. */
  endpoints(): readonly string[] {
    return this.router.endpoints();
  }

  /**
   * A new session: its own client id (`${name}-${uuid}`) and seq counter. Cheap; use one per
   * independent stream of mutations (each is strictly sequential).
   */
  session(name?: string): CoordSession {
    if (this.closing !== null) throw closedError();
    const session = new CoordSession(
      {
        router: this.router,
        requestTimeoutMs: this.requestTimeoutMs,
        maxQueuedMutations: this.maxQueuedMutations,
        logger: this.logger,
        detach: (s) => this.sessions.delete(s),
      },
      name,
    );
    this.sessions.add(session);
    return session;
  }

  /** Watches a key or a prefix; iterate it with for await, end it with cancel() (or break). */
  watch(options: WatchOptions): CoordWatch {
    if (this.closing !== null) throw closedError();
    const watch = new CoordWatch(
      {
        router: this.router,
        transport: this.transport,
        requestTimeoutMs: this.requestTimeoutMs,
        logger: this.logger,
        detach: (w) => this.watches.delete(w),
      },
      options,
    );
    this.watches.add(watch);
    return watch;
  }

  /**
   * Closes the client: lease keepers stop (without releasing: their leases expire on the
   * servers), queued and in-flight calls fail with 'closed', watches end with 'closed', the
   * channels close. Idempotent.
   */
  close(): Promise<void> {
    if (this.closing === null) {
      this.closing = (async () => {
        const sessions = [...this.sessions];
        // Keepers first: their 'lost' events fire before anything else fails.
        const stopping = sessions.map((s) => s.close());
        for (const watch of [...this.watches]) watch.close();
        this.abort.abort();
        await Promise.all(stopping);
        this.transport.close();
        this.logger.debug('coord client: closed');
      })();
    }
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

