/**
 * `npm run bench:failover [-- --rounds N] [-- --keep]`: unplanned failover on a fresh local
 * cluster (deploy/local/local-cluster.ts: two hubs with real PostgreSQL 15 and a witness as
 * `hubha run` processes on 127.0.0.1, synchronous mode 'on', default timings).
 *
 * Each round, with the pair healthy (the standby streaming, synchronous and recorded as such):
 * writers insert continuously into the active hub and record what was acknowledged; at t0 the
 * active hub's sidecar and its postmaster are killed with SIGKILL; an INSERT is tried on the other
 * hub every 100 ms, and t1 is its first success. Phases (seconds from t0) come from the members'
 * logs (pino JSON, wall-clock `time`): lease_expired (the store leader's 'lease expired'),
 * lease_acquired (the 'lease granted' to the standby), promoted (its 'PostgreSQL promoted'),
 * first_write (t1). Then the killed hub is restarted and rejoin = time from its restart until
 * pg_stat_replication on the new primary shows it streaming. At the end, every acknowledged id
 * must be on the final primary. Progress goes to stderr; the last stdout line is one JSON object.
 */
import type { CoordClient } from '@hubha/coord';
import type { LocalHubCluster } from '../../deploy/local/local-cluster.js';
import { WRITERS, Writers, firstLogTime, median, round3, runBench, stats } from './bench-support.js';
import { pgQuery, readActiveHub, readLease, replication, sleep, waitFor, waitHealthy } from '../../deploy/local/probe.js';

const PROBE_INTERVAL_MS = 100;
const WRITE_BEFORE_KILL_MS = 2000;
const FAILOVER_TIMEOUT_MS = 60_000;
const REJOIN_TIMEOUT_MS = 120_000;

function log(message: string): void {
  process.stderr.write(`bench:failover: ${message}\n`);
}

interface RoundResult {
  readonly killed: string;
  readonly promotedHub: string;
  readonly failover_s: number;
  readonly phases: { lease_expired: number | null; lease_acquired: number | null; promoted: number | null; first_write: number };
  readonly rejoin_s: number;
  readonly acked: number;
}

