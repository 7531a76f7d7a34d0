import type { HttpResult, HttpServer } from '@hubha/coord';
import type { HubAgent } from '../agent/hub-agent.js';
import { lsnDiff, parseLsn } from '../postgres/lsn.js';

/**
 * Health endpoints in the convention load balancers use (Patroni's): 200 when the check holds,
 * 503 otherwise, with a small JSON body saying why.
 *   GET /primary            the active hub with a running, writable PostgreSQL
 *   GET /replica[?lag=N]    a streaming standby (with lag at most N bytes behind the primary's last report)
 *   GET /health             PostgreSQL is up (any role)
 */
export function registerHubHealthRoutes(http: HttpServer, agent: HubAgent): () => void {
  const offs = [
    http.register('/primary', () => primary(agent)),
    http.register('/replica', (req) => replica(agent, req.query.get('lag'))),
    http.register('/health', () => health(agent)),
  ];
  return () => offs.forEach((off) => off());
}

function primary(agent: HubAgent): HttpResult {
  const status = agent.status();
  const pg = agent.postgresSnapshot();
  const ok = status.role === 'primary' && pg !== null && pg.up && !pg.inRecovery;
  return { status: ok ? 200 : 503, body: { role: status.role, epoch: status.epoch, postgres: pg === null ? 'unknown' : !pg.up ? 'down' : pg.inRecovery ? 'standby' : 'primary' } };
}

function replica(agent: HubAgent, lagParam: string | null): HttpResult {
  const pg = agent.postgresSnapshot();
  if (pg === null || !pg.up || !pg.inRecovery) return { status: 503, body: { replica: false, reason: pg === null ? 'not observed yet' : pg.up ? 'not a standby' : 'postgres down' } };
  const streaming = pg.walReceiver?.status === 'streaming';
  if (!streaming) return { status: 503, body: { replica: false, reason: 'not streaming' } };
  if (lagParam === null) return { status: 200, body: { replica: true } };
  const maxLag = Number(lagParam);
  if (!Number.isSafeInteger(maxLag) || maxLag < 0) return { status: 400, body: { error: 'lag must be a non-negative integer (bytes)' } };
  const active = agent.storeView()?.active ?? null;
  const primaryLsn = active === null ? null : (agent.storeView()?.reports.get(active.name)?.postgres.lsn ?? null);
  const mine = pg.replayLsn;
  if (primaryLsn === null || mine === null) return { status: 503, body: { replica: true, reason: 'lag unknown' } };
  const lagBytes = lsnDiff(parseLsn(primaryLsn), mine);
  const ok = lagBytes <= BigInt(maxLag);
  return { status: ok ? 200 : 503, body: { replica: true, lagBytes: Number(lagBytes > 0n ? lagBytes : 0n) } };
}

function health(agent: HubAgent): HttpResult {
  const pg = agent.postgresSnapshot();
  const up = pg !== null && pg.up;
  return { status: up ? 200 : 503, body: { postgres: up ? 'up' : 'down', role: agent.status().role } };
}
