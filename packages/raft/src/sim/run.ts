import { emptySimStats } from './options.js';
import { SeededPrng } from '../core/prng.js';
import { SimCluster } from './cluster.js';
import { SimViolation } from './invariants.js';
import { checkLiveness } from './liveness.js';
import type { SimOptions, SimResult, SimViolationReport } from './options.js';
import { DEFAULT_STEPS, DEFAULT_TRACE_LINES } from './options.js';
import { drawProfile, nextAction } from './schedule.js';

/**
 * One simulated run: a pure function of its options (seed first). Faults and workload for
 * `steps` steps with the invariants checked after each, then the liveness phase.
 */
export function runSeed(options: SimOptions): SimResult {
  const seed = options.seed;
  const nodes = options.nodes ?? (seed % 2 === 0 ? 3 : 5);
  const steps = options.steps ?? DEFAULT_STEPS;
  const bug = options.bug ?? null;
  const prng = new SeededPrng(seed);
  const profile = drawProfile(prng, bug);
  let cluster: SimCluster | null = null;
  let violation: SimViolationReport | null = null;
  try {
    cluster = new SimCluster(nodes, bug, profile, prng, Math.max(400, (options.traceLines ?? DEFAULT_TRACE_LINES) * 10));
    cluster.sweep();
    for (let step = 1; step <= steps; step++) {
      cluster.step = step;
      const action = nextAction(prng, profile, {
        crashed: cluster.crashedNodes().length,
        running: cluster.liveNodes().length,
        maxDown: Math.floor((nodes - 1) / 2),
        partitioned: cluster.net.isPartitioned(),
        hasLeader: cluster.currentLeader() !== undefined,
      });
      cluster.perform(action);
      cluster.sweep();
    }
    cluster.step = steps + 1;
    cluster.deepCheck();
    if (options.liveness !== false) {
      cluster.stats.livenessTicks = checkLiveness(cluster);
      cluster.deepCheck();
    }
  } catch (error) {
    violation = toReport(error, cluster);
  }
  const stats = cluster?.stats ?? emptySimStats();
  if (cluster !== null) {
    stats.steps = Math.min(cluster.step, steps);
    stats.acked = cluster.checker.counts.acked;
    stats.leaders = cluster.checker.counts.leaders;
    stats.readsServed = cluster.checker.counts.readsServed;
    stats.highestCommitted = cluster.checker.highestCommitted();
    stats.delivered = cluster.net.stats.delivered;
    stats.dropped += cluster.net.stats.dropped + cluster.net.stats.blocked + cluster.net.stats.overflow;
    if (violation === null) for (const line of cluster.describeNodes()) cluster.trace.mix(line);
  }
  return {
    seed,
    nodes,
    steps,
    bug,
    violation,
    trace: cluster?.trace.format(options.traceLines ?? DEFAULT_TRACE_LINES) ?? [],
    digest: cluster?.trace.digest ?? 'none',
    stats,
  };
}

function toReport(error: unknown, cluster: SimCluster | null): SimViolationReport {
  const step = cluster?.step ?? 0;
  const time = cluster?.time ?? 0;
  if (error instanceof SimViolation) return { invariant: error.invariant, detail: error.detail, step, time };
  if (error instanceof Error) {
    const frames = (error.stack ?? '').split('\n').slice(1, 4).map((l) => l.trim()).join(' < ');
    return { invariant: 'core-exception', detail: `${error.name}: ${error.message} at ${frames}`, step, time };
  }
  return { invariant: 'core-exception', detail: String(error), step, time };
}


/** A violation as printable lines: seed, invariant, detail and the trace. */
export function formatViolation(result: SimResult): string[] {
  const v = result.violation;
  if (v === null) return [];
  return [
    `VIOLATION seed=${result.seed} nodes=${result.nodes}${result.bug === null ? '' : ` bug=${result.bug}`} invariant=${v.invariant} at step ${v.step} (t=${v.time})`,
    `  ${v.detail}`,
    `  replay: npm run sim -- --seeds 1 --seed-start ${result.seed} --nodes ${result.nodes} --steps ${result.steps}${result.bug === null ? '' : ` --bug ${result.bug}`}`,
    '  trace (last events, heartbeats omitted):',
    ...result.trace.map((line) => `    ${line}`),
  ];
}
