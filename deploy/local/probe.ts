/**
 * Small read-only probes of a LocalHubCluster, shared by `npm start` (deploy/local/start.ts) and
 * `npm run bench:failover`: the active-hub record, the lease and the synchronous-standby record
 * from the store; pg_stat_replication and one-off queries on a hub's PostgreSQL over its unix
 * socket (as the superuser, trusted there only).
 */
import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { ACTIVE_HUB_KEY, ACTIVE_HUB_LEASE, SYNC_STANDBY_KEY, CoordClient, activeHubSchema, parseRecord, syncStandbySchema } from '@hubha/coord';
import type { ActiveHub, LeaseInfo, SyncStandby } from '@hubha/coord';
import { PG_BIN_DIR } from './local-cluster.js';
import type { LocalHubCluster } from './local-cluster.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a value (not null/undefined/false); errors count as "not yet". */
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

export async function connectStore(cluster: LocalHubCluster, requestTimeoutMs = 3000): Promise<CoordClient> {
  return CoordClient.connect({ endpoints: cluster.endpoints(), requestTimeoutMs });
}

export async function readActiveHub(client: CoordClient, timeoutMs = 2000): Promise<ActiveHub | null> {
  const res = await client.session('hubha-local').get(ACTIVE_HUB_KEY, { timeoutMs });
  if (res.kv === null) return null;
  const parsed = parseRecord(activeHubSchema, ACTIVE_HUB_KEY, res.kv.value);
  return parsed.ok ? parsed.value : null;
}

export async function readSyncStandby(client: CoordClient, timeoutMs = 2000): Promise<SyncStandby | null> {
  const res = await client.session('hubha-local').get(SYNC_STANDBY_KEY, { timeoutMs });
  if (res.kv === null) return null;
  const parsed = parseRecord(syncStandbySchema, SYNC_STANDBY_KEY, res.kv.value);
  return parsed.ok ? parsed.value : null;
}

/** The active-hub lease as the store has it (null: free). */
export async function readLease(client: CoordClient, timeoutMs = 2000): Promise<LeaseInfo | null> {
  const res = await client.session('hubha-local').leaseList(ACTIVE_HUB_LEASE, { timeoutMs });
  return res.leases.find((l) => l.lease.name === ACTIVE_HUB_LEASE)?.lease ?? null;
}

/** One query on a hub's PostgreSQL as the superuser over its unix socket. */
export async function pgQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(cluster: LocalHubCluster, hub: string, sql: string, params: unknown[] = [], timeoutMs = 5000): Promise<R[]> {
  const client = new pg.Client({ ...cluster.pgSocketConfig(hub), connectionTimeoutMillis: timeoutMs, statement_timeout: timeoutMs, query_timeout: timeoutMs });
  // A server shutting down (a fence) sends FATAL 57P01, emitted as 'error' outside the query too.
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface ReplicationRow {
  readonly application_name: string;
  readonly state: string;
  readonly sync_state: string;
}

/** pg_stat_replication on `primary`. */
export async function replication(cluster: LocalHubCluster, primary: string, timeoutMs = 2000): Promise<ReplicationRow[]> {
  return pgQuery<ReplicationRow>(cluster, primary, 'SELECT application_name, state, sync_state FROM pg_stat_replication', [], timeoutMs);
}

/** Waits for an active hub and the other hub streaming from it (synchronous and recorded when asked). */
export async function waitHealthy(
  cluster: LocalHubCluster,
  client: CoordClient,
  options: { synchronous?: boolean; timeoutMs?: number } = {},
): Promise<{ active: ActiveHub; standby: string }> {
  const timeoutMs = options.timeoutMs ?? 90_000;
  const deadline = performance.now() + timeoutMs;
  const left = (): number => Math.max(1000, deadline - performance.now());
  const active = await waitFor('an active hub published in the store', () => readActiveHub(client), left(), 250);
  const standby = cluster.hubs().find((h) => h.name !== active.name)!.name;
  await waitFor(
    `${standby} streaming from ${active.name}`,
    async () => (await replication(cluster, active.name)).some((r) => r.application_name === standby && r.state === 'streaming' && (options.synchronous !== true || r.sync_state === 'sync')),
    left(),
    250,
  );
  if (options.synchronous === true) await waitFor(`${standby} recorded as the synchronous standby`, async () => (await readSyncStandby(client))?.standby === standby, left(), 250);
  return { active, standby };
}

/** The PostgreSQL 15 programs the hub sidecar needs; the missing ones (empty: all there). */
export async function missingPgBinaries(binDir = PG_BIN_DIR): Promise<string[]> {
  const missing: string[] = [];
  for (const name of ['postgres', 'pg_ctl', 'initdb', 'pg_basebackup', 'pg_rewind', 'pg_controldata']) {
    await access(join(binDir, name), constants.X_OK).catch(() => missing.push(join(binDir, name)));
  }
  return missing;
}
