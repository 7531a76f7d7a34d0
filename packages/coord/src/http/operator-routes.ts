import type { NodeMetrics } from '../metrics/node-metrics.js';
import type { HttpServer } from './http-server.js';

export const METRICS_PATH = '/metrics';

/** Registers GET /metrics (Prometheus text, computed at scrape time). */
export function registerOperatorRoutes(server: HttpServer, metrics: NodeMetrics): () => void {
  return server.register(METRICS_PATH, async () => ({ status: 200, text: { contentType: metrics.contentType, content: await metrics.render() } }));
}
