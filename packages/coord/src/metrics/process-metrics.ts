import { Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Node's process metrics (CPU, memory, event-loop lag, GC, file descriptors), prefixed `hubha_`.
 *
 * One registry for the whole process, made on first use: these describe the process, not a
 * member, and several members run in one process in tests. prom-client's collectors cannot be
 * stopped (a GC observer and an event-loop delay monitor per call), so collecting them once per
 * member would leak one set for every member ever started.
 */

export const PROCESS_METRICS_PREFIX = 'hubha_';

let processRegistry: Registry | null = null;

/** The process-wide registry of the default metrics. */
export function processMetricsRegistry(): Registry {
  if (processRegistry === null) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: PROCESS_METRICS_PREFIX });
  }
  return processRegistry;
}
