import pg from 'pg';
import { onTestFailed } from 'vitest';
import { ACTIVE_HUB_KEY, ACTIVE_HUB_LEASE, SYNC_STANDBY_KEY, CoordClient, activeHubSchema, parseRecord, syncStandbySchema } from '@hubha/coord';
import type { ActiveHub, SyncStandby } from '@hubha/coord';
import type { LocalClusterOptions, LocalHubCluster } from '../../deploy/local/local-cluster.js';
import { DEFAULT_HUB_TIMINGS } from '@hubha/hub';

// One polling helper for the local cluster's scripts and these tests.
/** pgQuery as `query`: one query on a hub's PostgreSQL as the superuser over its unix socket. */
export { pgQuery as query, sleep, waitFor } from '../../deploy/local/probe.js';
import { pgQuery as query, sleep, waitFor } from '../../deploy/local/probe.js';

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

/** Waits for a bootstrapped pair: an active hub and the other hub streaming (synchronous when asked). */
export async function waitHealthy(cluster: LocalHubCluster, client: CoordClient, options: { synchronous?: boolean; timeoutMs?: number } = {}): Promise<{ active: ActiveHub; standby: string }> {
  const active = await waitFor('an active hub', () => readActiveHub(client), options.timeoutMs ?? 60_000);
  const standby = cluster.hubs().find((h) => h.name !== active.name)!.name;
  await waitStreaming(cluster, active.name, standby, { sync: options.synchronous === true, timeoutMs: options.timeoutMs ?? 60_000 });
  if (options.synchronous === true) await waitFor('the synchronous standby recorded', async () => (await readSyncStandby(client))?.standby === standby, 10_000);
  return { active, standby };
}

export async function connectClient(cluster: LocalHubCluster): Promise<CoordClient> {
  return CoordClient.connect({ endpoints: cluster.endpoints(), requestTimeoutMs: 5000 });
}

