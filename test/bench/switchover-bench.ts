/**
 * `npm run bench:switchover [-- --rounds N] [-- --keep]`: planned switchover on a fresh local
 * cluster (deploy/local/local-cluster.ts: two hubs with real PostgreSQL 15 and a witness as
 * `hubha run` processes on 127.0.0.1, synchronous mode 'on', default timings).
 *
 * Each round, with the pair healthy (the standby streaming, synchronous, and reporting so):
 * writers insert continuously into the active hub and record what was acknowledged; at t0 the
 * Admin API's Switchover is called on the witness (as `hubha switchover` does); an INSERT is tried
 * on the target every 10 ms, and t1 is its first success. Phases (seconds from t0) come from the
 * members' logs (pino JSON, wall-clock `time`): lease_released (the store leader's 'lease freed'),
 * lease_acquired ('lease granted' to the target), promoted (the target's 'PostgreSQL promoted'),
 * first_write (t1), api_returned (the Switchover call's answer). Rejoin = from t0 until
 * pg_stat_replication on the new primary shows the old one streaming. At the end, every
 * acknowledged id must be on the final primary. Progress goes to stderr; the last stdout line is
 * one JSON object: {"switchover":{rounds,median_s,min_s,max_s,lost_acked_writes,...},"rejoin":{...}}.
 */
import { AdminClient } from '@hubha/coord';
import type { CoordClient } from '@hubha/coord';
import type { LocalHubCluster } from '../../deploy/local/local-cluster.js';
import { pgQuery, replication, sleep, waitFor, waitHealthy } from '../../deploy/local/probe.js';
import { WRITERS, Writers, firstLogTime, median, round3, runBench, stats } from './bench-support.js';

const PROBE_INTERVAL_MS = 10;
const WRITE_BEFORE_SWITCHOVER_MS = 2000;
const SWITCHOVER_TIMEOUT_MS = 40_000;
const REJOIN_TIMEOUT_MS = 60_000;

function log(message: string): void {
  process.stderr.write(`bench:switchover: ${message}\n`);
}

interface RoundResult {
  readonly from: string;
  readonly to: string;
  readonly switchover_s: number;
  readonly phases: { lease_released: number | null; lease_acquired: number | null; promoted: number | null; first_write: number; api_returned: number };
  readonly rejoin_s: number;
  readonly rewind: string | null;
}

/** Healthy, and the standby's own report says streaming (Switchover checks the reports). */
async function waitReady(cluster: LocalHubCluster, store: CoordClient, admin: AdminClient): Promise<{ active: string; epoch: number; standby: string }> {
  const { active, standby } = await waitHealthy(cluster, store, { synchronous: true, timeoutMs: 120_000 });
  await waitFor(`${standby} reported streaming`, async () => {
    const status = (await admin.status(cluster.endpoints())).value;
    const m = status.members.find((x) => x.name === standby);
    return m?.postgres?.up === true && m.postgres.inRecovery === true && m.postgres.replicationState === 'streaming' && m.report?.stale === false && status.state === 'healthy' ? true : null;
  }, 60_000, 100);
  return { active: active.name, epoch: active.epoch, standby };
}

