/**
 * Planned and manual operations on a real local cluster (two hubs with PostgreSQL 15 and a
 * witness as `hubha run` processes, synchronous mode 'on'):
 *
 * 1. Refusals: a switchover to an unknown member, to the active hub itself, a manual failover
 *    while an active hub holds the lease, reinit of the active hub — each with its code, nothing
 *    changed.
 * 2. `hubha switchover --dry-run` prints the steps and changes nothing.
 * 3. A switchover through the witness's Admin API while a client writes continuously: the target
 *    becomes the active hub with epoch+1, a `switchover` history entry, every acknowledged write
 *    is on the new primary, and the old primary streams from it again without pg_rewind.
 * 4. Back again with the CLI (`hubha switchover --to`).
 * 5. Reinit of the standby: it re-clones (a new data directory: its old marker file is gone) and
 *    streams again.
 * 6. Paused, the active hub killed: no automatic failover; `hubha failover --dry-run` explains;
 *    `hubha failover --to` promotes the standby with a `manual-failover` history entry.
 */
import { execFile } from 'node:child_process';
import { access, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AdminCallError, AdminClient } from '@hubha/coord';
import type { CoordClient, HistoryEntry } from '@hubha/coord';
import { HUBHA_CLI, LocalHubCluster } from '../../deploy/local/local-cluster.js';
import { ContinuousWriter, ELECTION_SAFE, connectClient, dumpLogsOnFailure, logLines, query, readActiveHub, readLease, sleep, waitFor, waitHealthy, waitStreaming } from '../hub/support.js';

let cluster: LocalHubCluster;
let client: CoordClient;
let admin: AdminClient;

beforeAll(async () => {
  cluster = await LocalHubCluster.create({ dir: await mkdtemp(join(tmpdir(), 'hubha-switchover-')), synchronous: 'on', ...ELECTION_SAFE });
  cluster.startAll();
  client = await connectClient(cluster);
  admin = await AdminClient.create({ timeoutMs: 5000 });
}, 120_000);

afterAll(async () => {
  admin?.close();
  await client?.close();
  await cluster?.destroy({ keep: process.env.HUBHA_KEEP === '1' });
});

beforeEach(() => dumpLogsOnFailure(() => cluster));

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [HUBHA_CLI, ...args], { timeout: 60_000, env: { ...process.env, HUBHA_ENDPOINTS: cluster.endpoints().join(',') } }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

async function refusal(call: Promise<unknown>): Promise<string> {
  const err = await call.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AdminCallError);
  return (err as AdminCallError).code;
}

async function history(): Promise<HistoryEntry[]> {
  return (await admin.history(cluster.endpoints())).value.entries;
}

const witness = (): string[] => [cluster.member('witness').client];

let primary: string;
let standby: string;

/** Who is active now (each test starts from where the last one left the cluster). */
async function roles(): Promise<void> {
  const active = await waitFor('an active hub', () => readActiveHub(client), 30_000);
  primary = active.name;
  standby = cluster.hubs().map((h) => h.name).find((n) => n !== primary)!;
}

