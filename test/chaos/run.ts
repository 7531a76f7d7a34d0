/**
 * The chaos runner: `npm run chaos -- --rounds N [--seed S]` (README: "Chaos testing").
 *
 * Builds one network-namespace lab and one hubha cluster in it (hub1, hub2 with PostgreSQL 15,
 * the witness; a client namespace), then runs N rounds: a writer through the VIP, a seeded random
 * schedule of faults (isolate, one-way cut, link cut, packet loss, SIGSTOP of a member for a
 * random time, kill -9 of a sidecar and/or the postmaster and restart), the heal, the wait for
 * recovery, and the checker (test/chaos/checker.ts). Prints one line per round and last exactly
 * `chaos: <N> rounds, <V> violations`; exits 1 on any violation, and keeps the logs of every
 * failing round (the cluster directory without PostgreSQL's data, and the writer's history).
 *
 * Options:
 *   --rounds N               rounds to run (default 5)
 *   --seed S                 the run's seed (default: random, printed)
 *   --synchronous on|off|strict   hubha's synchronous mode (default on; lost writes count only when not off)
 *   --faults a,b,…           fault kinds to draw from (default: all random kinds; see faults.ts),
 *                            or store-partition (the active hub cut from the store, not from the client)
 *   --recovery-bound-ms MS   recovery must complete within this after the heal (default 60000)
 *   --keep-dir DIR           where failing rounds are kept (default .data/chaos/<run id>)
 *   --writers N              concurrent writer connections through the VIP (default 2)
 *   --unsafe-no-fencing      start the hubs with self-fencing DISABLED (HUBHA_UNSAFE_TESTING=1,
 *                            HUBHA_UNSAFE_DISABLE_FENCING=1): only to show the checker catching split brain
 */
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { labPermitted } from '../../deploy/lab/lab.js';
import type { Ack } from './history.js';
import { RANDOM_FAULT_KINDS, prng, randomSchedule, roundSeed, type FaultKind } from './faults.js';
import { LAB_TIMINGS, LabCluster } from './lab-cluster.js';
import { runRound, type RoundResult } from './round.js';

const USAGE = 'usage: npm run chaos -- --rounds N [--seed S] [--synchronous on|off|strict] [--faults kind,…] [--recovery-bound-ms MS] [--keep-dir DIR] [--writers N] [--unsafe-no-fencing]';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    seed: { type: 'string' },
    synchronous: { type: 'string', default: 'on' },
    faults: { type: 'string' },
    'recovery-bound-ms': { type: 'string', default: '60000' },
    'keep-dir': { type: 'string' },
    writers: { type: 'string', default: '2' },
    'unsafe-no-fencing': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});

function fail(message: string): never {
  console.error(`chaos: ${message}\n${USAGE}`);
  process.exit(2);
}

if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 1000) fail(`--rounds must be an integer in 1..1000, got ${values.rounds}`);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
if (!Number.isInteger(seed) || seed < 0) fail(`--seed must be a non-negative integer, got ${values.seed}`);
const synchronous = values.synchronous as 'on' | 'off' | 'strict';
if (!['on', 'off', 'strict'].includes(synchronous)) fail(`--synchronous must be on, off or strict, got ${values.synchronous}`);
const boundMs = Number(values['recovery-bound-ms']);
if (!Number.isInteger(boundMs) || boundMs < 1000) fail('--recovery-bound-ms must be an integer >= 1000');
const allKinds: readonly FaultKind[] = [...RANDOM_FAULT_KINDS, 'store-partition'];
const kinds = (values.faults?.split(',').map((k) => k.trim()).filter(Boolean) ?? [...RANDOM_FAULT_KINDS]) as FaultKind[];
for (const k of kinds) if (!allKinds.includes(k)) fail(`unknown fault kind ${k} (known: ${allKinds.join(', ')})`);
const unsafe = values['unsafe-no-fencing'];
const writers = Number(values.writers);
if (!Number.isInteger(writers) || writers < 1 || writers > 16) fail('--writers must be an integer in 1..16');
const runId = `${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}-seed${seed}`;
const keepDir = resolve(values['keep-dir'] ?? join('.data', 'chaos', runId));

const permitted = await labPermitted();
if (!permitted.ok) fail(`cannot build a network-namespace lab here: ${permitted.reason}`);

const t0 = Date.now();
const secs = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;
const log = (line: string): void => console.log(line);

log(`chaos: ${rounds} rounds, seed ${seed}, synchronous ${synchronous}, ${writers} writer(s), faults ${kinds.join(',')}, recovery bound ${boundMs} ms`);
if (unsafe) {
  log('chaos: !!! UNSAFE: the hubs run with self-fencing DISABLED (HUBHA_UNSAFE_DISABLE_FENCING=1). Violations are EXPECTED: this run only shows that the checker catches split brain. !!!');
}

let stopping = false;
const onSignal = (signal: string): void => {
  if (stopping) {
    log(`chaos: ${signal} again: exiting now (the lab's exit hook removes its namespaces and processes)`);
    process.exit(130);
  }
  stopping = true;
  log(`chaos: ${signal}: stopping after the current round`);
};
process.on('SIGINT', () => onSignal('SIGINT'));
process.on('SIGTERM', () => onSignal('SIGTERM'));

