import { availableParallelism } from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { LIVENESS_BOUND_TICKS } from './liveness.js';
import type { BugName, SimResult } from './options.js';
import { BUG_NAMES, DEFAULT_STEPS, isBugName } from './options.js';
import { formatViolation, runSeed } from './run.js';

/**
 * `node dist/sim/cli.js --seeds N [--seed-start S] [--steps K] [--nodes 3|5] [--bug NAME]
 *  [--workers W]` — runs N seeds (each deterministic: the same seed replays the same run),
 * spread over worker threads. Prints every violation (seed, invariant, trace) and ends with
 * exactly `sim: <N> seeds, <V> violations`; exits 1 when V > 0.
 */

interface CliOptions {
  seeds: number;
  seedStart: number;
  steps: number;
  nodes: 3 | 5 | undefined;
  bug: BugName | null;
  workers: number;
}

interface WorkerJob {
  seeds: number[];
  steps: number;
  nodes: 3 | 5 | undefined;
  bug: BugName | null;
}

/** What a worker sends back per seed (the full result is small). */
type WorkerMessage = { kind: 'result'; result: SimResult } | { kind: 'done' };

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: cli.js --seeds N [--seed-start S] [--steps K] [--nodes 3|5] [--bug ${BUG_NAMES.join('|')}] [--workers W]\n`);
  process.exit(2);
}

function parseArgs(argv: readonly string[]): CliOptions {
  const options: CliOptions = { seeds: 100, seedStart: 1, steps: DEFAULT_STEPS, nodes: undefined, bug: null, workers: Math.max(1, availableParallelism()) };
  const int = (name: string, value: string | undefined, min: number): number => {
    const n = Number(value);
    if (value === undefined || !Number.isInteger(n) || n < min) usage(`${name} needs an integer >= ${min}, got ${value ?? 'nothing'}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = argv[i + 1];
    switch (arg) {
      case '--seeds':
        options.seeds = int(arg, value, 1);
        i++;
        break;
      case '--seed-start':
        options.seedStart = int(arg, value, 0);
        i++;
        break;
      case '--steps':
        options.steps = int(arg, value, 0);
        i++;
        break;
      case '--nodes': {
        const n = int(arg, value, 3);
        if (n !== 3 && n !== 5) usage('--nodes must be 3 or 5');
        options.nodes = n;
        i++;
        break;
      }
      case '--bug':
        if (value === undefined || !isBugName(value)) usage(`--bug must be one of ${BUG_NAMES.join(', ')}`);
        options.bug = value;
        i++;
        break;
      case '--workers':
        options.workers = int(arg, value, 1);
        i++;
        break;
      case '--help':
      case '-h':
        usage('');
        break;
      default:
        usage(`unknown argument ${arg}`);
    }
  }
  return options;
}

function runJob(job: WorkerJob, emit: (result: SimResult) => void): void {
  for (const seed of job.seeds) {
    emit(runSeed({ seed, steps: job.steps, bug: job.bug, ...(job.nodes === undefined ? {} : { nodes: job.nodes }) }));
  }
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const started = process.hrtime.bigint();
  const seeds = Array.from({ length: options.seeds }, (_, k) => options.seedStart + k);
  const workers = Math.min(options.workers, seeds.length);
  const results: SimResult[] = [];
  if (workers <= 1) {
    runJob({ seeds, steps: options.steps, nodes: options.nodes, bug: options.bug }, (r) => results.push(r));
  } else {
    await Promise.all(
      Array.from({ length: workers }, (_, w) => {
        const job: WorkerJob = { seeds: seeds.filter((_, k) => k % workers === w), steps: options.steps, nodes: options.nodes, bug: options.bug };
        return new Promise<void>((resolve, reject) => {
          const worker = new Worker(new URL(import.meta.url), { workerData: job });
          worker.on('message', (message: WorkerMessage) => {
            if (message.kind === 'result') results.push(message.result);
          });
          worker.on('error', reject);
          worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker ${w} exited with code ${code}`))));
        });
      }),
    );
  }
  results.sort((a, b) => a.seed - b.seed);
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;

  const violations = results.filter((r) => r.violation !== null);
  for (const r of violations) console.log(formatViolation(r).join('\n'));

  const live = results.map((r) => r.stats.livenessTicks).filter((t) => t >= 0).sort((a, b) => a - b);
  const sum = (f: (r: SimResult) => number): number => results.reduce((acc, r) => acc + f(r), 0);
  const pct = (p: number): number => live[Math.min(live.length - 1, Math.floor((live.length * p) / 100))] ?? -1;
  console.log(
    `sim: ${options.steps} steps/seed, nodes ${options.nodes ?? '3/5 alternating'}${options.bug === null ? '' : `, bug ${options.bug}`}, ${workers} worker(s), ${elapsed.toFixed(1)}s (${((elapsed * 1000) / Math.max(1, results.length)).toFixed(1)} ms/seed wall)`,
  );
  if (live.length > 0) {
    const slowest = results.reduce((a, b) => (b.stats.livenessTicks > a.stats.livenessTicks ? b : a));
    console.log(
      `sim: liveness ticks after healing: median ${pct(50)}, p99 ${pct(99)}, max ${live[live.length - 1]} (seed ${slowest.seed}; bound ${LIVENESS_BOUND_TICKS})`,
    );
  }
  console.log(
    `sim: totals: proposals ${sum((r) => r.stats.proposals)}, acked ${sum((r) => r.stats.acked)}, leaders ${sum((r) => r.stats.leaders)}, crashes ${sum((r) => r.stats.crashes)}, partitions ${sum((r) => r.stats.partitions)}, conf changes ${sum((r) => r.stats.confChanges)}, transfers ${sum((r) => r.stats.transfers)}, reads ${sum((r) => r.stats.readsServed)}, snapshots ${sum((r) => r.stats.snapshotsCreated)}/${sum((r) => r.stats.snapshotsInstalled)} installed`,
  );
  console.log(`sim: ${results.length} seeds, ${violations.length} violations`);
  process.exitCode = violations.length > 0 ? 1 : 0;
}

if (isMainThread) {
  main().catch((error: unknown) => {
    process.stderr.write(`sim: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(2);
  });
} else {
  const port = parentPort!;
  runJob(workerData as WorkerJob, (result) => port.postMessage({ kind: 'result', result } satisfies WorkerMessage));
}
