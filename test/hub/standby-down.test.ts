/**
 * The standby goes down (kill -9 of its sidecar and postmaster) in synchronous mode 'on'.
 *
 * 1. The primary's commits wait for the synchronous standby until the agent has seen it gone for
 *    syncDropAfterMs; then it records "no synchronous standby" in the store (hubha/sync-standby,
 *    standby null) and only after that empties synchronous_standby_names — "record, then
 *    weaken" — so the blocked commit returns. The lease never moves. When the standby comes back
 *    it catches up, becomes synchronous again and is recorded again.
 * 2. A standby that missed acknowledged commits is never promoted: with the standby down (and
 *    recorded as not synchronous) the primary acknowledges more writes, then dies; the lagging
 *    standby, restarted alone, does not take the lease (nor ever runs a writable PostgreSQL). The
 *    old primary, restarted, takes it back (it holds every acknowledged write) and the standby
 *    catches up: nothing lost.
 *
 * The standby is made the Raft leader before it is killed, so its loss also costs an election;
 * the cluster runs with ELECTION_SAFE timings (support.ts) so that the active hub outlasts it.
 */
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { SYNC_STANDBY_KEY, parseRecord, syncStandbySchema } from '@hubha/coord';
import type { CoordClient, CoordWatch, SyncStandby } from '@hubha/coord';
import { LocalHubCluster } from '../../deploy/local/local-cluster.js';
import { ELECTION_SAFE, connectClient, dumpLogsOnFailure, endQuietly, isWritablePrimary, logLines, moveRaftLeader, pgClient, query, readActiveHub, readLease, readSyncStandby, sleep, waitFor, waitHealthy, waitStreaming } from './support.js';

const SYNC_DROP_AFTER_MS = ELECTION_SAFE.timings!.syncDropAfterMs!;

let cluster: LocalHubCluster;
let client: CoordClient;
let watch: CoordWatch | null = null;
let poller: pg.Client | null = null;
let stopSampling = (): void => undefined;

beforeAll(async () => {
  cluster = await LocalHubCluster.create({
    dir: await mkdtemp(join(tmpdir(), 'hubha-standby-down-')),
    synchronous: 'on',
    // The standby may be the Raft leader: the active hub must outlast the election (support.ts).
    ...ELECTION_SAFE,
  });
  cluster.startAll();
  client = await connectClient(cluster);
}, 120_000);

afterAll(async () => {
  stopSampling();
  watch?.cancel();
  if (poller !== null) await endQuietly(poller, 200);
  await client?.close();
  await cluster?.destroy({ keep: process.env.HUBHA_KEEP === '1' });
});

/** Samples the active-hub lease every 100 ms until stopped. */
function sampleLease(): { samples: { at: number; holder: string | null; epoch: number | null }[]; stop: () => void } {
  const samples: { at: number; holder: string | null; epoch: number | null }[] = [];
  let stopped = false;
  void (async () => {
    while (!stopped) {
      const lease = await readLease(client).catch(() => undefined);
      if (lease !== undefined) samples.push({ at: performance.now(), holder: lease?.holder ?? null, epoch: lease?.epoch ?? null });
      await sleep(100);
    }
  })();
  stopSampling = () => (stopped = true);
  return { samples, stop: () => (stopped = true) };
}

let primary: string;
let standby: string;
let epoch: number;

