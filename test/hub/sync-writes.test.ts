/**
 * Synchronous mode loses no acknowledged write across an unplanned failover. A client writes
 * continuously (unique increasing ids, one INSERT per statement) to whichever hub the store's
 * hubha/active-hub record names, over that hub's unix socket; on an error it re-reads the record
 * and goes on with the next id. Every acknowledged commit is recorded with the identity of the
 * server that acknowledged it (the max epoch of its hubha.promotions, read in the same statement).
 * In the middle, the active hub's sidecar and postmaster are killed -9. After the failover every
 * acknowledged id must be on the new primary, and again on the old hub once it has rejoined.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CoordClient } from '@hubha/coord';
import { LocalHubCluster } from '../../deploy/local/local-cluster.js';
import { ContinuousWriter, connectClient, dumpLogsOnFailure, query, readActiveHub, waitFor, waitHealthy, waitStreaming } from './support.js';

let cluster: LocalHubCluster;
let client: CoordClient;
let writer: ContinuousWriter | null = null;

beforeAll(async () => {
  cluster = await LocalHubCluster.create({ dir: await mkdtemp(join(tmpdir(), 'hubha-sync-writes-')), synchronous: 'on' });
  cluster.startAll();
  client = await connectClient(cluster);
}, 120_000);

afterAll(async () => {
  await writer?.stop();
  await client?.close();
  await cluster?.destroy({ keep: process.env.HUBHA_KEEP === '1' });
});

/** Ids (of `ids`) missing from the hub's table. */
async function missing(hub: string, ids: readonly number[]): Promise<number[]> {
  const rows = await query<{ id: number }>(cluster, hub, 'SELECT id FROM writes WHERE id = ANY($1::int[])', [ids]);
  const present = new Set(rows.map((r) => r.id));
  return ids.filter((id) => !present.has(id));
}

describe('synchronous replication under an unplanned failover', () => {
  it('keeps every acknowledged write when the active hub is killed -9 in the middle of a write stream', async () => {
    dumpLogsOnFailure(() => cluster);
    const { active, standby } = await waitHealthy(cluster, client, { synchronous: true, timeoutMs: 40_000 });
    await query(cluster, active.name, 'CREATE TABLE writes (id int PRIMARY KEY, epoch bigint NOT NULL)');
    // The replicated promotion record is what identifies the server in each acknowledgement.
    await waitFor('the bootstrap promotion recorded', async () => (await query(cluster, active.name, 'SELECT 1 FROM hubha.promotions WHERE epoch = $1', [active.epoch])).length === 1, 10_000);

    writer = new ContinuousWriter(cluster, client, 'writes');
    writer.start();
    await waitFor('200 acknowledged writes before the failover', async () => writer!.acks.length >= 200, 20_000, 50);

    const ackedBeforeKill = writer.acks.length;
    const killedAt = performance.now();
    await cluster.kill(active.name, 'SIGKILL');
    await cluster.killPostgres(active.name);

    await waitFor('200 acknowledged writes on the promoted standby', async () => writer!.acksFrom(standby).length >= 200, 30_000, 50);
    await writer.stop();

    const acks = writer.acks;
    const before = writer.acksFrom(active.name);
    const after = writer.acksFrom(standby);
    const lastOld = before.at(-1)!;
    const firstNew = after[0]!;
    const next = (await readActiveHub(client))!;
    expect(next.name).toBe(standby);
    expect(next.epoch).toBe(active.epoch + 1);

    // The acknowledging server's identity switches once, from the old epoch to the new one, and
    // the writer followed the record to it.
    expect(before.every((a) => a.serverEpoch === active.epoch && a.recordEpoch === active.epoch)).toBe(true);
    expect(after.every((a) => a.serverEpoch === next.epoch && a.recordEpoch === next.epoch)).toBe(true);
    expect(acks.findIndex((a) => a.hub === standby)).toBe(before.length);
    expect(before.length).toBeGreaterThanOrEqual(ackedBeforeKill);

    // Zero acknowledged writes lost on the new primary; nothing there that was never attempted.
    const ackedIds = acks.map((a) => a.id);
    expect(await missing(standby, ackedIds)).toEqual([]);
    const stray = await query<{ id: number }>(cluster, standby, 'SELECT id FROM writes WHERE id <> ALL($1::int[])', [[...writer.attempted]]);
    expect(stray).toEqual([]);
    const inDoubt = writer.errors.filter((e) => e.id !== null).map((e) => e.id!);
    const inDoubtPresent = inDoubt.length === 0 ? [] : await query<{ id: number }>(cluster, standby, 'SELECT id FROM writes WHERE id = ANY($1::int[])', [inDoubt]);

    console.log(
      `[sync-writes] ${before.length} acks from ${active.name} (epoch ${active.epoch}), ${after.length} from ${standby} (epoch ${next.epoch}); ` +
        `no acknowledged write for ${Math.round(firstNew.at - lastOld.at)} ms (kill -> first new ack ${Math.round(firstNew.at - killedAt)} ms); ` +
        `${writer.errors.length} failed attempts, ${inDoubt.length} in doubt (${inDoubtPresent.length} of them committed); 0 of ${ackedIds.length} acknowledged ids lost`,
    );

    // The old hub rejoins (pg_rewind) and has every acknowledged write too.
    cluster.start(active.name);
    await waitStreaming(cluster, standby, active.name, { sync: true, timeoutMs: 45_000 });
    await query(cluster, standby, 'INSERT INTO writes VALUES (-1, 0)');
    await waitFor('the marker row on the rejoined hub', async () => (await query(cluster, active.name, 'SELECT 1 FROM writes WHERE id = -1')).length === 1, 15_000);
    expect(await missing(active.name, ackedIds)).toEqual([]);
  }, 80_000);
});