describe('switchover, manual failover and reinit on a real cluster', () => {
  it('refuses what is wrong or unsafe, with a code, and changes nothing', async () => {
    const healthy = await waitHealthy(cluster, client, { synchronous: true });
    primary = healthy.active.name;
    standby = healthy.standby;
    await waitStreaming(cluster, primary, standby, { sync: true });
    expect(await refusal(admin.switchover(witness(), { target: 'nobody', at: '', dryRun: false, reason: '', by: 'test' }))).toBe('unknown-member');
    expect(await refusal(admin.switchover(witness(), { target: primary, at: '', dryRun: false, reason: '', by: 'test' }))).toBe('target-is-active');
    expect(await refusal(admin.switchover(witness(), { target: '', at: 'tomorrow', dryRun: false, reason: '', by: 'test' }))).toBe('invalid-at');
    expect(await refusal(admin.failover(witness(), { target: standby, force: false, dryRun: false, reason: '', by: 'test' }))).toBe('active-hub-alive');
    expect(await refusal(admin.failover(witness(), { target: '', force: false, dryRun: false, reason: '', by: 'test' }))).toBe('target-required');
    expect(await refusal(admin.reinit(witness(), { member: primary, force: false, by: 'test' }))).toBe('member-is-active');
    expect((await readActiveHub(client))?.epoch).toBe(healthy.active.epoch);
  }, 120_000);

  it('--dry-run shows the steps and changes nothing', async () => {
    // The admin judges from the hubs' reports (every second): right after bootstrap the standby's
    // last report may predate its PostgreSQL start (CI once saw "PostgreSQL on hub2 is not running").
    // Asked the way the CLI asks (its endpoints, first answer), until that view has the standby up and streaming.
    await waitFor('the standby reported streaming', async () => {
      const m = (await admin.status(cluster.endpoints())).value.members.find((x) => x.name === standby);
      return m?.postgres?.up === true && m.postgres.replicationState === 'streaming' && m.report?.stale === false ? true : null;
    }, 20_000, 200);
    const before = await readLease(client);
    const dry = await cli(['switchover', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`dry run: a switchover from ${primary} to ${standby}`);
    expect(dry.stdout).toContain('stop PostgreSQL cleanly');
    expect((await readLease(client))?.epoch).toBe(before?.epoch);
  }, 60_000);

  it('hands over to the standby with every acknowledged write, and the old primary follows without rewind', async () => {
    await query(cluster, primary, 'CREATE TABLE IF NOT EXISTS so (id bigint PRIMARY KEY, epoch bigint)');
    await waitStreaming(cluster, primary, standby, { sync: true });
    const before = await readActiveHub(client);
    const writer = new ContinuousWriter(cluster, client, 'so');
    writer.start();
    await sleep(1000);
    const { value } = await admin.switchover(witness(), { target: standby, at: '', dryRun: false, reason: 'test', by: 'vitest' });
    await sleep(1000);
    await writer.stop();
    expect(value).toMatchObject({ from: primary, to: standby, epoch: before!.epoch + 1, dryRun: false });
    expect(value.finalLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    console.log(`switchover took ${value.durationS.toFixed(3)} s`);
    const active = await waitFor('the new active hub published', async () => {
      const a = await readActiveHub(client);
      return a?.name === standby ? a : null;
    }, 15_000);
    expect(active.epoch).toBe(before!.epoch + 1);
    const last = (await history()).at(-1)!;
    expect(last).toMatchObject({ kind: 'switchover', from: primary, to: standby, epoch: active.epoch, dataLossBytes: 0 });
    // Writes went on through the handover; every acknowledged one is on the new primary.
    expect(writer.acksFrom(primary).length).toBeGreaterThan(0);
    expect(writer.acksFrom(standby).length).toBeGreaterThan(0);
    const rows = await query<{ id: string }>(cluster, standby, 'SELECT id::text FROM so');
    const present = new Set(rows.map((r) => Number(r.id)));
    expect(writer.acks.filter((a) => !present.has(a.id)).map((a) => a.id)).toEqual([]);
    // The old primary follows (no pg_rewind: it stopped cleanly before the fork).
    await waitStreaming(cluster, standby, primary, { timeoutMs: 60_000 });
    const follow = await waitFor('the rejoin logged', async () => (await logLines(cluster, primary, 'rejoined as a standby')).at(-1), 10_000);
    expect(follow.rewind).toBe('not-needed');
  }, 120_000);

  it('back again with `hubha switchover --to`', async () => {
    await roles();
    await waitStreaming(cluster, primary, standby, { sync: true, timeoutMs: 30_000 });
    // The target's report must show it streaming (reports come every second).
    await waitFor('the standby reported streaming', async () => {
      const s = (await admin.status(witness())).value;
      return s.members.find((m) => m.name === standby)?.postgres?.replicationState === 'streaming' ? true : null;
    }, 20_000, 200);
    const res = await cli(['switchover', '--to', standby, '--reason', 'back home']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain(`switched over from ${primary} to ${standby}`);
    expect((await history()).at(-1)).toMatchObject({ kind: 'switchover', from: primary, to: standby });
    await roles();
    await waitStreaming(cluster, primary, standby, { timeoutMs: 60_000 });
  }, 120_000);

  it('refuses a target whose sidecar does not report; runs a scheduled switchover at its time', async () => {
    await roles();
    await waitStreaming(cluster, primary, standby, { sync: true, timeoutMs: 30_000 });
    const pid = cluster.processes.get(standby)!.pid!;
    process.kill(pid, 'SIGSTOP');
    try {
      await waitFor('the standby report stale', async () => {
        const m = (await admin.status(witness())).value.members.find((x) => x.name === standby);
        return m?.report?.stale === true ? true : null;
      }, 20_000, 250);
      const err = await admin.switchover(witness(), { target: standby, at: '', dryRun: false, reason: '', by: 'test' }).then(() => null, (e: unknown) => e as AdminCallError);
      expect(err?.code).toBe('target-not-ready');
      expect(err?.details).toMatch(/last report is \d+ s old/);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await waitFor('the standby reporting again', async () => {
      const m = (await admin.status(witness())).value.members.find((x) => x.name === standby);
      return m?.report?.stale === false && m.postgres?.up === true && m.postgres.inRecovery === true && m.postgres.replicationState === 'streaming' ? true : null;
    }, 20_000, 250);
    const epoch = (await readActiveHub(client))!.epoch;
    const at = new Date(Date.now() + 3000).toISOString();
    const { value } = await admin.switchover(witness(), { target: standby, at, dryRun: false, reason: 'scheduled', by: 'vitest' });
    expect(value).toMatchObject({ from: primary, to: standby, epoch: 0 });
    expect(Date.parse(value.scheduledAt!)).toBe(Date.parse(at));
    expect((await readActiveHub(client))?.name).toBe(primary); // not before its time
    // Every surface shows it while it waits: the status, and `hubha status`.
    expect((await admin.status(witness())).value.handover).toMatchObject({ kind: 'switchover', from: primary, to: standby, scheduled: true, by: 'vitest' });
    expect((await cli(['status'])).stdout).toContain(`SWITCHOVER from ${primary} to ${standby} scheduled at`);
    const entry = await waitFor('the scheduled switchover done', async () => (await history()).find((h) => h.epoch > epoch && h.kind === 'switchover'), 30_000, 200);
    expect(entry.to).toBe(standby);
    expect(Date.parse(entry.at)).toBeGreaterThanOrEqual(Date.parse(at));
  }, 150_000);

  it('a target that does not come: the old primary takes its lease back and goes on', async () => {
    await roles();
    await waitStreaming(cluster, primary, standby, { sync: true, timeoutMs: 30_000 });
    await waitFor('the standby reporting streaming', async () => {
      const m = (await admin.status(witness())).value.members.find((x) => x.name === standby);
      return m?.report?.stale === false && m.postgres?.up === true && m.postgres.inRecovery === true && m.postgres.replicationState === 'streaming' ? true : null;
    }, 20_000, 250);
    const epoch = (await readActiveHub(client))!.epoch;
    // The target's sidecar stops just after it reported: its PostgreSQL still streams (so the
    // old primary hands over), but nobody takes the lease.
    const pid = cluster.processes.get(standby)!.pid!;
    process.kill(pid, 'SIGSTOP');
    try {
      const err = await admin.switchover(witness(), { target: standby, at: '', dryRun: false, reason: 'target frozen', by: 'vitest' }).then(() => null, (e: unknown) => e as AdminCallError);
      expect(err?.code, err?.details).toBe('switchover-failed');
      expect(err?.details).toContain(`${primary} was promoted instead`);
      const back = await waitFor('the old primary active again', async () => {
        const a = await readActiveHub(client);
        return a?.name === primary && a.epoch > epoch ? a : null;
      }, 30_000, 200);
      expect((await history()).at(-1)).toMatchObject({ epoch: back.epoch, to: primary, kind: 'failover' });
      expect(await query(cluster, primary, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await waitStreaming(cluster, primary, standby, { timeoutMs: 60_000 });
  }, 150_000);

  it('reinit re-clones the standby, which streams again', async () => {
    await roles();
    const marker = join(cluster.pgDataDir(standby), 'hubha-test-marker');
    await writeFile(marker, 'before reinit');
    await waitFor('the standby reported', async () => {
      const s = (await admin.status(witness())).value;
      const m = s.members.find((x) => x.name === standby);
      return m?.report !== null && m?.report?.stale === false && m.postgres?.inRecovery === true ? true : null;
    }, 20_000, 200);
    const res = await cli(['reinit', standby]);
    expect(res.code, res.stdout + res.stderr).toBe(0);
    await waitFor('the re-clone done', async () => ((await logLines(cluster, standby, 'reinit: re-cloned and started as a standby')).length > 0 ? true : null), 90_000, 250);
    await expect(access(marker)).rejects.toThrow();
    await waitStreaming(cluster, primary, standby, { timeoutMs: 60_000 });
  }, 150_000);

  it('paused, the active hub lost: no automatic failover; `hubha failover` explains, then promotes', async () => {
    await roles();
    await waitStreaming(cluster, primary, standby, { sync: true, timeoutMs: 30_000 });
    const pause = await cli(['pause', '--reason', 'test']);
    expect(pause.code, pause.stderr).toBe(0);
    const before = (await readActiveHub(client))!;
    await cluster.kill(primary, 'SIGKILL');
    await cluster.killPostgres(primary);
    await waitFor('the lease expired', async () => ((await readLease(client)) === null ? true : null), 20_000, 100);
    await sleep(2000);
    expect(await readLease(client)).toBeNull(); // paused: nobody took it
    const dry = await cli(['failover', '--to', standby, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`dry run: a manual failover to ${standby}`);
    expect(dry.stdout).toContain('data that could be lost: 0 bytes');
    expect(await readLease(client)).toBeNull();
    const res = await cli(['failover', '--to', standby, '--reason', 'primary lost']);
    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(res.stdout).toContain(`failed over to ${standby}`);
    const entry = (await history()).at(-1)!;
    expect(entry).toMatchObject({ kind: 'manual-failover', from: primary, to: standby, dataLossBytes: 0 });
    expect(entry.epoch).toBeGreaterThan(before.epoch);
    await waitFor('the new active hub', async () => ((await readActiveHub(client))?.name === standby ? true : null), 15_000);
    await cli(['resume']);
  }, 150_000);
});