async function runRound(cluster: LocalHubCluster, store: CoordClient, round: number, nextId: () => number, acked: number[]): Promise<RoundResult> {
  const { active, standby } = await waitHealthy(cluster, store, { synchronous: true, timeoutMs: 120_000 });
  const old = active.name;
  log(`round ${round}: ${old} active (epoch ${active.epoch}), ${standby} synchronous standby; writing`);
  const ackedBefore = acked.length;
  const writers = new Writers(cluster, old, round, nextId, acked);
  writers.start();
  await sleep(WRITE_BEFORE_KILL_MS);
  const sidecarPid = cluster.processes.get(old)?.pid;
  const postmasterPid = await cluster.postmasterPid(old);
  if (sidecarPid === undefined || postmasterPid === null) throw new Error(`round ${round}: ${old} has no sidecar or postmaster PID`);

  // t0: kill -9 of the sidecar and its postmaster, back to back.
  const t0Wall = Date.now();
  const t0 = performance.now();
  process.kill(sidecarPid, 'SIGKILL');
  process.kill(postmasterPid, 'SIGKILL');

  // Lease polled as a fallback for the log-derived phases.
  let polledFree: number | null = null;
  let polledAcquired: number | null = null;
  let polling = true;
  const leasePoll = (async () => {
    while (polling) {
      const lease = await readLease(store, 1000).catch(() => undefined);
      const at = (performance.now() - t0) / 1000;
      if (lease === null && polledFree === null) polledFree = at;
      if (lease !== null && lease !== undefined && lease.holder === standby && polledAcquired === null) polledAcquired = at;
      await sleep(PROBE_INTERVAL_MS);
    }
  })();

  // t1: the first INSERT that succeeds on the other hub, tried every 100 ms.
  let t1: number | null = null;
  while (t1 === null && performance.now() - t0 < FAILOVER_TIMEOUT_MS) {
    const attempt = performance.now();
    const id = nextId();
    try {
      await pgQuery(cluster, standby, 'INSERT INTO bench (id, round, source) VALUES ($1, $2, $3)', [id, round, 'probe'], 2000);
      t1 = performance.now();
      acked.push(id);
    } catch {
      await sleep(Math.max(0, PROBE_INTERVAL_MS - (performance.now() - attempt)));
    }
  }
  polling = false;
  await leasePoll;
  await cluster.kill(old, 'SIGKILL'); // reaps the exit (it is dead already)
  await writers.stop();
  if (t1 === null) throw new Error(`round ${round}: no write succeeded on ${standby} within ${FAILOVER_TIMEOUT_MS / 1000} s`);
  const firstWrite = (t1 - t0) / 1000;

  // The agent logs 'PostgreSQL promoted' after pg_promote *and* the CHECKPOINT that follows it,
  // and publishes the record after that: both can come after the first write. Wait for them.
  const next = await waitFor(`${standby} published as the active hub`, async () => {
    const record = await readActiveHub(store, 1000);
    return record !== null && record.name === standby ? record : null;
  }, 30_000, PROBE_INTERVAL_MS);
  const since = (l: Record<string, unknown>): boolean => typeof l.time === 'number' && l.time >= t0Wall;
  await waitFor("the 'PostgreSQL promoted' log line", async () => (await cluster.logs(standby)).some((l) => l.msg === 'PostgreSQL promoted' && since(l)), 10_000, PROBE_INTERVAL_MS).catch(() => null);
  const promotedLine = (await cluster.logs(standby)).find((l) => l.msg === 'promoted' && since(l)) ?? null;
  const others = cluster.members.map((m) => m.name).filter((n) => n !== old);
  const rel = (t: number | null): number | null => (t === null ? null : round3((t - t0Wall) / 1000));
  const leaseExpiredLog = await firstLogTime(cluster, others, t0Wall, (l) => l.msg === 'lease expired' && l.lease === 'active-hub');
  const leaseFreedLog = await firstLogTime(cluster, others, t0Wall, (l) => l.msg === 'lease freed' && l.lease === 'active-hub');
  const grantedLog = await firstLogTime(cluster, others, t0Wall, (l) => l.msg === 'lease granted' && l.lease === 'active-hub' && l.holder === standby);
  const promotedLog = await firstLogTime(cluster, [standby], t0Wall, (l) => l.msg === 'PostgreSQL promoted');
  const phases = {
    lease_expired: rel(leaseExpiredLog ?? leaseFreedLog) ?? (polledFree === null ? null : round3(polledFree)),
    lease_acquired: rel(grantedLog) ?? (polledAcquired === null ? null : round3(polledAcquired)),
    promoted: rel(promotedLog),
    first_write: round3(firstWrite),
  };
  const checkpointMs = typeof promotedLine?.checkpointMs === 'number' ? promotedLine.checkpointMs : null;
  log(
    `round ${round}: first write on ${standby} after ${firstWrite.toFixed(3)} s (lease expired ${phases.lease_expired} s, acquired ${phases.lease_acquired} s, ` +
      `promoted ${phases.promoted} s${checkpointMs === null || checkpointMs === 0 ? '' : ` incl. a ${checkpointMs} ms CHECKPOINT after pg_promote`}; ` +
      `${next.name} published with epoch ${next.epoch}); ${acked.length - ackedBefore} writes acknowledged this round`,
  );

  // Rejoin: the old hub's sidecar restarts and must stream from the new primary again.
  const restartAt = performance.now();
  cluster.start(old);
  await waitFor(
    `${old} streaming from ${standby}`,
    async () => (await replication(cluster, standby, 2000)).some((r) => r.application_name === old && r.state === 'streaming'),
    REJOIN_TIMEOUT_MS,
    PROBE_INTERVAL_MS,
  );
  const rejoin = (performance.now() - restartAt) / 1000;
  // Logged once followAsStandby returns, which can be a moment after streaming starts.
  const rejoined = await waitFor('the rejoin log line', async () => (await cluster.logs(old)).filter((l) => l.msg === 'rejoined as a standby' && since(l)).at(-1), 5000, PROBE_INTERVAL_MS).catch(() => undefined);
  const how = rejoined === undefined ? '' : ` (rewind: ${String(rejoined.rewind)}, crash recovery: ${String(rejoined.crashRecovered)})`;
  log(`round ${round}: ${old} restarted and streaming from ${standby} after ${rejoin.toFixed(3)} s${how}`);
  return { killed: old, promotedHub: standby, failover_s: firstWrite, phases, rejoin_s: rejoin, acked: acked.length - ackedBefore };
}

async function main(): Promise<void> {
  await runBench<RoundResult>(
    'failover',
    log,
    (ctx, round) => runRound(ctx.cluster, ctx.store, round, ctx.nextId, ctx.acked),
    (ctx, results, lost) => {
      const phase = (key: keyof RoundResult['phases']): number | null => {
        const xs = results.map((r) => r.phases[key]).filter((x): x is number => x !== null);
        return xs.length === results.length ? round3(median(xs)) : null;
      };
      const output = {
        failover: {
          rounds: ctx.rounds,
          ...stats(results.map((r) => r.failover_s)),
          lost_acked_writes: lost,
          phases_median_s: { lease_expired: phase('lease_expired'), lease_acquired: phase('lease_acquired'), promoted: phase('promoted'), first_write: phase('first_write') },
        },
        rejoin: stats(results.map((r) => r.rejoin_s)),
        settings: {
          ...ctx.hubSettings.timings,
          synchronous: ctx.hubSettings.synchronous,
          raft: ctx.config.raft,
          writers: WRITERS,
          probe_interval_ms: PROBE_INTERVAL_MS,
        },
      };
      return [output];
    },
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:failover failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
