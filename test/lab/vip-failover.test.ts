/**
 * The VIP in a network-namespace lab (no route out): two hub sidecars with real PostgreSQL and a
 * witness, each in its own namespace on a bridge; a client in a fourth namespace reaches the
 * primary through the VIP with psql, before and after a failover (kill -9 of the active hub's
 * sidecar and postmaster), and the restarted old hub removes the VIP it still had.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, cleanupOrphans, labPermitted } from '../../deploy/lab/lab.js';
import { HUBHA_CLI, LocalHubCluster } from '../../deploy/local/local-cluster.js';
import { query, waitFor } from '../hub/support.js';

const PG_PORT = 5432;
const APP_PASSWORD = 'app-secret-for-lab';
const permitted = (await labPermitted()).ok;

let lab: Lab;
let cluster: LocalHubCluster;
let vip: string;

async function activeHub(): Promise<{ name: string; epoch: number } | null> {
  const res = await lab.exec('client', [process.execPath, HUBHA_CLI, 'active-hub', '--endpoints', cluster.endpoints().join(','), '-o', 'json'], { check: false, timeoutMs: 10_000 });
  if (res.exitCode !== 0) return null;
  const parsed = JSON.parse(res.stdout) as { name: string; epoch: number };
  return { name: parsed.name, epoch: parsed.epoch };
}

async function psqlViaVip(sql: string): Promise<string | null> {
  const res = await lab.exec('client', ['psql', '-X', '-A', '-t', '-h', vip, '-p', String(PG_PORT), '-U', 'app', '-d', 'postgres', '-c', sql], {
    check: false,
    timeoutMs: 8_000,
    env: { ...process.env, PGPASSWORD: APP_PASSWORD, PGCONNECT_TIMEOUT: '2' },
  });
  return res.exitCode === 0 ? res.stdout.trim() : null;
}

async function vipHeldBy(host: string): Promise<boolean> {
  const res = await lab.exec(host, ['ip', '-j', 'addr', 'show', 'dev', 'eth0'], { check: false });
  return res.stdout.includes(`"${vip}"`);
}

beforeAll(async () => {
  if (!permitted) return;
  await cleanupOrphans('hubha-vipt');
  lab = await Lab.create({ prefix: `hubha-vipt-p${process.pid}`, hosts: ['hub1', 'hub2', 'witness', 'client'], subnet: '10.77.3.0/24' });
  vip = lab.subnetAddress(100);
  cluster = await LocalHubCluster.create({
    dir: await mkdtemp(join(tmpdir(), 'hubha-vip-')),
    host: (name) => lab.address(name),
    spawn: (name, argv) => lab.spawn(name, argv),
    cidrs: ['10.77.3.0/24'],
    pgPort: PG_PORT,
    synchronous: 'on',
    hubExtra: () => ({ vip: { address: `${vip}/24`, interface: 'eth0' } }),
  });
  cluster.startAll();
}, 120_000);

afterAll(async () => {
  await cluster?.destroy({ keep: process.env.HUBHA_KEEP === '1' });
  await lab?.destroy();
});

describe.skipIf(!permitted)('VIP in the lab', () => {
  it('moves with the active hub; the client reaches the new primary through it with psql', { timeout: 180_000 }, async () => {
    const first = await waitFor('an active hub', activeHub, 60_000, 500);
    const other = first.name === 'hub1' ? 'hub2' : 'hub1';
    await waitFor('the VIP on the active hub', () => vipHeldBy(first.name), 15_000);
    expect(await vipHeldBy(other)).toBe(false);
    await query(cluster, first.name, `CREATE ROLE app LOGIN SUPERUSER PASSWORD '${APP_PASSWORD}'`);
    expect(await waitFor('psql through the VIP', () => psqlViaVip("SELECT current_setting('cluster_name')"), 15_000, 300)).toBe(first.name);
    // Only the recorded synchronous standby may take over: wait until the store names it.
    await waitFor(`${other} recorded as the synchronous standby`, async () => {
      const res = await lab.exec('client', [process.execPath, HUBHA_CLI, 'kv', 'get', 'hubha/sync-standby', '--endpoints', cluster.endpoints().join(',')], { check: false, timeoutMs: 10_000 });
      return res.exitCode === 0 && (JSON.parse(res.stdout) as { standby: string | null }).standby === other;
    }, 60_000, 500);

    await cluster.kill(first.name, 'SIGKILL');
    await cluster.killPostgres(first.name);
    const second = await waitFor('the new active hub', async () => {
      const now = await activeHub();
      return now !== null && now.name === other ? now : null;
    }, 30_000, 300);
    expect(second.epoch).toBe(first.epoch + 1);
    expect(await vipHeldBy(other)).toBe(true);
    // The gratuitous ARP moved the client's neighbour entry: psql now lands on the new primary.
    expect(await waitFor('psql through the VIP to the new primary', async () => ((await psqlViaVip("SELECT current_setting('cluster_name')")) === other ? other : null), 20_000, 300)).toBe(other);
    expect(await psqlViaVip('SELECT pg_is_in_recovery()')).toBe('f');

    // The old hub's namespace still has the address (its sidecar was killed -9); restarted, the
    // sidecar removes it before anything else, since it does not hold the lease.
    cluster.start(first.name);
    await waitFor('the old hub drops the VIP', async () => !(await vipHeldBy(first.name)), 30_000, 300);
  });
});
