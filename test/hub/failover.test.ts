/**
 * Unplanned failover with real PostgreSQL 15 and real processes: kill -9 of the active hub's
 * sidecar and postmaster; the standby is promoted, accepts writes, the published address and
 * epoch change; the old hub, restarted, rejoins as a standby (pg_rewind path) and replicates.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import type { CoordClient, Rejoin } from '@hubha/coord';
import { HUBHA_CLI, LocalHubCluster } from '../../deploy/local/local-cluster.js';
import { connectClient, query, readActiveHub, waitFor, waitHealthy } from './support.js';

let cluster: LocalHubCluster;
let client: CoordClient;

beforeAll(async () => {
  cluster = await LocalHubCluster.create({ dir: await mkdtemp(join(tmpdir(), 'hubha-failover-')), synchronous: 'on' });
  cluster.startAll();
  client = await connectClient(cluster);
}, 120_000);

afterAll(async () => {
  await client?.close();
  await cluster?.destroy({ keep: process.env.HUBHA_KEEP === '1' });
});

/** `hubha ARGS` against the cluster; its stdout (a failure rejects with stderr). */
function hubha(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [HUBHA_CLI, ...args, '--endpoints', cluster.endpoints().join(',')], { timeout: 20_000 }, (err, stdout, stderr) => (err === null ? resolve(stdout) : reject(new Error(`hubha ${args.join(' ')}: ${stderr}`))));
  });
}

describe('unplanned failover', () => {
  it('promotes the standby when the active hub (sidecar and postmaster) is killed, and the old hub rejoins by pg_rewind', { timeout: 150_000 }, async () => {
    const { active, standby } = await waitHealthy(cluster, client, { synchronous: true });
    await query(cluster, active.name, 'CREATE TABLE t (id int PRIMARY KEY, v text)');
    await query(cluster, active.name, "INSERT INTO t VALUES (1, 'before')");

    const killedAt = performance.now();
    await cluster.kill(active.name, 'SIGKILL');
    await cluster.killPostgres(active.name);

    const next = await waitFor('a new active hub', async () => {
      const record = await readActiveHub(client).catch(() => null);
      return record !== null && record.name === standby ? record : null;
    }, 30_000, 50);
    expect(next.epoch).toBe(active.epoch + 1);
    expect(next.address).toBe(`127.0.0.1:${cluster.member(standby).pgPort}`);
    await waitFor('a write on the new primary', async () => (await query(cluster, standby, "INSERT INTO t VALUES (2, 'after') ON CONFLICT DO NOTHING RETURNING id")).length >= 0, 15_000, 100);
    const failoverS = (performance.now() - killedAt) / 1000;
    expect(failoverS).toBeLessThan(10);
    // The acknowledged write from before is there (synchronous mode), and PostgreSQL recorded the epoch.
    expect((await query(cluster, standby, 'SELECT v FROM t WHERE id = 1'))[0]?.v).toBe('before');
    const promotions = await query<{ epoch: string; node: string }>(cluster, standby, 'SELECT epoch::text, node FROM hubha.promotions ORDER BY epoch');
    expect(promotions.at(-1)).toEqual({ epoch: String(next.epoch), node: standby });

    // The old hub comes back as a standby of the new primary and replicates.
    cluster.start(active.name);
    await waitFor(`${active.name} streaming from ${standby}`, async () => {
      const rows = await query<{ application_name: string; state: string }>(cluster, standby, 'SELECT application_name, state FROM pg_stat_replication');
      return rows.some((r) => r.application_name === active.name && r.state === 'streaming');
    }, 60_000, 200);
    await query(cluster, standby, "INSERT INTO t VALUES (3, 'replicated')");
    await waitFor('row 3 on the old hub', async () => (await query(cluster, active.name, 'SELECT 1 FROM t WHERE id = 3')).length === 1, 15_000);
    // It came back through pg_rewind (its timeline had diverged at the failover).
    const rejoined = await waitFor('the rejoin log line', async () => (await cluster.logs(active.name)).find((l) => l.msg === 'rejoined as a standby'), 10_000);
    expect(rejoined.rewind).toBe('rewound');
    // ... and recorded how: what its rewind discarded, in the history (`hubha history`). In
    // synchronous mode no commit after the fork was acknowledged; one may still be in its WAL
    // (written, then waiting for the standby when it was killed).
    const history = await waitFor('the rejoin in the history', async () => {
      const out = JSON.parse(await hubha(['history', '-o', 'json'])) as { rejoins: Rejoin[] };
      return out.rejoins.find((r) => r.epoch === next.epoch);
    }, 10_000, 200);
    expect(history).toMatchObject({ member: active.name, primary: standby, rewind: 'rewound' });
    expect(history.commitsAfterFork).toBeGreaterThanOrEqual(0);
    expect(history.walBytesAfterFork).toBeGreaterThanOrEqual(0);
    expect(history.divergedAt).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    const table = await hubha(['history']);
    expect(table).toContain(`↳ ${active.name} rejoined at ${history.at}: pg_rewind discarded ${history.commitsAfterFork} commit`);
    expect(table).toContain(`(${history.walBytesAfterFork} B of WAL) after the fork that ${standby} never had (forked at ${history.divergedAt})`);
    console.log(`[failover] hubha history:\n${table}`);
  });
});
