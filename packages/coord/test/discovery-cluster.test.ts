import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActiveHub, ActiveHubAnswer, CoordSession } from '../src/index.js';
import { ACTIVE_HUB_KEY, ACTIVE_HUB_LEASE, CoordClient, DiscoveryClient, encodeRecord } from '../src/index.js';
import { eventually } from '../../../test/support/eventually.js';
import { LocalCluster } from './support/local-cluster.js';

const HUBHA_CLI = resolve(import.meta.dirname, '../../cli/dist/main.js');

interface HttpReply {
  status: number;
  body: Record<string, unknown>;
}

async function get(endpoint: string, path: string): Promise<HttpReply> {
  const res = await fetch(`http://${endpoint}${path}`, { signal: AbortSignal.timeout(5_000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    execFile(process.execPath, [HUBHA_CLI, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1;
      resolvePromise({ code, stdout, stderr });
    });
  });
}

const since = '2025-06-01T12:00:00.000Z';
const hubRecord = (name: string, epoch: number): ActiveHub => ({ name, address: `10.0.0.${epoch % 250}:5432`, vip: '10.0.0.100/24', epoch, since });

/** What a hub does after promotion: take the lease, publish the record attached to it. */
async function activate(session: CoordSession, name: string, ttlMs: number): Promise<number> {
  const grant = await session.leaseGrant({ name: ACTIVE_HUB_LEASE, holder: name, ttlMs });
  expect(grant.granted).toBe(true);
  const epoch = grant.lease.epoch;
  await session.put(ACTIVE_HUB_KEY, encodeRecord(hubRecord(name, epoch)), { lease: { name: ACTIVE_HUB_LEASE, epoch } });
  return epoch;
}

describe('discovery on a three-member cluster (HTTP and gRPC on every member)', () => {
  let cluster: LocalCluster;
  let coord: CoordClient;
  let discovery: DiscoveryClient;
  const names = ['n1', 'n2', 'n3'];
  let epoch1 = 0;
  let epoch2 = 0;
  const watched: ActiveHubAnswer[] = [];
  let watchEnded: Error | null | undefined;
  let watch: { cancel(): void } | null = null;

  beforeAll(async () => {
    cluster = await LocalCluster.start({ names });
    await cluster.waitForLeader();
    coord = await CoordClient.connect({ endpoints: names.map((n) => cluster.clientEndpoint(n)) });
    discovery = await DiscoveryClient.create({ timeoutMs: 5_000 });
    // Every member ready: it knows the leader and has applied what it knows committed.
    for (const name of names) await eventually(`${name} ready`, async () => ((await get(cluster.httpEndpoint(name), '/readiness')).status === 200 ? true : undefined));
  });
  afterAll(async () => {
    watch?.cancel();
    discovery?.close();
    await coord?.close();
    await cluster?.close();
  });

  it('the HTTP server listens where configured; liveness and readiness answer 200', async () => {
    for (const name of names) {
      const node = cluster.nodes.get(name)!;
      expect(node.httpAddress()).toBe(cluster.httpEndpoint(name));
      expect(node.http?.routes()).toEqual(['/', '/liveness', '/metrics', '/readiness', '/v1/active-hub', '/v1/history', '/v1/status']);
      const live = await get(cluster.httpEndpoint(name), '/liveness');
      expect(live).toMatchObject({ status: 200, body: { alive: true, member: name } });
      const ready = await get(cluster.httpEndpoint(name), '/readiness');
      expect(ready.status).toBe(200);
      expect(ready.body).toMatchObject({ ready: true, member: name, leader: expect.any(String) });
      expect(ready.body.applied).toBeGreaterThanOrEqual(ready.body.commit as number);
    }
  });

  it('no active hub yet: 404 {present:false} everywhere, gRPC present=false; a watch starts', async () => {
    for (const name of names) {
      const reply = await get(cluster.httpEndpoint(name), '/v1/active-hub');
      expect(reply.status).toBe(404);
      expect(reply.body).toMatchObject({ present: false, servedBy: name, linearizable: true });
      expect(await discovery.getActiveHub(cluster.clientEndpoint(name))).toMatchObject({ present: false, servedBy: name, linearizable: true });
    }
    const leader = await cluster.waitForLeader();
    const follower = names.find((n) => n !== leader.id)!;
    watch = discovery.watchActiveHub(cluster.clientEndpoint(follower), {
      onAnswer: (answer) => watched.push(answer),
      onEnd: (err) => (watchEnded = err),
    });
    await eventually('the watch’s first answer', () => (watched.length > 0 ? true : undefined));
    expect(watched[0]).toMatchObject({ present: false, servedBy: follower, linearizable: true });
  });

  it('a hub publishes the record under its lease: every member serves it, linearizable, over HTTP and gRPC', async () => {
    epoch1 = await activate(coord.session('hub1'), 'hub1', 30_000);
    for (const name of names) {
      const reply = await get(cluster.httpEndpoint(name), '/v1/active-hub');
      expect(reply.status).toBe(200);
      expect(reply.body).toEqual({
        present: true,
        name: 'hub1',
        address: hubRecord('hub1', epoch1).address,
        vip: '10.0.0.100/24',
        epoch: epoch1,
        since,
        revision: expect.any(Number),
        modRevision: expect.any(Number),
        servedBy: name,
        linearizable: true,
      });
      const answer = await discovery.getActiveHub(cluster.clientEndpoint(name));
      expect(answer).toMatchObject({ present: true, name: 'hub1', epoch: epoch1, servedBy: name, linearizable: true });
      const serializable = await get(cluster.httpEndpoint(name), '/v1/active-hub?serializable=true');
      expect(serializable.body).toMatchObject({ name: 'hub1', linearizable: false });
    }
    await eventually('the watch sees hub1', () => (watched.some((a) => a.present && a.name === 'hub1') ? true : undefined));
    expect(watched.at(-1)).toMatchObject({ present: true, name: 'hub1', epoch: epoch1 });
  });

  it('hubha active-hub (the built CLI): text, JSON, and exit codes', async () => {
    expect(existsSync(HUBHA_CLI), 'run npm run build first').toBe(true);
    const endpoints = names.map((n) => cluster.clientEndpoint(n)).join(',');
    const text = await cli(['active-hub', '--endpoints', endpoints]);
    expect(text).toMatchObject({ code: 0, stdout: `hub1 ${hubRecord('hub1', epoch1).address} ${epoch1}\n` });
    const asJson = await cli(['active-hub', '--endpoints', endpoints, '-o', 'json']);
    expect(asJson.code).toBe(0);
    expect(JSON.parse(asJson.stdout)).toMatchObject({ present: true, name: 'hub1', epoch: epoch1, linearizable: true });
    // A dead endpoint first: the next one answers.
    const dead = await cli(['active-hub', '--endpoints', `127.0.0.1:1,${cluster.clientEndpoint('n2')}`, '-o', 'json']);
    expect(dead.code).toBe(0);
    expect(JSON.parse(dead.stdout)).toMatchObject({ present: true, servedBy: 'n2' });
    const unreachable = await cli(['active-hub', '--endpoints', '127.0.0.1:1,127.0.0.1:2', '--timeout', '1000']);
    expect(unreachable.code).toBe(2);
    expect(unreachable.stderr).toContain('no member answered');
  });

  it('failover: the old holder releases, the new one publishes at epoch+1; the watch sees both changes', async () => {
    await coord.session('hub1').leaseRelease({ name: ACTIVE_HUB_LEASE, holder: 'hub1', epoch: epoch1 });
    await eventually('the record gone with the lease', async () => ((await get(cluster.httpEndpoint('n1'), '/v1/active-hub')).status === 404 ? true : undefined));
    epoch2 = await activate(coord.session('hub2'), 'hub2', 1_500);
    expect(epoch2).toBe(epoch1 + 1);
    for (const name of names) expect((await get(cluster.httpEndpoint(name), '/v1/active-hub')).body).toMatchObject({ name: 'hub2', epoch: epoch2, linearizable: true });
    await eventually('the watch sees hub2', () => (watched.some((a) => a.present && a.name === 'hub2') ? true : undefined));
    const sequence = watched.map((a) => (a.present ? `${a.name}@${a.epoch}` : 'none'));
    expect(sequence).toEqual(['none', `hub1@${epoch1}`, 'none', `hub2@${epoch2}`]);
  });

  it('when the lease expires the record disappears: 404 everywhere, present=false on the watch; the CLI exits 1', async () => {
    await eventually(
      'the record expired on every member',
      async () => {
        for (const name of names) if ((await get(cluster.httpEndpoint(name), '/v1/active-hub')).status !== 404) return undefined;
        return true;
      },
      10_000,
    );
    for (const name of names) expect(await discovery.getActiveHub(cluster.clientEndpoint(name))).toMatchObject({ present: false, linearizable: true });
    await eventually('the watch sees the expiry', () => (watched.at(-1)?.present === false ? true : undefined));
    const absent = await cli(['active-hub', '--endpoints', names.map((n) => cluster.clientEndpoint(n)).join(',')]);
    expect(absent.code).toBe(1);
    expect(absent.stdout).toBe('');
    expect(absent.stderr).toContain('no active hub');
    expect(watchEnded).toBeUndefined();
  });

  it('HTTP method and path checks on a member', async () => {
    const endpoint = cluster.httpEndpoint('n1');
    expect((await fetch(`http://${endpoint}/v1/active-hub`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`http://${endpoint}/v1/other`)).status).toBe(404);
    expect((await get(endpoint, '/v1/active-hub?serializable=maybe')).status).toBe(400);
  });

  it('a member without quorum answers serializable and says so; readiness turns 503', async () => {
    const hub3 = await activate(coord.session('hub3'), 'hub3', 60_000);
    for (const name of names) await eventually(`${name} applied hub3`, async () => ((await get(cluster.httpEndpoint(name), '/v1/active-hub?serializable=true')).body.name === 'hub3' ? true : undefined));
    const leader = await cluster.waitForLeader();
    const survivor = names.find((n) => n !== leader.id)!;
    for (const name of names) if (name !== survivor) await cluster.stopNode(name);
    const reply = await get(cluster.httpEndpoint(survivor), '/v1/active-hub');
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ present: true, name: 'hub3', epoch: hub3, servedBy: survivor, linearizable: false });
    expect(await discovery.getActiveHub(cluster.clientEndpoint(survivor))).toMatchObject({ present: true, name: 'hub3', linearizable: false });
    // The CLI tries the dead members, takes the survivor's answer, and warns that it may be stale.
    const dead = names.filter((n) => n !== survivor).map((n) => cluster.clientEndpoint(n));
    const answer = await cli(['active-hub', '--endpoints', [...dead, cluster.clientEndpoint(survivor)].join(','), '--timeout', '3000']);
    expect(answer.code).toBe(0);
    expect(answer.stdout).toBe(`hub3 ${hubRecord('hub3', hub3).address} ${hub3}\n`);
    expect(answer.stderr).toContain('may be stale');
    await eventually('the survivor not ready', async () => ((await get(cluster.httpEndpoint(survivor), '/readiness')).status === 503 ? true : undefined));
    expect((await get(cluster.httpEndpoint(survivor), '/readiness')).body).toMatchObject({ ready: false, reason: 'no-leader' });
    expect((await get(cluster.httpEndpoint(survivor), '/liveness')).status).toBe(200);
  });
});
