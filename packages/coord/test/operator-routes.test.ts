import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HttpServer, NodeMetrics, registerOperatorRoutes } from '../src/index.js';

const logger = pino({ level: 'silent' });

describe('GET /metrics', () => {
  let server: HttpServer;
  beforeEach(async () => {
    server = await HttpServer.start({ listen: '127.0.0.1:0', logger });
    const metrics = new NodeMetrics(
      {
        id: 'n1',
        version: '0.1.0',
        raftStatus: () => ({ term: 7, leader: 'n1', commit: 3, applied: 3 }),
        cluster: () => Promise.reject(new Error('nothing applied')),
      },
      logger,
    );
    registerOperatorRoutes(server, metrics);
  });
  afterEach(async () => {
    await server.close();
  });

  it('answers Prometheus text, the Raft view even without a cluster status', async () => {
    const metrics = await fetch(`http://${server.address()}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await metrics.text();
    expect(text).toContain('# TYPE hubha_raft_term gauge\nhubha_raft_term 7\n');
    expect(text).toContain('hubha_status_up 0\n');
  });
});
