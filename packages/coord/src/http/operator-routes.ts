import type { Logger } from 'pino';
import { loadDashboardPage } from '../dashboard/page.js';
import type { NodeMetrics } from '../metrics/node-metrics.js';
import type { HttpServer } from './http-server.js';

export const METRICS_PATH = '/metrics';
export const DASHBOARD_PATH = '/';

/**
 * Registers GET /metrics (Prometheus text, computed at scrape time) and GET / (the status page).
 * The page is read on its first request, not at start: a member whose page files are missing
 * must still run and answer everything else; it logs the problem and answers 500 for the page.
 */
export function registerOperatorRoutes(server: HttpServer, metrics: NodeMetrics, logger: Logger): () => void {
  const offMetrics = server.register(METRICS_PATH, async () => ({ status: 200, text: { contentType: metrics.contentType, content: await metrics.render() } }));
  const offDashboard = server.register(DASHBOARD_PATH, async () => {
    const page = await loadDashboardPage().catch((err: unknown) => {
      logger.error({ err }, 'the status page cannot be served');
      return null;
    });
    if (page === null) return { status: 500, body: { error: 'status-page-unavailable', message: 'the status page files cannot be read: see the member’s log' } };
    return {
      status: 200,
      text: { contentType: 'text/html; charset=utf-8', content: page.html },
      headers: { 'content-security-policy': page.contentSecurityPolicy, 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer' },
    };
  });
  return () => {
    offMetrics();
    offDashboard();
  };
}
