/**
 * The witness: a Raft member without PostgreSQL, the third vote.
 *
 * 1. Witness down (it is made the Raft leader first, so its loss also costs an election): the two
 *    hubs keep the store's quorum; the active hub keeps renewing its lease, a client writing
 *    continuously sees no error for 10 s, nothing fails over, PostgreSQL is never restarted.
 * 2. Witness AND standby down: the active hub has no quorum, cannot renew, and fences itself
 *    (PostgreSQL stopped, 'fenced' logged) before its lease validity ends: within the lease TTL of
 *    the loss of quorum, which is measured and bounded.
 * 3. Both back: the cluster recovers with exactly one active hub, the other streaming from it
 *    synchronously, and every write acknowledged in (1) is there.
 *
 * Timings: the defaults (ELECTION_SAFE in support.ts spells them out): the active hub rides out
 * the election that losing the witness (the Raft leader) costs.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CoordClient } from '@hubha/coord';
import { LocalHubCluster } from '../../deploy/local/local-cluster.js';
import {
  ContinuousWriter,
  ELECTION_SAFE,
  connectClient,
  dumpLogsOnFailure,
  isWritablePrimary,
  logLines,
  moveRaftLeader,
  query,
  readActiveHub,
  readLease,
  readSyncStandby,
  sleep,
  waitFor,
  waitHealthy,
  waitStreaming,
} from './support.js';

const LEASE_TTL_MS = ELECTION_SAFE.timings!.leaseTtlMs!;
const DEMOTION_BUDGET_MS = ELECTION_SAFE.timings!.demotionBudgetMs!;

let cluster: LocalHubCluster;
let client: CoordClient;
let writer: ContinuousWriter | null = null;

beforeAll(async () => {
  cluster = await LocalHubCluster.create({ dir: await mkdtemp(join(tmpdir(), 'hubha-witness-')), synchronous: 'on', ...ELECTION_SAFE });
  cluster.startAll();
  client = await connectClient(cluster);
}, 120_000);

afterAll(async () => {
  await writer?.stop();
  await client?.close();
  await cluster?.destroy({ keep: process.env.HUBHA_KEEP === '1' });
});

let active: string;
let standby: string;
let epoch: number;
let ackedIds: number[] = [];

describe('the witness', () => {
  it('down: the hubs keep working — writes succeed, the lease is renewed, no failover for 10 s', async () => {
    dumpLogsOnFailure(() => cluster);
    const healthy = await waitHealthy(cluster, client, { synchronous: true, timeoutMs: 40_000 });
    active = healthy.active.name;
    standby = healthy.standby;
    epoch = healthy.active.epoch;
    await query(cluster, active, 'CREATE TABLE writes (id int PRIMARY KEY, epoch bigint NOT NULL)');
    const postmaster = await cluster.postmasterPid(active);
    await moveRaftLeader(cluster, client, 'witness');

    writer = new ContinuousWriter(cluster, client, 'writes');
    writer.start();
    await waitFor('writes flowing', async () => writer!.acks.length >= 20, 10_000, 20);
    const leaseBefore = (await readLease(client))!;

    const killedAt = performance.now();
    await cluster.kill('witness', 'SIGKILL');
    const samples: { at: number; holder: string; epoch: number; renewCount: number }[] = [];
    while (performance.now() - killedAt < 10_000) {
      const lease = await readLease(client).catch(() => undefined);
      if (lease !== undefined && lease !== null) samples.push({ at: performance.now() - killedAt, holder: lease.holder, epoch: lease.epoch, renewCount: lease.renewCount });
      await sleep(200);
    }
    await writer.stop();
    const during = writer.acks.filter((a) => a.at >= killedAt);
    ackedIds = writer.acks.map((a) => a.id);

    // Writes: not one failed, and they kept coming throughout the 10 s, all on the same server.
    expect(writer.errors).toEqual([]);
    expect(during.length).toBeGreaterThan(100);
    let maxGap = 0;
    for (let i = 1; i < during.length; i++) maxGap = Math.max(maxGap, during[i]!.at - during[i - 1]!.at);
    expect(maxGap).toBeLessThan(1000);
    expect(new Set(writer.acks.map((a) => `${a.hub}@${a.serverEpoch}`))).toEqual(new Set([`${active}@${epoch}`]));
    // The lease: same holder and epoch throughout, renewed all along.
    expect(samples.length).toBeGreaterThan(20);
    expect(samples.every((s) => s.holder === active && s.epoch === epoch)).toBe(true);
    expect(samples.at(-1)!.renewCount - leaseBefore.renewCount).toBeGreaterThanOrEqual(Math.floor(10_000 / ELECTION_SAFE.timings!.renewIntervalMs!) - 4);
    // No failover, no fence, PostgreSQL never restarted.
    expect((await readActiveHub(client))?.epoch).toBe(epoch);
    expect(await logLines(cluster, active, 'demoting: fencing this hub')).toEqual([]);
    expect(await cluster.postmasterPid(active)).toBe(postmaster);
    expect((await readSyncStandby(client))?.standby).toBe(standby);
    // Every hub report stayed readable under this write load.
    for (const hub of [active, standby]) expect(await logLines(cluster, hub, 'invalid record in the store (ignored)')).toEqual([]);

    console.log(
      `[witness] witness (Raft leader) down 10 s: ${during.length} writes, 0 errors, longest gap ${Math.round(maxGap)} ms; ` +
        `lease ${active}@${epoch} renewed ${samples.at(-1)!.renewCount - leaseBefore.renewCount} times; no fence, same postmaster`,
    );
  }, 60_000);

  it('and the standby down: the active hub loses quorum and fences itself within the lease TTL', async () => {
    dumpLogsOnFailure(() => cluster);
    const killedAt = performance.now();
    const killedAtWall = Date.now();
    await cluster.kill(standby, 'SIGKILL');
    await cluster.killPostgres(standby);

    await waitFor('the active hub\'s PostgreSQL stopped', async () => (await cluster.postmasterPid(active)) === null, LEASE_TTL_MS + DEMOTION_BUDGET_MS + 5000, 20);
    const stoppedMs = performance.now() - killedAt;
    const fenced = await waitFor('the fenced log line', async () => (await logLines(cluster, active, 'fenced'))[0], 5000, 50);
    const demoting = (await logLines(cluster, active, 'demoting: fencing this hub'))[0]!;
    const fencedMs = Number(fenced.time) - killedAtWall;
    const demotingMs = Number(demoting.time) - killedAtWall;
    expect(demoting.reason).toBe('lease about to end without a renewal');
    expect(fenced.method).toBe('fast');
    // Its last renewal was sent at most renewIntervalMs before the kill; it started fencing
    // demotionBudgetMs before that renewal's validity (< TTL) ended, and was done within TTL.
    expect(demotingMs).toBeLessThan(LEASE_TTL_MS - DEMOTION_BUDGET_MS + 300);
    expect(fencedMs).toBeLessThan(LEASE_TTL_MS);
    expect(stoppedMs).toBeLessThan(LEASE_TTL_MS + 500);
    expect(await isWritablePrimary(cluster, active)).toBe(false);

    console.log(
      `[witness] witness and standby down: ${active} started fencing ${demotingMs} ms after the loss of quorum, fenced (${String(fenced.method)}, ${String(fenced.demotionMs)} ms) at ${fencedMs} ms, ` +
        `postmaster gone at ${Math.round(stoppedMs)} ms (lease TTL ${LEASE_TTL_MS} ms, demotion budget ${DEMOTION_BUDGET_MS} ms)`,
    );
  }, 30_000);

  it('both back: the cluster recovers with one active hub and every acknowledged write', async () => {
    dumpLogsOnFailure(() => cluster);
    const restartedAt = performance.now();
    cluster.start('witness');
    cluster.start(standby);
    // The old record (the old epoch) lives on with its lease until the lease expires on the new
    // Raft leader; then a hub takes the lease under a new epoch.
    const record = await waitFor('a new active hub', async () => {
      const current = await readActiveHub(client).catch(() => null);
      return current !== null && current.epoch > epoch ? current : null;
    }, 45_000, 100);
    const activeMs = performance.now() - restartedAt;
    const other = record.name === active ? standby : active;
    await waitStreaming(cluster, record.name, other, { sync: true, timeoutMs: 45_000 });
    await waitFor('the synchronous standby recorded', async () => (await readSyncStandby(client))?.standby === other, 10_000);
    const healthyMs = performance.now() - restartedAt;
    expect(await isWritablePrimary(cluster, record.name)).toBe(true);
    expect(await isWritablePrimary(cluster, other)).toBe(false);
    expect((await readLease(client))?.holder).toBe(record.name);

    // Every write acknowledged before the outage, on both.
    await query(cluster, record.name, 'INSERT INTO writes VALUES (-1, 0)');
    await waitFor('the marker on the standby', async () => (await query(cluster, other, 'SELECT 1 FROM writes WHERE id = -1')).length === 1, 10_000);
    for (const hub of [record.name, other]) {
      const rows = await query<{ id: number }>(cluster, hub, 'SELECT id FROM writes WHERE id = ANY($1::int[])', [ackedIds]);
      expect(rows.length).toBe(ackedIds.length);
    }

    console.log(`[witness] both back: ${record.name} active (epoch ${record.epoch}) after ${Math.round(activeMs)} ms, ${other} synchronous after ${Math.round(healthyMs)} ms; ${ackedIds.length}/${ackedIds.length} acknowledged writes on both`);
  }, 60_000);
});
