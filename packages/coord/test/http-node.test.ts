import { createServer } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, CoordNode, httpListenAddress, parseNodeConfig } from '../src/index.js';
import { freePort } from '../../../test/support/ports.js';

const logger = pino({ level: 'silent' });

function config(dir: string, node: Record<string, unknown>, member: Record<string, unknown> = {}, client = '127.0.0.1:0') {
  return parseNodeConfig(
    JSON.stringify({
      cluster: { id: 'c', members: [{ name: 'n1', peer: '127.0.0.1:0', client, ...member }] },
      node: { name: 'n1', dataDir: join(dir, 'n1'), ...node },
      raft: { tickMs: 20, electionTimeoutTicks: 10 },
    }),
    join(dir, 'n1.yaml'),
  );
}

describe('HTTP configuration', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hubha-http-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('node.listenHttp, else the member’s http, else no HTTP server', () => {
    expect(httpListenAddress(config(dir, {}))).toBeUndefined();
    expect(httpListenAddress(config(dir, {}, { http: '10.0.0.1:8008' }))).toBe('10.0.0.1:8008');
    expect(httpListenAddress(config(dir, { listenHttp: '0.0.0.0:8008' }, { http: '10.0.0.1:8008' }))).toBe('0.0.0.0:8008');
  });

  it('malformed HTTP endpoints are configuration errors naming the key', () => {
    expect(() => config(dir, { listenHttp: 'nowhere' })).toThrow(ConfigError);
    expect(() => config(dir, {}, { http: 'h:99999' })).toThrow(/cluster\.members\.0\.http/);
  });

  it('a single member serves its HTTP routes and takes extra routes (the hub’s) on node.http', async () => {
    const node = await CoordNode.start({ config: config(dir, { listenHttp: '127.0.0.1:0' }), logger });
    try {
      const base = `http://${node.httpAddress()}`;
      node.http!.register('/primary', () => ({ status: node.raft.isLeader() ? 200 : 503, body: { member: node.id } }));
      await expect.poll(async () => (await fetch(`${base}/readiness`)).status, { timeout: 10_000 }).toBe(200);
      expect((await fetch(`${base}/v1/active-hub`)).status).toBe(404);
      expect(await (await fetch(`${base}/primary`)).json()).toEqual({ member: 'n1' });
    } finally {
      await node.close();
      await node.close();
    }
  });

  it('no HTTP server unless configured', async () => {
    const node = await CoordNode.start({ config: config(dir, {}), logger });
    expect(node.http).toBeNull();
    expect(node.httpAddress()).toBe('');
    await node.close();
  });

  it('a taken HTTP port fails the start and releases what was started', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const taken = (blocker.address() as { port: number }).port;
    const client = `127.0.0.1:${await freePort()}`;
    try {
      await expect(CoordNode.start({ config: config(dir, { listenHttp: `127.0.0.1:${taken}` }, {}, client), logger })).rejects.toThrow(/cannot listen/);
      // The client port is free again: a node can start on it.
      const node = await CoordNode.start({ config: config(dir, {}, {}, client), logger });
      expect(node.clientAddress()).toBe(client);
      await node.close();
    } finally {
      blocker.close();
    }
  });
});
