import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';

/**
 * A small HTTP/1.1 server (node:http, no framework) for health checks and discovery: GET (and
 * HEAD) routes by exact path, JSON answers (or text: the Prometheus metrics, the status page).
 * Routes are registered by path, by whoever owns them: the coordination layer registers the core
 * routes, the hub package its own.
 *
 * Bounded: requests carry no body (refused with 413 otherwise), headers are at most 16 KiB,
 * slow clients are cut off by the header and request timeouts, handlers get a deadline and at
 * most `maxConcurrentRequests` run at once (503 beyond).
 */

export type HttpMethod = 'GET' | 'HEAD';

export interface HttpRequestInfo {
  readonly method: HttpMethod;
  /** The path, without a trailing slash (except "/"). */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly url: URL;
  /** Aborted when the handler's deadline passes or the client goes away. */
  readonly signal: AbortSignal;
}

export interface HttpResult {
  /** 100..599. */
  readonly status: number;
  /** Sent as JSON; undefined: no body. */
  readonly body?: unknown;
  /**
   * Sent as is instead of JSON, for the answers whose format is not ours to choose (Prometheus
   * text, the HTML status page). Not together with `body`.
   */
  readonly text?: { readonly contentType: string; readonly content: string };
  readonly headers?: Readonly<Record<string, string>>;
}

export type HttpHandler = (request: HttpRequestInfo) => HttpResult | Promise<HttpResult>;

export interface HttpRouteOptions {
  /** Default GET (HEAD is then answered too, without the body). */
  readonly methods?: readonly HttpMethod[];
}

export interface HttpServerOptions {
  /** "host:port" ("[::1]:8080" for IPv6; port 0 picks a free one). */
  readonly listen: string;
  readonly logger: Logger;
  /** A handler that takes longer is answered 503 (default 5000 ms). */
  readonly handlerTimeoutMs?: number;
  /** Default 128. */
  readonly maxConcurrentRequests?: number;
}

interface Route {
  readonly handler: HttpHandler;
  readonly methods: ReadonlySet<HttpMethod>;
}

const MAX_HEADER_BYTES = 16 * 1024;
const JSON_TYPE = 'application/json; charset=utf-8';

export class HttpServerError extends Error {
  override readonly name = 'HttpServerError';
}

/** Splits "host:port" / "[v6]:port". */
export function parseHostPort(value: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (match === null || !(port >= 0 && port <= 65535)) throw new HttpServerError(`invalid listen address ${JSON.stringify(value)}: must be "host:port"`);
  return { host: match[1] ?? match[2] ?? '', port };
}

function normalizePath(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length.trim() !== '0');
}

export class HttpServer {
  private readonly routeTable = new Map<string, Route>();
  private readonly handlerTimeoutMs: number;
  private readonly maxConcurrent: number;
  private inFlight = 0;
  private closing: Promise<void> | null = null;
  private boundAddress = '';

  private constructor(
    private readonly server: Server,
    private readonly logger: Logger,
    options: HttpServerOptions,
  ) {
    this.handlerTimeoutMs = options.handlerTimeoutMs ?? 5_000;
    this.maxConcurrent = options.maxConcurrentRequests ?? 128;
  }

