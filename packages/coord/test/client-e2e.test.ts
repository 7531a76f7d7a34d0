/**
 * A smoke test of the client against three real in-process members (LocalCluster): sessions,
 * redirects, a lease keeper across a leader failure, and a watch that outlives its member.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoordClient } from '../src/client/client.js';
import type { WatchEvent } from '../src/state/types.js';
import { LocalCluster } from './support/local-cluster.js';

const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

describe('CoordClient against real members', () => {
  let cluster: LocalCluster;
  let client: CoordClient;

  beforeAll(async () => {
    cluster = await LocalCluster.start();
    await cluster.waitForLeader();
    client = await CoordClient.connect({ endpoints: [...cluster.nodes.keys()].map((n) => cluster.clientEndpoint(n)), requestTimeoutMs: 5000 });
  });
  afterAll(async () => {
    await client?.close();
    await cluster?.close();
  });

  it('reads and writes through a session, wherever the leader is', async () => {
    const session = client.session('e2e');
    const put = await session.put('/e2e/a', 'one');
    expect(put.revision).toBeGreaterThan(0);
    await session.put('/e2e/b', 'two');
    const got = await session.get('/e2e/a');
    expect(text(got.kv!.value)).toBe('one');
    expect(got.kv!.modRevision).toBe(put.revision);
    const range = await session.range('/e2e/');
    expect(range.kvs.map((kv) => kv.key)).toEqual(['/e2e/a', '/e2e/b']);
    const txn = await session.txn({
      compare: [{ key: '/e2e/a', target: 'value', op: 'equal', value: Buffer.from('one') }],
      success: [{ type: 'put', key: '/e2e/a', value: Buffer.from('uno') }],
      failure: [],
    });
    expect(txn.succeeded).toBe(true);
    const del = await session.deleteRange('/e2e/', { prevKv: true });
    expect(del.deleted).toBe(2);
    expect(del.prevKvs.map((kv) => text(kv.value))).toEqual(['uno', 'two']);
    const leader = await cluster.waitForLeader();
    expect(client.leaderEndpoint()).toBe(cluster.clientEndpoint(leader.id));
    const members = await session.memberList();
    expect(members.members.map((m) => m.id)).toEqual(['n1', 'n2', 'n3']);
    const status = await session.status(cluster.clientEndpoint(leader.id));
    expect(status.role).toBe('leader');
  });

  it('refusals carry the server\'s code', async () => {
    const session = client.session('e2e-refusals');
    await expect(session.put('/e2e/leased', 'x', { lease: { name: 'nobody', epoch: 1 } })).rejects.toMatchObject({ code: 'lease-not-held' });
    await expect(session.put('', 'x')).rejects.toMatchObject({ code: 'invalid-key' });
  });

  it('a watch sees every change once, and a lease keeper keeps its lease across a leader failure', async () => {
    const session = client.session('e2e-lease');
    const watch = client.watch({ key: '/hubs/', prefix: true });
    const events: WatchEvent[] = [];
    const consuming = (async () => {
      for await (const e of watch) events.push(e);
    })();

    const keeper = session.keepLease({ name: 'primary', holder: 'node-a', ttlMs: 3000, metadata: { address: '10.0.0.1:5432' } });
    const lost: string[] = [];
    keeper.onLost((reason) => lost.push(reason));
    const epoch = await keeper.waitAcquired();
    expect(keeper.isHeld()).toBe(true);
    await session.put('/hubs/primary', 'node-a', { lease: { name: 'primary', epoch } });

    const rival = client.session('e2e-rival').keepLease({ name: 'primary', holder: 'node-b', ttlMs: 3000, metadata: {} });
    const waiting: string[] = [];
    rival.on('waiting', (e) => waiting.push(e.heldBy.holder));

    // Kill the leader: the keeper's renewals find the new one before its validity ends.
    const leader = await cluster.waitForLeader();
    await cluster.stopNode(leader.id);
    await new Promise((r) => setTimeout(r, 3500));
    expect(lost).toEqual([]);
    expect(keeper.isHeld()).toBe(true);
    expect(keeper.epoch()).toBe(epoch);
    expect(rival.isHeld()).toBe(false);
    expect(waiting.length).toBeGreaterThan(0);
    await session.put('/hubs/other', 'x');

    // Handing over: release, and the rival gets the next epoch; the leased key went with the lease.
    await expect(keeper.release()).resolves.toBe(true);
    expect(lost).toEqual(['released']);
    await expect(rival.waitAcquired()).resolves.toBe(epoch + 1);
    await rival.stop();

    await cluster.startNode(leader.id);
    const deadline = Date.now() + 5000;
    while (!events.some((e) => e.type === 'delete' && e.key === '/hubs/primary') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    watch.cancel();
    await consuming;
    expect(events.map((e) => [e.type, e.key])).toEqual([
      ['put', '/hubs/primary'],
      ['put', '/hubs/other'],
      ['delete', '/hubs/primary'],
    ]);
    const revisions = events.map((e) => e.revision);
    expect(revisions).toEqual([...revisions].sort((a, b) => a - b));
  });
});