async function runRound(cluster: LocalHubCluster, store: CoordClient, admin: AdminClient, round: number, nextId: () => number, acked: number[]): Promise<RoundResult> {
  const { active: from, epoch, standby: to } = await waitReady(cluster, store, admin);
  log(`round ${round}: ${from} active (epoch ${epoch}), ${to} synchronous standby; writing`);
  const ackedBefore = acked.length;
  const writers = new Writers(cluster, from, round, nextId, acked);
  writers.start();
  await sleep(WRITE_BEFORE_SWITCHOVER_MS);

  const t0Wall = Date.now();
  const t0 = performance.now();
  const witness = cluster.members.find((m) => m.role !== 'hub')?.client ?? cluster.endpoints()[0]!;
  let apiReturned: number | null = null;
  const call = admin.switchover([witness], { target: to, at: '', dryRun: false, reason: `bench round ${round}`, by: 'bench:switchover' }).then((answer) => {
    apiReturned = performance.now();
    return answer.value;
  });
  call.catch(() => undefined);

  // t1: the first INSERT that succeeds on the target, tried every 10 ms.
  let t1: number | null = null;
  while (t1 === null && performance.now() - t0 < SWITCHOVER_TIMEOUT_MS) {
    const attempt = performance.now();
    const id = nextId();
    try {
      await pgQuery(cluster, to, 'INSERT INTO bench (id, round, source) VALUES ($1, $2, $3)', [id, round, 'probe'], 2000);
      t1 = performance.now();
      acked.push(id);
    } catch {
      await sleep(Math.max(0, PROBE_INTERVAL_MS - (performance.now() - attempt)));
    }
  }
  const answer = await call;
  await writers.stop();
  if (t1 === null) throw new Error(`round ${round}: no write succeeded on ${to} within ${SWITCHOVER_TIMEOUT_MS / 1000} s`);
  if (answer.to !== to) throw new Error(`round ${round}: the switchover went to ${answer.to}, not ${to}`);

  await waitFor(
    `${from} streaming from ${to}`,
    async () => (await replication(cluster, to, 2000)).some((r) => r.application_name === from && r.state === 'streaming'),
    REJOIN_TIMEOUT_MS,
    PROBE_INTERVAL_MS * 5,
  );
  const rejoin = (performance.now() - t0) / 1000;
  const since = (l: Record<string, unknown>): boolean => typeof l.time === 'number' && l.time >= t0Wall;
  const rejoined = await waitFor('the rejoin log line', async () => (await cluster.logs(from)).filter((l) => l.msg === 'rejoined as a standby' && since(l)).at(-1), 5000, 50).catch(() => undefined);
  const all = cluster.members.map((m) => m.name);
  const rel = (t: number | null): number | null => (t === null ? null : round3((t - t0Wall) / 1000));
  const phases = {
    lease_released: rel(await firstLogTime(cluster, all, t0Wall, (l) => l.msg === 'lease freed' && l.lease === 'active-hub')),
    lease_acquired: rel(await firstLogTime(cluster, all, t0Wall, (l) => l.msg === 'lease granted' && l.lease === 'active-hub' && l.holder === to)),
    promoted: rel(await firstLogTime(cluster, [to], t0Wall, (l) => l.msg === 'PostgreSQL promoted')),
    first_write: round3((t1 - t0) / 1000),
    api_returned: round3(((apiReturned ?? performance.now()) - t0) / 1000),
  };
  const rewind = rejoined === undefined ? null : String(rejoined.rewind);
  log(
    `round ${round}: first write on ${to} after ${phases.first_write.toFixed(3)} s (lease released ${phases.lease_released} s, acquired ${phases.lease_acquired} s, ` +
      `promoted ${phases.promoted} s, API answered ${phases.api_returned} s; final LSN ${answer.finalLsn}); ${from} streaming again after ${rejoin.toFixed(3)} s ` +
      `(rewind: ${rewind ?? 'unknown'}); ${acked.length - ackedBefore} writes acknowledged this round`,
  );
  return { from, to, switchover_s: phases.first_write, phases, rejoin_s: rejoin, rewind };
}

async function main(): Promise<void> {
  const admin = await AdminClient.create({ timeoutMs: 5000 });
  try {
    await runBench<RoundResult>(
      'switchover',
      log,
      (ctx, round) => runRound(ctx.cluster, ctx.store, admin, round, ctx.nextId, ctx.acked),
      (ctx, results, lost) => {
        const phase = (key: keyof RoundResult['phases']): number | null => {
          const xs = results.map((r) => r.phases[key]).filter((x): x is number => x !== null);
          return xs.length === results.length ? round3(median(xs)) : null;
        };
        // The details first, then the summary in exactly the shape the issue asks for, on the last line.
        const details = {
          acked_writes: ctx.acked.length,
          phases_median_s: { lease_released: phase('lease_released'), lease_acquired: phase('lease_acquired'), promoted: phase('promoted'), first_write: phase('first_write'), api_returned: phase('api_returned') },
          rounds: results,
          settings: { ...ctx.hubSettings.timings, synchronous: ctx.hubSettings.synchronous, raft: ctx.config.raft, writers: WRITERS, probe_interval_ms: PROBE_INTERVAL_MS },
        };
        const summary = { switchover: { rounds: ctx.rounds, ...stats(results.map((r) => r.switchover_s)), lost_acked_writes: lost }, rejoin: stats(results.map((r) => r.rejoin_s)) };
        return [{ details }, summary];
      },
    );
  } finally {
    admin.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:switchover failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