/** A client of one hub's PostgreSQL as the superuser over its unix socket (caller ends it). */
export async function pgClient(cluster: LocalHubCluster, hub: string, options: { connectMs?: number; queryMs?: number; statementTimeoutMs?: number } = {}): Promise<pg.Client> {
  const client = new pg.Client({
    ...cluster.pgSocketConfig(hub),
    connectionTimeoutMillis: options.connectMs ?? 2000,
    ...(options.queryMs === undefined ? {} : { query_timeout: options.queryMs }),
    ...(options.statementTimeoutMs === undefined ? {} : { statement_timeout: options.statementTimeoutMs }),
  });
  // An error on an idle connection (the server was killed) must not crash the test process.
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/**
 * Ends a client without waiting on the server for long: a backend blocked (in a synchronous
 * replication wait) never reads the Terminate message, so end() alone could hang.
 */
export async function endQuietly(client: pg.Client, waitMs = 1000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const ended = await Promise.race([
    client.end().then(
      () => true,
      () => true,
    ),
    new Promise<false>((r) => (timer = setTimeout(() => r(false), waitMs))),
  ]);
  clearTimeout(timer);
  if (!ended) (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
}

/** The hub's PostgreSQL answers and is a primary (not in recovery). */
export async function isWritablePrimary(cluster: LocalHubCluster, hub: string): Promise<boolean> {
  const rows = await query<{ r: boolean }>(cluster, hub, 'SELECT pg_is_in_recovery() AS r', [], 2000).catch(() => null);
  return rows !== null && rows[0]?.r === false;
}

/** Waits until `standby` streams from `primary` (and is its synchronous standby when asked). */
export async function waitStreaming(cluster: LocalHubCluster, primary: string, standby: string, options: { sync?: boolean; timeoutMs?: number } = {}): Promise<void> {
  let seen = `no row for ${standby}`;
  await waitFor(
    `${standby} streaming from ${primary}${options.sync === true ? ' (sync)' : ''}`,
    async () => {
      const rows = await query<{ application_name: string; state: string; sync_state: string }>(cluster, primary, 'SELECT application_name, state, sync_state FROM pg_stat_replication', [], 2000);
      const row = rows.find((r) => r.application_name === standby);
      seen = row === undefined ? `no row for ${standby}` : `${row.state}/${row.sync_state}`;
      return row !== undefined && row.state === 'streaming' && (options.sync !== true || row.sync_state === 'sync');
    },
    options.timeoutMs ?? 60_000,
    200,
  ).catch(async (err: unknown) => {
    // The failure message is what CI keeps: what was seen, and what the standby's sidecar said.
    throw new Error(`${err instanceof Error ? err.message : String(err)}; pg_stat_replication on ${primary}: ${seen}; ${standby}'s last warnings:\n${await recentTrouble(cluster, standby)}`, { cause: err });
  });
}

/** The active-hub lease as the store reports it (null when free). */
export async function readLease(client: CoordClient): Promise<{ holder: string; epoch: number; renewCount: number; remainingMs: number | null } | null> {
  const res = await client.session('test-reader').leaseList(ACTIVE_HUB_LEASE, { timeoutMs: 2000 });
  const found = res.leases.find((l) => l.lease.name === ACTIVE_HUB_LEASE);
  return found === undefined ? null : { holder: found.lease.holder, epoch: found.lease.epoch, renewCount: found.lease.renewCount, remainingMs: found.remainingMs };
}

/** Log lines of a member with this message (pino JSON; `time` is epoch ms). */
export async function logLines(cluster: LocalHubCluster, name: string, msg: string): Promise<Record<string, unknown>[]> {
  return (await cluster.logs(name)).filter((l) => l.msg === msg);
}

export interface Ack {
  readonly id: number;
  /** The hub whose PostgreSQL acknowledged the commit. */
  readonly hub: string;
  /** The server's identity: max(epoch) of its hubha.promotions, read in the acknowledged statement. */
  readonly serverEpoch: number;
  /** The epoch of the active-hub record the writer followed to that server. */
  readonly recordEpoch: number;
  /** performance.now() when the acknowledgement arrived. */
  readonly at: number;
}

/**
 * A client writing continuously, one row per statement with unique increasing ids, to whichever
 * hub the store's active-hub record names, over its unix socket. On any error it drops the
 * connection, re-reads the record and goes on with the next id (the failed id is "in doubt":
 * it may or may not have committed). Only commits that returned successfully are acknowledged.
 */
export class ContinuousWriter {
  readonly acks: Ack[] = [];
  readonly attempted = new Set<number>();
  readonly errors: { id: number | null; hub: string | null; message: string; at: number }[] = [];
  private nextId = 1;
  private stopped = false;
  private running: Promise<void> | null = null;

  constructor(
    private readonly cluster: LocalHubCluster,
    private readonly client: CoordClient,
    private readonly table: string,
    private readonly options: { queryMs?: number } = {},
  ) {}

  start(): void {
    this.running ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  acksFrom(hub: string): Ack[] {
    return this.acks.filter((a) => a.hub === hub);
  }

  private async run(): Promise<void> {
    let conn: { hub: string; recordEpoch: number; pg: pg.Client } | null = null;
    while (!this.stopped) {
      if (conn === null) {
        const record = await readActiveHub(this.client).catch(() => null);
        if (record === null) {
          await sleep(50);
          continue;
        }
        try {
          conn = { hub: record.name, recordEpoch: record.epoch, pg: await pgClient(this.cluster, record.name, { connectMs: 1000, queryMs: this.options.queryMs ?? 5000 }) };
        } catch (err) {
          this.errors.push({ id: null, hub: record.name, message: `connect: ${String(err)}`, at: performance.now() });
          await sleep(50);
          continue;
        }
      }
      const id = this.nextId++;
      this.attempted.add(id);
      try {
        const res = await conn.pg.query<{ epoch: string }>(`INSERT INTO ${this.table} (id, epoch) VALUES ($1, (SELECT max(epoch) FROM hubha.promotions)) RETURNING epoch::text`, [id]);
        this.acks.push({ id, hub: conn.hub, serverEpoch: Number(res.rows[0]!.epoch), recordEpoch: conn.recordEpoch, at: performance.now() });
      } catch (err) {
        this.errors.push({ id, hub: conn.hub, message: String(err), at: performance.now() });
        const dead = conn.pg;
        conn = null;
        void endQuietly(dead);
        await sleep(20);
      }
    }
    if (conn !== null) await endQuietly(conn.pg);
  }
}

/**
 * The defaults, spelled out (the tests that lose the Raft leader read them): the active hub must
 * survive the loss of a Raft leader that is another member (the standby or the witness). It fences
 * itself demotionBudgetMs before its validity ends — about 0.88 × leaseTtlMs after the send of its
 * last successful renewal — while renewals fail from the leader's death until a new leader is
 * elected (one to two election timeouts). The earlier defaults (100 ms ticks × 10 = 1-2 s
 * elections; a 2000 ms lease with 500 ms renewals and budget) fenced 3 of 3 times in
 * witness.test.ts, which is why the defaults changed; hub-config now refuses timings that cannot
 * outlast an election.
 */
export const ELECTION_SAFE: Pick<LocalClusterOptions, 'raft' | 'timings'> = {
  raft: { tickMs: 50, electionTimeoutTicks: 8 },
  timings: { leaseTtlMs: DEFAULT_HUB_TIMINGS.leaseTtlMs, renewIntervalMs: DEFAULT_HUB_TIMINGS.renewIntervalMs, demotionBudgetMs: DEFAULT_HUB_TIMINGS.demotionBudgetMs, syncDropAfterMs: DEFAULT_HUB_TIMINGS.syncDropAfterMs },
};

/** The member that is the Raft leader now, as the members answer (null when none says so). */
export async function raftLeader(cluster: LocalHubCluster, client: CoordClient): Promise<string | null> {
  const session = client.session('test-reader');
  for (const member of cluster.members) {
    const status = await session.status(member.client, { timeoutMs: 1000 }).catch(() => null);
    if (status?.role === 'leader') return member.name;
  }
  return null;
}

/** Makes `target` the Raft leader (a leadership transfer through the current leader). */
export async function moveRaftLeader(cluster: LocalHubCluster, client: CoordClient, target: string): Promise<void> {
  await waitFor(`${target} the Raft leader`, async () => {
    if ((await raftLeader(cluster, client)) === target) return true;
    await client.session('test-reader').transferLeader(target, { timeoutMs: 3000 }).catch(() => undefined);
    await sleep(300);
    return (await raftLeader(cluster, client)) === target;
  }, 15_000, 100);
}

/**
 * When the calling test fails (a timeout included), prints the last lines of every member's log,
 * condensed, so that a rare failure can be understood from the test output alone.
 */
/** A member's last warnings and errors, one short line each (for failure messages). */
export async function recentTrouble(cluster: LocalHubCluster, name: string, lines = 8): Promise<string> {
  const entries = (await cluster.logs(name).catch(() => [])).filter((l) => Number(l.level) >= 40).slice(-lines);
  if (entries.length === 0) return '  (none)';
  return entries.map((l) => `  ${new Date(Number(l.time)).toISOString().slice(11, 23)} ${String(l.msg)} ${JSON.stringify({ ...l, time: undefined, msg: undefined, level: undefined, pid: undefined, hostname: undefined }).slice(0, 240)}`).join('\n');
}

export function dumpLogsOnFailure(cluster: () => LocalHubCluster | undefined, lines = 40): void {
  onTestFailed(async () => {
    const c = cluster();
    if (c === undefined) return;
    for (const member of c.members) {
      const entries = (await c.logs(member.name)).filter((l) => l.component !== 'raft-transport').slice(-lines);
      const text = entries.map((l) => {
        const { time, msg, level, pid: _pid, hostname: _host, node: _node, cluster: _cluster, component, ...rest } = l;
        return `${new Date(Number(time)).toISOString().slice(11, 23)} ${String(level)} ${String(component ?? '')} ${String(msg)} ${JSON.stringify(rest).slice(0, 300)}`;
      });
      console.log(`--- last ${entries.length} lines of ${member.name}'s log ---\n${text.join('\n')}`);
    }
  });
}
