import { describe, expect, it } from 'vitest';
import { formatViolation, runSeed } from '../src/sim/index.js';
import type { SimResult } from '../src/sim/index.js';

const SEEDS = 100;

function report(results: readonly SimResult[]): string {
  return results.flatMap((r) => formatViolation(r)).join('\n');
}

describe('deterministic simulation', () => {
  it(`keeps every safety invariant and recovers liveness on ${SEEDS} seeds (3 and 5 nodes)`, () => {
    const results: SimResult[] = [];
    for (let seed = 1; seed <= SEEDS; seed++) results.push(runSeed({ seed }));
    const failed = results.filter((r) => r.violation !== null);
    expect(failed.map((r) => r.seed), report(failed)).toEqual([]);
    // both cluster sizes ran, and the runs actually did something
    expect(new Set(results.map((r) => r.nodes))).toEqual(new Set([3, 5]));
    const total = (f: (r: SimResult) => number): number => results.reduce((sum, r) => sum + f(r), 0);
    expect(total((r) => r.stats.acked)).toBeGreaterThan(SEEDS * 10);
    expect(total((r) => r.stats.crashes)).toBeGreaterThan(SEEDS);
    expect(total((r) => r.stats.partitions)).toBeGreaterThan(SEEDS / 2);
    expect(total((r) => r.stats.confChanges)).toBeGreaterThan(SEEDS / 2);
    expect(total((r) => r.stats.snapshotsInstalled)).toBeGreaterThan(0);
    expect(total((r) => r.stats.readsServed)).toBeGreaterThan(0);
    for (const r of results) expect(r.stats.livenessTicks).toBeGreaterThan(0);
  });

  it('replays a seed exactly', () => {
    for (const seed of [7, 8]) {
      const a = runSeed({ seed, traceLines: 200 });
      const b = runSeed({ seed, traceLines: 200 });
      expect(b.digest).toBe(a.digest);
      expect(b.trace).toEqual(a.trace);
      expect(b.stats).toEqual(a.stats);
      expect(b.violation).toEqual(a.violation);
    }
  });

  it('gives different seeds different runs', () => {
    const digests = new Set([1, 2, 3, 4].map((seed) => runSeed({ seed, steps: 300 }).digest));
    expect(digests.size).toBe(4);
  });

  it('honours the cluster size and step count', () => {
    const r = runSeed({ seed: 11, nodes: 3, steps: 150, liveness: false });
    expect(r.nodes).toBe(3);
    expect(r.steps).toBe(150);
    expect(r.stats.livenessTicks).toBe(-1);
  });
});
