import * as grpc from '@grpc/grpc-js';
import type { hubha } from '@hubha/proto/discovery';
import { clientCredentials } from '../client/tls.js';
import type { CoordClientTls } from '../client/tls.js';
import { DEFAULT_CHANNEL_OPTIONS, GrpcTransport, RpcFailure } from '../client/transport.js';
import type { RpcTransport } from '../client/transport.js';
import type { ActiveHubAnswer } from './answer.js';
import { answerFromWire } from './answer.js';
import { discoveryService } from './definitions.js';

export interface DiscoveryClientOptions {
  readonly tls?: CoordClientTls;
  /** Each endpoint's deadline (default 3000 ms). */
  readonly timeoutMs?: number;
  readonly channelOptions?: grpc.ChannelOptions;
  /** Test seam: replaces gRPC. */
  readonly transport?: RpcTransport;
}

export interface DiscoveryReadOptions {
  /** Ask for a serializable answer (no read barrier: any member answers at once, maybe stale). */
  readonly serializable?: boolean;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface EndpointFailure {
  readonly endpoint: string;
  readonly error: string;
}

export interface FoundActiveHub {
  readonly answer: ActiveHubAnswer;
  readonly endpoint: string;
  /** The endpoints tried before (or besides) the one that answered, and why they did not. */
  readonly failures: readonly EndpointFailure[];
}

/** No endpoint answered. */
export class DiscoveryUnreachableError extends Error {
  override readonly name = 'DiscoveryUnreachableError';
  constructor(readonly failures: readonly EndpointFailure[]) {
    super(`no member answered: ${failures.map((f) => `${f.endpoint}: ${f.error}`).join('; ') || 'no endpoints'}`);
  }
}

export interface ActiveHubWatchHandlers {
  onAnswer(answer: ActiveHubAnswer): void;
  /** Once, when the stream ends (the member shut down or became unreachable): null for a clean end, else the failure. */
  onEnd(error: Error | null): void;
}

/**
 * A client of the Discovery service (proto/discovery.proto). Unlike CoordClient it does not look
 * for the leader: every member answers, so endpoints are simply tried in turn.
 */
export class DiscoveryClient {
  private constructor(
    private readonly transport: RpcTransport,
    private readonly timeoutMs: number,
  ) {}

  static async create(options: DiscoveryClientOptions = {}): Promise<DiscoveryClient> {
    const timeoutMs = options.timeoutMs ?? 3_000;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError(`DiscoveryClient: timeoutMs must be positive, got ${timeoutMs}`);
    let transport = options.transport;
    if (transport === undefined) {
      const { credentials, options: tlsOptions } = await clientCredentials(options.tls);
      transport = new GrpcTransport(credentials, { ...DEFAULT_CHANNEL_OPTIONS, ...tlsOptions, ...options.channelOptions });
    }
    return new DiscoveryClient(transport, timeoutMs);
  }

  /** One member's answer. Rejects with an RpcFailure (unreachable, UNAVAILABLE, ...) or a malformed-answer error. */
  async getActiveHub(endpoint: string, options: DiscoveryReadOptions = {}): Promise<ActiveHubAnswer> {
    const response = await this.transport.unary(endpoint, discoveryService.GetActiveHub, { serializable: options.serializable === true } as hubha.discovery.GetActiveHubRequest, {
      timeoutMs: options.timeoutMs ?? this.timeoutMs,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    return answerFromWire(response);
  }

  /**
   * Asks the endpoints in turn. The first linearizable answer wins; a member that could only answer
   * serializable (no quorum) is remembered and the next one asked; if none could do better, the
   * serializable answer with the highest revision is returned. With `serializable`, the first
   * answer wins. Rejects with DiscoveryUnreachableError when no endpoint answered.
   */
  async findActiveHub(endpoints: readonly string[], options: DiscoveryReadOptions = {}): Promise<FoundActiveHub> {
    const failures: EndpointFailure[] = [];
    let best: { answer: ActiveHubAnswer; endpoint: string } | null = null;
    for (const endpoint of endpoints) {
      let answer: ActiveHubAnswer;
      try {
        answer = await this.getActiveHub(endpoint, options);
      } catch (err: unknown) {
        failures.push({ endpoint, error: err instanceof RpcFailure ? `${grpc.status[err.status] ?? err.status}: ${err.details}` : err instanceof Error ? err.message : String(err) });
        continue;
      }
      if (answer.linearizable || options.serializable === true) return { answer, endpoint, failures };
      if (best === null || answer.revision > best.answer.revision) best = { answer, endpoint };
    }
    if (best !== null) return { ...best, failures };
    throw new DiscoveryUnreachableError(failures);
  }

  /** The current answer, then every change, from one member. */
  watchActiveHub(endpoint: string, handlers: ActiveHubWatchHandlers, options: { readonly serializable?: boolean } = {}): { cancel(): void } {
    let done = false;
    const finish = (error: Error | null): void => {
      if (done) return;
      done = true;
      handlers.onEnd(error);
    };
    const handle = this.transport.serverStream(endpoint, discoveryService.WatchActiveHub, { serializable: options.serializable === true } as hubha.discovery.WatchActiveHubRequest, {
      onMessage: (message) => {
        if (done) return;
        let answer: ActiveHubAnswer;
        try {
          answer = answerFromWire(message);
        } catch (err: unknown) {
          handle.cancel();
          finish(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        handlers.onAnswer(answer);
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

  close(): void {
    this.transport.close();
  }
}
