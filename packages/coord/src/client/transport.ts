import * as grpc from '@grpc/grpc-js';

/**
 * The seam between the client's logic (leader routing, retries, sessions, watches) and gRPC:
 * "call this method on that endpoint". GrpcTransport is the real one; tests substitute fakes.
 */

/** A call that ended with a non-OK status (or never reached a server). */
export class RpcFailure extends Error {
  override readonly name = 'RpcFailure';
  constructor(
    readonly endpoint: string,
    readonly status: grpc.status,
    readonly details: string,
    /** Trailing metadata: the first string value of each key. */
    readonly metadata: ReadonlyMap<string, string> = new Map(),
  ) {
    super(`${endpoint}: ${grpc.status[status] ?? status}: ${details}`);
  }

  get(key: string): string | undefined {
    const value = this.metadata.get(key);
    return value === undefined || value === '' ? undefined : value;
  }
}

export interface UnaryOptions {
  /** The call's deadline, relative to now. */
  readonly timeoutMs: number;
  /** Aborting cancels the call; it then rejects with status CANCELLED. */
  readonly signal?: AbortSignal;
  /** Request metadata (e.g. that a member forwards the call on behalf of a client). */
  readonly metadata?: ReadonlyMap<string, string>;
}

export interface StreamHandlers<Res> {
  onMessage(message: Res): void;
  /** Called once, unless cancelled: null for a clean end (status OK), else the failure. */
  onEnd(failure: RpcFailure | null): void;
}

export interface StreamHandle {
  /** Ends the call; no handler is called afterwards. */
  cancel(): void;
  /** Flow control: stop / restart delivering messages. */
  pause(): void;
  resume(): void;
}

export interface RpcTransport {
  unary<Req, Res>(endpoint: string, method: grpc.MethodDefinition<Req, Res>, request: Req, options: UnaryOptions): Promise<Res>;
  serverStream<Req, Res>(endpoint: string, method: grpc.MethodDefinition<Req, Res>, request: Req, handlers: StreamHandlers<Res>): StreamHandle;
  close(): void;
}

export function metadataMap(metadata: grpc.Metadata | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (metadata === undefined) return out;
  for (const [key, values] of Object.entries(metadata.getMap())) {
    if (typeof values === 'string') out.set(key, values);
  }
  return out;
}

export function failureOf(endpoint: string, err: unknown): RpcFailure {
  if (err instanceof RpcFailure) return err;
  const e = err as Partial<grpc.ServiceError> | null;
  if (e !== null && typeof e === 'object' && typeof e.code === 'number') {
    return new RpcFailure(endpoint, e.code, typeof e.details === 'string' ? e.details : String(e.message), metadataMap(e.metadata));
  }
  return new RpcFailure(endpoint, grpc.status.UNKNOWN, err instanceof Error ? err.message : String(err));
}

/** Channel options of every client channel (overridable through CoordClientOptions). */
export const DEFAULT_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  // A dead or partitioned member is noticed within ~15 s even without calls (a call's own
  // deadline notices sooner).
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
  // Reconnect quickly to a restarted member (the default backoff grows to 2 minutes).
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 2_000,
  // The servers send at most 4 MiB; do not be the smaller limit.
  'grpc.max_receive_message_length': 8 * 1024 * 1024,
  'grpc.max_send_message_length': 8 * 1024 * 1024,
};

interface Endpoint {
  readonly channel: grpc.Channel;
  readonly client: grpc.Client;
}

/**
 * gRPC over one Channel per endpoint (created on first use), shared by every service and call to
 * that endpoint: all traffic to one member is one HTTP/2 connection.
 */
export class GrpcTransport implements RpcTransport {
  private readonly endpoints = new Map<string, Endpoint>();
  private closed = false;

  constructor(
    private readonly credentials: grpc.ChannelCredentials,
    private readonly channelOptions: grpc.ChannelOptions = DEFAULT_CHANNEL_OPTIONS,
  ) {}

