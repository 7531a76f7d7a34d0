export { NodeMetrics } from './node-metrics.js';
export type { LocalRaftView, MetricsSource } from './node-metrics.js';
export { ClusterMetrics, FAILOVER_KINDS } from './cluster-metrics.js';
export { PROCESS_METRICS_PREFIX, processMetricsRegistry } from './process-metrics.js';
export { adminMetricsSource } from './admin-source.js';