  /** Listens on `options.listen`; rejects if it cannot (address in use, ...). */
  static async start(options: HttpServerOptions): Promise<HttpServer> {
    const { host, port } = parseHostPort(options.listen);
    const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES });
    server.headersTimeout = 5_000;
    server.requestTimeout = 10_000;
    server.keepAliveTimeout = 5_000;
    server.maxRequestsPerSocket = 1_000;
    server.maxConnections = 1_024;
    const http = new HttpServer(server, options.logger, options);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => http.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(new HttpServerError(`cannot listen on ${options.listen}: ${err.message}`, { cause: err }));
      server.once('error', onError);
      server.listen({ host, port }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (err) => options.logger.error({ err }, 'http server error'));
    const address = server.address() as AddressInfo;
    http.boundAddress = `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    options.logger.info({ address: http.boundAddress }, 'http listening');
    return http;
  }

  /**
   * Serves `path` (exact match, e.g. "/primary") with `handler`. Throws if the path is taken.
   * Returns a function that removes the route.
   */
  register(path: string, handler: HttpHandler, options: HttpRouteOptions = {}): () => void {
    if (!path.startsWith('/') || /[?#\s]/.test(path)) throw new HttpServerError(`route path must start with "/" and hold no query: ${JSON.stringify(path)}`);
    const key = normalizePath(path);
    if (this.routeTable.has(key)) throw new HttpServerError(`route ${key} is already registered`);
    const methods = new Set<HttpMethod>(options.methods ?? ['GET']);
    if (methods.has('GET')) methods.add('HEAD');
    const route: Route = { handler, methods };
    this.routeTable.set(key, route);
    return () => {
      if (this.routeTable.get(key) === route) this.routeTable.delete(key);
    };
  }

  /** The registered paths. */
  routes(): string[] {
    return [...this.routeTable.keys()].sort();
  }

  /** The bound "host:port" (useful with port 0). */
  address(): string {
    return this.boundAddress;
  }

  /** Stops listening and closes every connection (requests in progress are cut). Idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    return this.closing;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      this.send(req, res, { status: 400, body: { error: 'bad-request', message: 'invalid request target' } });
      return;
    }
    const path = normalizePath(url.pathname);
    const route = this.routeTable.get(path);
    if (route === undefined) {
      this.send(req, res, { status: 404, body: { error: 'not-found' } });
      return;
    }
    const method = req.method ?? '';
    if (!route.methods.has(method as HttpMethod)) {
      this.send(req, res, { status: 405, body: { error: 'method-not-allowed', allow: [...route.methods] }, headers: { allow: [...route.methods].join(', ') } });
      return;
    }
    if (hasBody(req)) {
      this.send(req, res, { status: 413, body: { error: 'body-not-allowed', message: 'requests carry no body' }, headers: { connection: 'close' } });
      return;
    }
    if (this.inFlight >= this.maxConcurrent) {
      this.send(req, res, { status: 503, body: { error: 'busy' }, headers: { 'retry-after': '1' } });
      return;
    }
    this.inFlight++;
    const abort = new AbortController();
    let answered = false;
    const answer = (result: HttpResult): void => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      this.inFlight--;
      this.send(req, res, result);
    };
    const timer = setTimeout(() => {
      abort.abort();
      answer({ status: 503, body: { error: 'timeout', message: 'no answer in time' } });
    }, this.handlerTimeoutMs);
    res.once('close', () => {
      if (!answered) {
        abort.abort();
        answer({ status: 503, body: { error: 'client-gone' } });
      }
    });
    const info: HttpRequestInfo = { method: method as HttpMethod, path, query: url.searchParams, url, signal: abort.signal };
    Promise.resolve()
      .then(() => route.handler(info))
      .then(
        (result) => answer(result),
        (err: unknown) => {
          this.logger.warn({ err, path }, 'http handler failed');
          answer({ status: 500, body: { error: 'internal' } });
        },
      );
  }

  private send(req: IncomingMessage, res: ServerResponse, result: HttpResult): void {
    if (res.headersSent || res.destroyed || res.writableEnded) return;
    let status = result.status;
    let text: string | undefined;
    let contentType = JSON_TYPE;
    try {
      if (!Number.isInteger(status) || status < 100 || status > 599) throw new HttpServerError(`invalid status ${status}`);
      if (result.text !== undefined) {
        if (result.body !== undefined) throw new HttpServerError('a result has either a JSON body or a text, not both');
        // A content type with a line break would let a handler inject headers.
        if (!/^[\x20-\x7e]+$/.test(result.text.contentType)) throw new HttpServerError(`invalid content type ${JSON.stringify(result.text.contentType)}`);
        text = result.text.content;
        contentType = result.text.contentType;
      } else {
        text = result.body === undefined ? undefined : `${JSON.stringify(result.body)}\n`;
      }
      for (const [name, value] of Object.entries(result.headers ?? {})) res.setHeader(name, value);
    } catch (err: unknown) {
      this.logger.warn({ err, path: req.url }, 'http handler returned an invalid result');
      status = 500;
      text = `${JSON.stringify({ error: 'internal' })}\n`;
      contentType = JSON_TYPE;
    }
    res.statusCode = status;
    res.setHeader('cache-control', 'no-store');
    res.setHeader('x-content-type-options', 'nosniff');
    if (text === undefined) {
      res.end();
      return;
    }
    const body = Buffer.from(text, 'utf8');
    res.setHeader('content-type', contentType);
    res.setHeader('content-length', body.length);
    if (req.method === 'HEAD') res.end();
    else res.end(body);
  }
}
