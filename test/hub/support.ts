import pg from 'pg';
import { ACTIVE_HUB_KEY, SYNC_STANDBY_KEY, CoordClient, activeHubSchema, parseRecord, syncStandbySchema } from '@hubha/coord';
import type { ActiveHub, SyncStandby } from '@hubha/coord';
import type { LocalHubCluster } from '../../deploy/local/local-cluster.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 30_000, intervalMs = 100): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown = null;
  while (performance.now() < deadline) {
    try {
      const value = await probe();
      if (value !== null && value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out waiting for ${what}${lastError === null ? '' : ` (last error: ${String(lastError)})`}`);
}

export async function readActiveHub(client: CoordClient): Promise<ActiveHub | null> {
  const res = await client.session('test-reader').get(ACTIVE_HUB_KEY, { timeoutMs: 2000 });
  if (res.kv === null) return null;
  const parsed = parseRecord(activeHubSchema, ACTIVE_HUB_KEY, res.kv.value);
  return parsed.ok ? parsed.value : null;
}

export async function readSyncStandby(client: CoordClient): Promise<SyncStandby | null> {
  const res = await client.session('test-reader').get(SYNC_STANDBY_KEY, { timeoutMs: 2000 });
  if (res.kv === null) return null;
  const parsed = parseRecord(syncStandbySchema, SYNC_STANDBY_KEY, res.kv.value);
  return parsed.ok ? parsed.value : null;
}

/** One query on a hub's PostgreSQL as the superuser over its unix socket. */
export async function query<R extends pg.QueryResultRow = pg.QueryResultRow>(cluster: LocalHubCluster, hub: string, sql: string, params: unknown[] = [], timeoutMs = 5000): Promise<R[]> {
  const client = new pg.Client({ ...cluster.pgSocketConfig(hub), connectionTimeoutMillis: timeoutMs, statement_timeout: timeoutMs, query_timeout: timeoutMs });
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Waits for a bootstrapped pair: an active hub and the other hub streaming (synchronous when asked). */
export async function waitHealthy(cluster: LocalHubCluster, client: CoordClient, options: { synchronous?: boolean; timeoutMs?: number } = {}): Promise<{ active: ActiveHub; standby: string }> {
  const active = await waitFor('an active hub', () => readActiveHub(client), options.timeoutMs ?? 60_000);
  const standby = cluster.hubs().find((h) => h.name !== active.name)!.name;
  await waitFor(
    `${standby} streaming from ${active.name}`,
    async () => {
      const rows = await query<{ application_name: string; state: string; sync_state: string }>(cluster, active.name, 'SELECT application_name, state, sync_state FROM pg_stat_replication');
      return rows.some((r) => r.application_name === standby && r.state === 'streaming' && (options.synchronous !== true || r.sync_state === 'sync'));
    },
    options.timeoutMs ?? 60_000,
  );
  if (options.synchronous === true) await waitFor('the synchronous standby recorded', async () => (await readSyncStandby(client))?.standby === standby, 10_000);
  return { active, standby };
}

export async function connectClient(cluster: LocalHubCluster): Promise<CoordClient> {
  return CoordClient.connect({ endpoints: cluster.endpoints(), requestTimeoutMs: 5000 });
}
