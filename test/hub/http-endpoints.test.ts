/**
 * What load balancers and agents pull from every node of a real local cluster: the active-hub
 * address (witness included) and the Patroni-style health endpoints of the hubs.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CoordClient } from '@hubha/coord';
import { LocalHubCluster } from '../../deploy/local/local-cluster.js';
import { connectClient, waitFor, waitHealthy } from './support.js';

let cluster: LocalHubCluster;
let client: CoordClient;

async function get(name: string, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://${cluster.member(name).http}${path}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  cluster = await LocalHubCluster.create({ dir: await mkdtemp(join(tmpdir(), 'hubha-http-')), synchronous: 'on' });
  cluster.startAll();
  client = await connectClient(cluster);
}, 120_000);

afterAll(async () => {
  await client?.close();
  await cluster?.destroy();
});

describe('HTTP on every node', () => {
  it('serves the active hub everywhere and the health checks on the hubs', async () => {
    const { active, standby } = await waitHealthy(cluster, client, { synchronous: true });
    for (const m of cluster.members) {
      const res = await get(m.name, '/v1/active-hub');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ present: true, name: active.name, address: active.address, epoch: active.epoch, linearizable: true });
    }
    expect((await get(active.name, '/primary')).status).toBe(200);
    expect((await get(standby, '/primary')).status).toBe(503);
    // The standby's report reaches the agent's view within a report interval.
    const replica = await get(standby, '/replica');
    expect(replica.status).toBe(200);
    expect((await get(active.name, '/replica')).status).toBe(503);
    expect((await get(standby, '/replica?lag=abc')).status).toBe(400);
    for (const hub of [active.name, standby]) expect((await get(hub, '/health')).status).toBe(200);
    expect((await get('witness', '/liveness')).status).toBe(200);
    expect((await get('witness', '/readiness')).status).toBe(200);
    expect((await get('witness', '/primary')).status).toBe(404);
  });

  it('keeps Raft leadership off the active hub and writes the active-hub file for local consumers', async () => {
    const { active } = await waitHealthy(cluster, client, { synchronous: true });
    // Losing the active hub must not also cost an election: the leader moves to another voter.
    const leader = await waitFor('Raft leadership off the active hub', async () => {
      const status = await client.session('s').status(cluster.member('witness').client);
      return status.header.leader !== '' && status.header.leader !== active.name ? status.header.leader : null;
    }, 20_000);
    expect(leader).not.toBe(active.name);
    const file = JSON.parse(await readFile(join(cluster.dir, active.name, 'active-hub.json'), 'utf8')) as { name: string; epoch: number };
    expect(file).toMatchObject({ name: active.name, epoch: active.epoch });
  });
});
