/** Nearest-rank percentile of sorted values (p in (0, 100]). */
export function nearestRank(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

export function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function latencySummary(latenciesMs: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  return { p50: round(nearestRank(sorted, 50)), p99: round(nearestRank(sorted, 99)), max: round(sorted[sorted.length - 1] ?? 0) };
}
