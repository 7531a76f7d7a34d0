import type { ResolvedBackoff } from './options.js';

/**
 * The delay before reconnect attempt number `failures` (1 after the first failure):
 * initialMs · 2^(failures-1), capped at maxMs, then scaled by a random factor in
 * [1 - jitter, 1 + jitter] so that peers that lost each other at once do not retry in lockstep.
 */
export function backoffDelay(failures: number, backoff: ResolvedBackoff, random: () => number): number {
  const exponent = Math.max(0, Math.min(failures - 1, 30));
  const base = Math.min(backoff.maxMs, backoff.initialMs * 2 ** exponent);
  const factor = 1 + backoff.jitter * (2 * random() - 1);
  return Math.max(0, Math.round(base * factor));
}