describe('standby down in synchronous mode', () => {
  it('drops the synchronous standby after syncDropAfterMs, recording it before weakening; the standby comes back synchronous', async () => {
    dumpLogsOnFailure(() => cluster);
    const healthy = await waitHealthy(cluster, client, { synchronous: true, timeoutMs: 40_000 });
    primary = healthy.active.name;
    standby = healthy.standby;
    epoch = healthy.active.epoch;
    await query(cluster, primary, 'CREATE TABLE t (id int PRIMARY KEY)');

    // Every change of the sync record, with the time it reached us.
    const events: { at: number; modRevision: number; record: SyncStandby }[] = [];
    watch = client.watch({ key: SYNC_STANDBY_KEY });
    void (async () => {
      for await (const ev of watch!) {
        if (ev.type !== 'put') continue;
        const parsed = parseRecord(syncStandbySchema, ev.key, ev.value);
        if (parsed.ok) events.push({ at: performance.now(), modRevision: ev.modRevision, record: parsed.value });
      }
    })().catch(() => undefined);
    // When PostgreSQL's synchronous_standby_names becomes empty, polled every ~10 ms.
    poller = await pgClient(cluster, primary);
    let settingEmptyAt: number | null = null;
    const pollSetting = (async () => {
      while (settingEmptyAt === null) {
        const { rows } = await poller!.query<{ s: string }>("SELECT current_setting('synchronous_standby_names') AS s");
        if (rows[0]!.s === '') settingEmptyAt = performance.now();
        else await sleep(10);
      }
    })().catch((err: unknown) => err);
    const lease = sampleLease();
    const postmaster = await cluster.postmasterPid(primary);
    // The worst case: the standby is also the Raft leader, so its loss costs an election too.
    await moveRaftLeader(cluster, client, standby);
    await sleep(300);

    await cluster.kill(standby, 'SIGKILL');
    await cluster.killPostgres(standby);
    const killedAt = performance.now();

    // A commit right after the kill waits for the synchronous standby, then goes through.
    await query(cluster, primary, 'INSERT INTO t VALUES (1)', [], 15_000);
    const resumedAt = performance.now();
    const atResume = await readSyncStandby(client);
    expect(atResume).toMatchObject({ primary, standby: null, epoch });
    const blockedMs = resumedAt - killedAt;
    expect(blockedMs).toBeGreaterThanOrEqual(SYNC_DROP_AFTER_MS - 250);
    // Bound: syncDropAfterMs after the last observation of the standby streaming, plus a loop,
    // plus one store read that hangs to its 1.5 s deadline when the loss of the Raft leader
    // strands it on a follower (a ReadIndex forwarded to the dead leader is never re-sent).
    expect(blockedMs).toBeLessThan(SYNC_DROP_AFTER_MS + 2500);

    // Record, then weaken: the store had "standby null" before PostgreSQL's setting was emptied.
    expect(await pollSetting).toBeUndefined();
    const dropped = events.find((e) => e.record.standby === null && e.at > killedAt);
    expect(dropped).toBeDefined();
    expect(dropped!.at).toBeLessThanOrEqual(settingEmptyAt!);
    const [reload] = await query<{ t: Date }>(cluster, primary, 'SELECT pg_conf_load_time() AS t');
    expect(new Date(dropped!.record.at).getTime()).toBeLessThanOrEqual(reload!.t.getTime());

    // Asynchronous now: writes are acknowledged at once while the standby is down (it lags).
    const t0 = performance.now();
    for (let id = 2; id <= 100; id++) await query(cluster, primary, 'INSERT INTO t VALUES ($1)', [id], 2000);
    const asyncWritesMs = performance.now() - t0;

    // The standby comes back, catches up, is synchronous again and recorded again.
    const restartedAt = performance.now();
    cluster.start(standby);
    await waitStreaming(cluster, primary, standby, { sync: true, timeoutMs: 45_000 });
    const back = await waitFor('the standby recorded again', async () => {
      const record = await readSyncStandby(client);
      return record?.standby === standby ? record : null;
    }, 10_000);
    const recordedAgainMs = performance.now() - restartedAt;
    expect(back).toMatchObject({ primary, epoch });
    expect((await query<{ n: string }>(cluster, standby, 'SELECT count(*)::text AS n FROM t'))[0]?.n).toBe('100');

    // The lease never moved while the standby was down, lagging or catching up, and the primary's
    // PostgreSQL was never stopped.
    lease.stop();
    expect(await cluster.postmasterPid(primary)).toBe(postmaster);
    expect(await logLines(cluster, primary, 'demoting: fencing this hub')).toEqual([]);
    expect(lease.samples.length).toBeGreaterThan(20);
    expect(lease.samples.every((s) => s.holder === primary && s.epoch === epoch)).toBe(true);
    expect((await readActiveHub(client))?.epoch).toBe(epoch);

    console.log(
      `[standby-down] (the standby was the Raft leader) commit blocked ${Math.round(blockedMs)} ms (syncDropAfterMs ${SYNC_DROP_AFTER_MS}); sync record standby=null at revision ${dropped!.modRevision}, ` +
        `seen ${Math.round(settingEmptyAt! - dropped!.at)} ms before synchronous_standby_names was empty; 99 async writes in ${Math.round(asyncWritesMs)} ms; ` +
        `standby back and recorded as synchronous ${Math.round(recordedAgainMs)} ms after its restart; ${lease.samples.length} lease samples, all ${primary}@${epoch}`,
    );
  }, 60_000);

  it('never promotes a standby that missed acknowledged commits; the old primary takes over again and nothing is lost', async () => {
    dumpLogsOnFailure(() => cluster);
    await cluster.kill(standby, 'SIGKILL');
    await cluster.killPostgres(standby);
    await waitFor('the standby dropped from the sync record', async () => (await readSyncStandby(client))?.standby === null, 15_000);
    // Acknowledged on the primary alone.
    for (let id = 1000; id < 1050; id++) await query(cluster, primary, 'INSERT INTO t VALUES ($1)', [id], 5000);

    await cluster.kill(primary, 'SIGKILL');
    await cluster.killPostgres(primary);
    const lease = sampleLease();
    cluster.start(standby);
    // Its sidecar runs with the lease free, well past the dead primary's lease TTL and through
    // many agent loops: it takes nothing.
    await waitFor('the dead primary\'s lease expired', async () => lease.samples.some((s) => s.holder === null), 20_000, 100);
    await sleep(5000);
    expect(lease.samples.filter((s) => s.holder === standby)).toEqual([]);
    expect(await isWritablePrimary(cluster, standby)).toBe(false);
    const standbyState = (await query<{ r: boolean }>(cluster, standby, 'SELECT pg_is_in_recovery() AS r', [], 2000).catch(() => null)) === null ? 'down' : 'in recovery';
    expect(await readActiveHub(client)).toBeNull();
    // It never tried, and it never had a writable PostgreSQL (no start of a primary without the lease).
    expect((await logLines(cluster, standby, 'hub role')).filter((l) => l.role === 'promoting' || l.role === 'primary')).toEqual([]);
    expect(await logLines(cluster, standby, 'PostgreSQL is writable but this hub does not hold the lease: fencing')).toEqual([]);
    if (standbyState === 'in recovery') expect((await query(cluster, standby, 'SELECT 1 FROM t WHERE id >= 1000')).length).toBe(0);

    // The old primary comes back, takes the lease again (it has every acknowledged commit).
    const restartedAt = performance.now();
    cluster.start(primary);
    const next = await waitFor('the old primary active again', async () => {
      const record = await readActiveHub(client).catch(() => null);
      return record?.name === primary ? record : null;
    }, 30_000, 100);
    const activeAgainMs = performance.now() - restartedAt;
    lease.stop();
    expect(next.epoch).toBeGreaterThan(epoch);
    expect(lease.samples.filter((s) => s.holder === standby)).toEqual([]);
    await waitStreaming(cluster, primary, standby, { sync: true, timeoutMs: 30_000 });
    await waitFor('the standby recorded again', async () => (await readSyncStandby(client))?.standby === standby, 10_000);
    await query(cluster, primary, 'INSERT INTO t VALUES (2000)');
    await waitFor('row 2000 on the standby', async () => (await query(cluster, standby, 'SELECT 1 FROM t WHERE id = 2000')).length === 1, 10_000);
    expect((await query<{ n: string }>(cluster, standby, 'SELECT count(*)::text AS n FROM t WHERE id >= 1000 AND id < 1050'))[0]?.n).toBe('50');

    console.log(`[standby-down] lagging standby not promoted in 5 s with the lease free (its PostgreSQL ${standbyState}); old primary active again (epoch ${next.epoch}) ${Math.round(activeAgainMs)} ms after its restart; 50/50 writes acknowledged while async present`);
  }, 60_000);

  it('a standby whose clone was cut short (sidecar killed during pg_basebackup) clones again by itself', async () => {
    dumpLogsOnFailure(() => cluster);
    await waitStreaming(cluster, primary, standby, { sync: true, timeoutMs: 30_000 });
    await cluster.kill(standby, 'SIGKILL');
    await cluster.killPostgres(standby);
    // What a killed clone leaves: a directory that looks like a data directory but cannot be
    // used (here without pg_control), and the marker the clone writes before it starts.
    const dataDir = cluster.pgDataDir(standby);
    await rm(join(dataDir, 'global', 'pg_control'));
    await writeFile(`${dataDir}.clone-incomplete`, 'test: a clone cut short\n');
    await query(cluster, primary, 'INSERT INTO t VALUES (3000)');
    const restartedAt = performance.now();
    cluster.start(standby);
    await waitStreaming(cluster, primary, standby, { sync: true, timeoutMs: 45_000 });
    const streamingMs = performance.now() - restartedAt;
    expect((await query(cluster, standby, 'SELECT 1 FROM t WHERE id = 3000')).length).toBe(1);
    expect(await logLines(cluster, standby, 'data directory of an interrupted clone wiped')).toHaveLength(1);
    await expect(access(`${dataDir}.clone-incomplete`)).rejects.toThrow();
    console.log(`[standby-down] interrupted clone replaced: streaming again ${Math.round(streamingMs)} ms after the sidecar's restart`);
  }, 60_000);
});