  /** The endpoint's client (and channel); starts connecting when `connect`. */
  private endpoint(address: string, connect = false): Endpoint {
    if (this.closed) throw new Error('GrpcTransport: closed');
    let ep = this.endpoints.get(address);
    if (ep === undefined) {
      const channel = new grpc.Channel(address, this.credentials, this.channelOptions);
      const client = new grpc.Client(address, this.credentials, { channelOverride: channel });
      ep = { channel, client };
      this.endpoints.set(address, ep);
    }
    if (connect) ep.channel.getConnectivityState(true);
    return ep;
  }

  /** Starts connecting to `address` now (calls would connect on first use anyway). */
  warmUp(address: string): void {
    this.endpoint(address, true);
  }

  /** The channel of an endpoint (undefined before first use); for tests and diagnostics. */
  channelOf(address: string): grpc.Channel | undefined {
    return this.endpoints.get(address)?.channel;
  }

  unary<Req, Res>(endpoint: string, method: grpc.MethodDefinition<Req, Res>, request: Req, options: UnaryOptions): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      if (options.signal?.aborted === true) {
        reject(new RpcFailure(endpoint, grpc.status.CANCELLED, 'cancelled before the call'));
        return;
      }
      let client: grpc.Client;
      try {
        client = this.endpoint(endpoint).client;
      } catch (err: unknown) {
        reject(new RpcFailure(endpoint, grpc.status.CANCELLED, err instanceof Error ? err.message : String(err)));
        return;
      }
      const onAbort = (): void => call.cancel();
      const metadata = new grpc.Metadata();
      for (const [key, value] of options.metadata ?? []) metadata.set(key, value);
      const call = client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        metadata,
        { deadline: Date.now() + Math.max(0, options.timeoutMs) },
        (err, response) => {
          options.signal?.removeEventListener('abort', onAbort);
          if (err !== null) reject(failureOf(endpoint, err));
          else if (response === undefined) reject(new RpcFailure(endpoint, grpc.status.INTERNAL, 'no response message'));
          else resolve(response);
        },
      );
      options.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  serverStream<Req, Res>(endpoint: string, method: grpc.MethodDefinition<Req, Res>, request: Req, handlers: StreamHandlers<Res>): StreamHandle {
    let done = false;
    const finish = (failure: RpcFailure | null): void => {
      if (done) return;
      done = true;
      handlers.onEnd(failure);
    };
    let call: grpc.ClientReadableStream<Res>;
    try {
      call = this.endpoint(endpoint).client.makeServerStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, request, new grpc.Metadata(), {});
    } catch (err: unknown) {
      queueMicrotask(() => finish(new RpcFailure(endpoint, grpc.status.CANCELLED, err instanceof Error ? err.message : String(err))));
      return { cancel: () => (done = true), pause: () => {}, resume: () => {} };
    }
    let status: grpc.StatusObject | null = null;
    let ended = false;
    const settle = (): void => {
      // A clean end needs both the OK status and the end of the messages.
      if (status !== null && ended) finish(status.code === grpc.status.OK ? null : new RpcFailure(endpoint, status.code, status.details, metadataMap(status.metadata)));
    };
    call.on('data', (message: Res) => {
      if (!done) handlers.onMessage(message);
    });
    call.on('status', (s: grpc.StatusObject) => {
      status = s;
      if (s.code !== grpc.status.OK) finish(new RpcFailure(endpoint, s.code, s.details, metadataMap(s.metadata)));
      else settle();
    });
    call.on('error', (err: unknown) => finish(failureOf(endpoint, err)));
    call.on('end', () => {
      ended = true;
      settle();
    });
    return {
      cancel: () => {
        done = true;
        call.cancel();
      },
      pause: () => call.pause(),
      resume: () => call.resume(),
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const ep of this.endpoints.values()) ep.client.close();
    this.endpoints.clear();
  }
}
