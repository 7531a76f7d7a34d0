/**
 * kill -9 of ONLY the active hub's sidecar: its PostgreSQL keeps running, still a writable
 * primary, but nobody renews the lease, so the standby is promoted under the next epoch.
 *
 * What protects the acknowledged data then is synchronous replication: the orphaned primary's
 * synchronous standby was the hub that is now the primary, which no longer streams from it, so a
 * commit on the orphan waits forever and is never acknowledged. (A client-side timeout is the
 * right tool to see it: statement_timeout would cancel the wait, and PostgreSQL then reports the
 * COMMIT as successful with only a WARNING — the transaction "has already committed locally". The
 * test shows that too: it is why such an orphan must not live on.)
 *
 * The production answer: PostgreSQL runs inside the sidecar's systemd unit (same cgroup,
 * KillMode=control-group; the unit is in deploy/systemd), so the postmaster dies with the
 * sidecar and this state does not arise. Locally the postmaster outlives the sidecar (pg_ctl
 * daemonizes it), so what can be tested here is the other half: when the sidecar comes back it
 * finds its PostgreSQL writable without holding the lease, fences it at once, and rejoins as a
 * standby of the new primary (pg_rewind), which discards the orphan's local commits.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import type { CoordClient } from '@hubha/coord';
import { LocalHubCluster } from '../../deploy/local/local-cluster.js';
import { connectClient, dumpLogsOnFailure, endQuietly, isWritablePrimary, logLines, pgClient, query, readActiveHub, sleep, waitFor, waitHealthy, waitStreaming } from './support.js';

let cluster: LocalHubCluster;
let client: CoordClient;
const clients: pg.Client[] = [];

beforeAll(async () => {
  cluster = await LocalHubCluster.create({ dir: await mkdtemp(join(tmpdir(), 'hubha-sidecar-kill-')), synchronous: 'on' });
  cluster.startAll();
  client = await connectClient(cluster);
}, 120_000);

afterAll(async () => {
  for (const c of clients) await endQuietly(c, 200);
  await client?.close();
  await cluster?.destroy({ keep: process.env.HUBHA_KEEP === '1' });
});

type Settled = { state: 'pending' } | { state: 'resolved'; at: number } | { state: 'rejected'; at: number; error: Error & { code?: string } };

function track(promise: Promise<unknown>): { readonly outcome: Settled } {
  const tracker: { outcome: Settled } = { outcome: { state: 'pending' } };
  promise.then(
    () => (tracker.outcome = { state: 'resolved', at: performance.now() }),
    (error: Error) => (tracker.outcome = { state: 'rejected', at: performance.now(), error }),
  );
  return tracker;
}

describe('kill -9 of the active sidecar alone', () => {
  it('leaves an orphaned primary whose commits wait forever, and the restarted sidecar fences it and rejoins', async () => {
    dumpLogsOnFailure(() => cluster);
    const { active, standby } = await waitHealthy(cluster, client, { synchronous: true, timeoutMs: 40_000 });
    const old = active.name;
    await query(cluster, old, 'CREATE TABLE t (id int PRIMARY KEY, v text)');
    await query(cluster, old, "INSERT INTO t VALUES (1, 'before')");

    const killedAt = performance.now();
    const step = (what: string): void => void (process.env.HUBHA_DEBUG === '1' && console.log(`[${Math.round(performance.now() - killedAt)} ms] ${what}`));
    await cluster.kill(old, 'SIGKILL');
    const next = await waitFor('the standby promoted under the next epoch', async () => {
      const record = await readActiveHub(client).catch(() => null);
      return record?.name === standby ? record : null;
    }, 30_000, 50);
    const promotedMs = performance.now() - killedAt;
    expect(next.epoch).toBe(active.epoch + 1);
    expect(await isWritablePrimary(cluster, standby)).toBe(true);
    step(`promoted ${standby}`);

    // The orphan: still running, still a primary (nothing stopped it).
    expect(await cluster.postmasterPid(old)).not.toBeNull();
    expect(await isWritablePrimary(cluster, old)).toBe(true);
    const [setting] = await query<{ s: string }>(cluster, old, "SELECT current_setting('synchronous_standby_names') AS s");
    expect(setting?.s).toContain(standby);

    // A commit on the orphan does not return: it waits for a synchronous standby that no longer
    // streams from it. Neither a plain session nor one with a statement_timeout gets an answer
    // (PostgreSQL disarms statement_timeout before the commit's synchronous-replication wait).
    const plain = await pgClient(cluster, old, { statementTimeoutMs: 0 });
    const timed = await pgClient(cluster, old, { statementTimeoutMs: 1000 });
    clients.push(plain, timed);
    const orphanInsert = track(plain.query("INSERT INTO t VALUES (999, 'orphan')"));
    const timedInsert = track(timed.query("INSERT INTO t VALUES (998, 'orphan with statement_timeout')"));
    const notices: string[] = [];
    timed.on('notice', (n) => notices.push(n.message ?? ''));
    await sleep(5000);
    step('5 s after the orphan INSERTs');
    expect(orphanInsert.outcome.state).toBe('pending');
    expect(timedInsert.outcome.state).toBe('pending');
    const waiting = await query<{ id: string; pid: number; wait_event: string | null; state: string }>(
      cluster,
      old,
      "SELECT substring(query from 'VALUES \\((\\d+)') AS id, pid, wait_event, state FROM pg_stat_activity WHERE query LIKE 'INSERT INTO t VALUES (99%' ORDER BY 1",
    );
    expect(waiting.map(({ id, wait_event, state }) => ({ id, wait_event, state }))).toEqual([
      { id: '998', wait_event: 'SyncRep', state: 'active' },
      { id: '999', wait_event: 'SyncRep', state: 'active' },
    ]);
    expect(await query(cluster, standby, 'SELECT 1 FROM t WHERE id >= 998')).toEqual([]);

    // Why the orphan must not live on: cancelling the wait (pg_cancel_backend, or a driver's
    // cancel request on its query timeout) makes PostgreSQL report the COMMIT as successful with
    // only a WARNING, for a row that exists on the orphan alone.
    await query(cluster, old, 'SELECT pg_cancel_backend($1)', [waiting[0]!.pid]);
    await waitFor('the cancelled INSERT settled', async () => timedInsert.outcome.state !== 'pending', 5000, 20);
    expect(timedInsert.outcome.state).toBe('resolved');
    expect(notices.some((m) => m.includes('canceling wait for synchronous replication'))).toBe(true);
    step('cancelled wait reported as committed');
    // The sidecar comes back: it fences the writable PostgreSQL it does not hold the lease for.
    const restartedAt = performance.now();
    cluster.start(old);
    const fenceLine = await waitFor('the fence on restart', async () => (await logLines(cluster, old, 'PostgreSQL is writable but this hub does not hold the lease: fencing'))[0], 30_000, 50);
    await waitFor('the orphan no longer writable', async () => !(await isWritablePrimary(cluster, old)), 10_000, 20);
    const fencedMs = performance.now() - restartedAt;
    step('fenced');
    expect(fenceLine.holder).toBe(standby);
    // The pending commit was never acknowledged: the fast shutdown ended its session with an error.
    await waitFor('the orphaned INSERT settled', async () => orphanInsert.outcome.state !== 'pending', 10_000, 20);
    expect(orphanInsert.outcome.state).toBe('rejected');

    step('the orphan INSERT settled');
    // It rejoins as a (synchronous) standby through pg_rewind; neither orphan row survives anywhere.
    await waitStreaming(cluster, standby, old, { sync: true, timeoutMs: 45_000 });
    const rejoined = (await logLines(cluster, old, 'rejoined as a standby'))[0];
    expect(rejoined?.rewind).toBe('rewound');
    await query(cluster, standby, "INSERT INTO t VALUES (2, 'after')");
    await waitFor('row 2 on the rejoined hub', async () => (await query(cluster, old, 'SELECT 1 FROM t WHERE id = 2')).length === 1, 15_000);
    // Both orphan rows (998 was even reported committed on the orphan) were rewound away.
    expect(await query(cluster, old, 'SELECT id FROM t ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }]);
    expect(await query(cluster, standby, 'SELECT id FROM t ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }]);
    expect((await readActiveHub(client))?.epoch).toBe(next.epoch);

    const error = orphanInsert.outcome.state === 'rejected' ? orphanInsert.outcome.error : null;
    console.log(
      `[sidecar-only-kill] promoted ${standby} ${Math.round(promotedMs)} ms after the kill; orphan INSERTs pending for > 5 s (wait_event SyncRep, with or without statement_timeout); ` +
        `restarted sidecar fenced the orphan ${Math.round(fencedMs)} ms after its start; pending INSERT ended with ${error?.code ?? ''} ${error?.message ?? ''}`,
    );
  }, 80_000);
});