const histories = await mkdtemp(join(tmpdir(), 'hubha-chaos-hist-'));
const lc = await LabCluster.start({
  base: 'hubha-chaos',
  subnet: '10.77.30.0/24',
  synchronous,
  ...(unsafe ? { memberEnv: (name: string): Record<string, string> => (name.startsWith('hub') ? { HUBHA_UNSAFE_TESTING: '1', HUBHA_UNSAFE_DISABLE_FENCING: '1' } : {}) } : {}),
});
let violations = 0;
let done = 0;
const results: RoundResult[] = [];
let exitCode = 0;
try {
  const ready = await lc.waitRecovered(120_000);
  await lc.setupWorkload(ready.active);
  log(`chaos: cluster ready in ${secs(Date.now() - t0)} (active ${ready.active}, epoch ${ready.epoch}); cluster dir ${lc.cluster.dir}`);
  const earlierAcks: Ack[] = [];
  const known = new Set<string>();
  const knownLost = new Set<number>();
  for (let round = 1; round <= rounds && !stopping; round++) {
    const rs = roundSeed(seed, round);
    const historyFile = join(histories, `round-${round}.jsonl`);
    let result: RoundResult;
    try {
      result = await runRound(lc, {
        round,
        schedule: () => randomSchedule(prng(rs), { kinds, leaseTtlMs: LAB_TIMINGS.timings!.leaseTtlMs! }),
        historyFile,
        recoveryBoundMs: boundMs,
        earlierAcks,
        knownViolations: known,
        knownLost,
        writerLoops: writers,
      });
    } catch (err) {
      // The round could not even start (the cluster did not recover from the previous one).
      done++;
      violations++;
      log(`round ${round}/${rounds} [seed ${rs}]: could not run: ${err instanceof Error ? err.message : String(err)}`);
      await keep(round, historyFile, [`could not run: ${String(err)}`]);
      break;
    }
    done++;
    results.push(result);
    earlierAcks.push(...result.acks);
    violations += result.violations.length;
    const failover = result.final === null ? 'no active hub' : result.final.active === result.roles.active && result.final.epoch === result.startEpoch ? `no failover (${result.final.active}, epoch ${result.final.epoch})` : `${result.roles.active}(epoch ${result.startEpoch}) -> ${result.final.active}(epoch ${result.final.epoch})`;
    log(
      `round ${round}/${rounds} [seed ${rs}] ${result.described.join('; ')} | window ${secs(result.schedule.windowMs)} | ${failover} | ` +
        `acks ${result.acks.length}, in doubt ${result.inDoubt} | recovery ${result.recoveryMs === null ? 'NONE' : secs(result.recoveryMs)} | ${secs(result.durationMs)} | ` +
        (result.violations.length === 0 ? 'ok' : `${result.violations.length} VIOLATION(S)`),
    );
    for (const n of result.notes) log(`    note: ${n}`);
    for (const info of result.lostInfo) log(`    info: ${info}`);
    for (const v of result.violations) log(`    ${v.kind}: ${v.message}`);
    if (result.violations.length > 0) {
      await keep(round, historyFile, result.violations.map((v) => `${v.kind}: ${v.message}`), result);
      if (result.final === null) {
        log('chaos: the cluster did not recover: stopping the run');
        break;
      }
    }
  }
} catch (err) {
  log(`chaos: run failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  exitCode = 1;
  violations++;
  await keep(done + 1, null, [`run failed: ${String(err)}`]).catch(() => undefined);
} finally {
  await lc.destroy({ keep: false });
  await rm(histories, { recursive: true, force: true });
}
const recoveries = results.map((r) => r.recoveryMs).filter((x): x is number => x !== null).sort((a, b) => a - b);
const failovers = results.filter((r) => r.final !== null && r.final.epoch !== r.startEpoch).length;
log(
  `chaos: ${secs(Date.now() - t0)} wall, ${failovers} round(s) with a failover, ${results.reduce((n, r) => n + r.acks.length, 0)} acks; ` +
    `recovery after heal: median ${recoveries.length === 0 ? '-' : secs(recoveries[Math.floor(recoveries.length / 2)]!)}, max ${recoveries.length === 0 ? '-' : secs(recoveries.at(-1)!)}` +
    (violations > 0 ? `; failing rounds kept in ${keepDir}` : ''),
);
log(`chaos: ${done} rounds, ${violations} violations`);
process.exit(violations > 0 || exitCode !== 0 ? 1 : 0);

/** Keeps a failing round: the cluster directory (logs, configs, Raft data; not PostgreSQL's data), the writer's history, a summary. */
async function keep(round: number, historyFile: string | null, lines: string[], result?: RoundResult): Promise<void> {
  const dir = join(keepDir, `round-${round}`);
  await mkdir(dir, { recursive: true });
  await cp(lc.cluster.dir, join(dir, 'cluster'), {
    recursive: true,
    // Not PostgreSQL's data, its sockets (cp cannot copy them), or the replication password.
    filter: (src) => !/\/hub\d+\/(pg|run)(\/|$)/.test(src.slice(lc.cluster.dir.length)) && !src.endsWith('replication.pass'),
  }).catch((err: unknown) => log(`    (could not copy the cluster dir: ${String(err)})`));
  if (historyFile !== null) await cp(historyFile, join(dir, basename(historyFile))).catch(() => undefined);
  const summary = result === undefined ? { round, lines } : { round, seed, roles: result.roles, schedule: result.schedule, described: result.described, notes: result.notes, violations: result.violations, recoveryMs: result.recoveryMs, final: result.final };
  await writeFile(join(dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
}
