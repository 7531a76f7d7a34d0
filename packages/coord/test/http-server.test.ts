import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HttpServer, HttpServerError, parseHostPort, readinessRoute } from '../src/index.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function send(address: string, method: string, path: string, options: { body?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const { host, port } = parseHostPort(address);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host, port, method, path, headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

const json = (reply: Reply): unknown => JSON.parse(reply.body);

describe('HttpServer', () => {
  let server: HttpServer;
  beforeEach(async () => {
    server = await HttpServer.start({ listen: '127.0.0.1:0', logger: pino({ level: 'silent' }), handlerTimeoutMs: 300, maxConcurrentRequests: 2 });
  });
  afterEach(async () => {
    await server.close();
  });

  it('serves registered routes as JSON, with the URL and the query', async () => {
    server.register('/primary', (req) => ({ status: req.query.get('lag') === '1' ? 503 : 200, body: { path: req.path, lag: req.query.get('lag') } }));
    const ok = await send(server.address(), 'GET', '/primary');
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(ok.headers['cache-control']).toBe('no-store');
    expect(json(ok)).toEqual({ path: '/primary', lag: null });
    expect(json(await send(server.address(), 'GET', '/primary/?lag=1'))).toEqual({ path: '/primary', lag: '1' });
    expect((await send(server.address(), 'GET', '/primary?lag=1')).status).toBe(503);
    expect(server.routes()).toEqual(['/primary']);
  });

  it('HEAD answers like GET without the body; other methods 405 with Allow; unknown paths 404', async () => {
    server.register('/health', async () => ({ status: 200, body: { ok: true } }));
    const head = await send(server.address(), 'HEAD', '/health');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(Number(head.headers['content-length'])).toBeGreaterThan(0);
    const post = await send(server.address(), 'POST', '/health');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect((await send(server.address(), 'DELETE', '/health')).status).toBe(405);
    const missing = await send(server.address(), 'GET', '/nope');
    expect(missing.status).toBe(404);
    expect(json(missing)).toEqual({ error: 'not-found' });
    expect((await send(server.address(), 'POST', '/nope')).status).toBe(404);
  });

  it('refuses a request with a body (413) without running the handler', async () => {
    let calls = 0;
    server.register('/x', () => ({ status: 200, body: ++calls }));
    const reply = await send(server.address(), 'GET', '/x', { body: 'hello', headers: { 'content-length': '5' } });
    expect(reply.status).toBe(413);
    expect((await send(server.address(), 'GET', '/x', { body: 'abc', headers: { 'transfer-encoding': 'chunked' } })).status).toBe(413);
    expect(calls).toBe(0);
    expect((await send(server.address(), 'GET', '/x', { headers: { 'content-length': '0' } })).status).toBe(200);
  });

  it('a failing handler is a 500 without its message; an invalid result too', async () => {
    server.register('/throws', () => {
      throw new Error('secret password is hunter2');
    });
    server.register('/bad-status', () => ({ status: 42, body: {} }));
    server.register('/cycle', () => {
      const o: Record<string, unknown> = {};
      o.self = o;
      return { status: 200, body: o };
    });
    const reply = await send(server.address(), 'GET', '/throws');
    expect(reply.status).toBe(500);
    expect(reply.body).not.toContain('hunter2');
    expect((await send(server.address(), 'GET', '/bad-status')).status).toBe(500);
    expect((await send(server.address(), 'GET', '/cycle')).status).toBe(500);
  });

  it('serves a text answer with its own content type (HEAD without it); text with a body, or a bad type, is a 500', async () => {
    server.register('/metrics', () => ({ status: 200, text: { contentType: 'text/plain; version=0.0.4; charset=utf-8', content: 'up 1\nß 2\n' } }));
    server.register('/both', () => ({ status: 200, body: {}, text: { contentType: 'text/plain', content: 'x' } }));
    server.register('/inject', () => ({ status: 200, text: { contentType: 'text/plain\r\nset-cookie: a=b', content: 'x' } }));
    const reply = await send(server.address(), 'GET', '/metrics');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(reply.headers['content-length']).toBe(String(Buffer.byteLength('up 1\nß 2\n')));
    expect(reply.body).toBe('up 1\nß 2\n');
    const head = await send(server.address(), 'HEAD', '/metrics');
    expect(head.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(head.body).toBe('');
    for (const path of ['/both', '/inject']) {
      const bad = await send(server.address(), 'GET', path);
      expect(bad.status).toBe(500);
      expect(bad.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(bad.headers['set-cookie']).toBeUndefined();
    }
  });

  it('a slow handler is answered 503 at its deadline (and told through its signal); concurrency is bounded', async () => {
    let aborted = 0;
    server.register('/slow', (req) => new Promise((resolve) => req.signal.addEventListener('abort', () => { aborted++; resolve({ status: 200, body: 'late' }); })));
    const started = Date.now();
    const replies = await Promise.all([send(server.address(), 'GET', '/slow'), send(server.address(), 'GET', '/slow'), send(server.address(), 'GET', '/slow')]);
    expect(replies.map((r) => r.status).sort()).toEqual([503, 503, 503]);
    expect(replies.map((r) => (json(r) as { error: string }).error).sort()).toEqual(['busy', 'timeout', 'timeout']);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(aborted).toBe(2);
    // The slots are free again.
    server.register('/fast', () => ({ status: 204 }));
    expect((await send(server.address(), 'GET', '/fast')).status).toBe(204);
  });

  it('registration: duplicate paths refused, bad paths refused, unregister frees the path', async () => {
    const off = server.register('/a', () => ({ status: 200, body: 1 }));
    expect(() => server.register('/a/', () => ({ status: 200 }))).toThrow(HttpServerError);
    expect(() => server.register('a', () => ({ status: 200 }))).toThrow(HttpServerError);
    expect(() => server.register('/a?x=1', () => ({ status: 200 }))).toThrow(HttpServerError);
    off();
    expect((await send(server.address(), 'GET', '/a')).status).toBe(404);
    server.register('/a', () => ({ status: 200, body: 2 }));
    expect(json(await send(server.address(), 'GET', '/a'))).toBe(2);
  });

  it('oversized headers are refused by node:http', async () => {
    server.register('/a', () => ({ status: 200, body: 1 }));
    const reply = await send(server.address(), 'GET', '/a', { headers: { 'x-big': 'x'.repeat(20_000) } });
    expect(reply.status).toBe(431);
  });

  it('close() is idempotent and closes idle keep-alive connections', async () => {
    server.register('/a', () => ({ status: 200, body: 1 }));
    const { host, port } = parseHostPort(server.address());
    const socket = connect(port, host);
    await new Promise((r) => socket.once('connect', r));
    socket.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => socket.once('data', r));
    const closedSocket = new Promise((r) => socket.once('close', r));
    await Promise.all([server.close(), server.close()]);
    await closedSocket;
    await server.close();
    await expect(send(server.address(), 'GET', '/a')).rejects.toThrow();
  });

  it('refuses to start on a taken port and on a malformed address', async () => {
    await expect(HttpServer.start({ listen: server.address(), logger: pino({ level: 'silent' }) })).rejects.toThrow(HttpServerError);
    expect(() => parseHostPort('localhost')).toThrow(HttpServerError);
    expect(() => parseHostPort('h:70000')).toThrow(HttpServerError);
    expect(parseHostPort('[::1]:80')).toEqual({ host: '::1', port: 80 });
  });
});

describe('readiness', () => {
  const host = (s: { leader: string; commit: number; applied: number; failed?: string | null }) => ({
    id: 'n1',
    raft: { status: () => ({ term: 3, failed: null, ...s }) },
  });
  it('ready with a leader and everything known committed applied', () => {
    expect(readinessRoute(host({ leader: 'n2', commit: 10, applied: 10 }))).toEqual({
      status: 200,
      body: { ready: true, member: 'n1', leader: 'n2', term: 3, commit: 10, applied: 10 },
    });
  });
  it('not ready without a leader, behind, or failed', () => {
    expect(readinessRoute(host({ leader: '', commit: 10, applied: 10 }))).toMatchObject({ status: 503, body: { ready: false, reason: 'no-leader', leader: null } });
    expect(readinessRoute(host({ leader: 'n1', commit: 10, applied: 9 }))).toMatchObject({ status: 503, body: { reason: 'applying' } });
    expect(readinessRoute(host({ leader: 'n1', commit: 10, applied: 10, failed: 'x' }))).toMatchObject({ status: 503, body: { reason: 'failed' } });
  });
});
