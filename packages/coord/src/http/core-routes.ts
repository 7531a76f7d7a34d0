import { answerToJson } from '../discovery/answer.js';
import type { ActiveHubReader } from '../discovery/reader.js';
import { DiscoveryUnavailableError } from '../discovery/reader.js';
import type { HttpResult, HttpServer } from './http-server.js';

/** The core routes' paths. */
export const ACTIVE_HUB_PATH = '/v1/active-hub';
export const LIVENESS_PATH = '/liveness';
export const READINESS_PATH = '/readiness';

/** What readiness needs of a member (CoordNode has it). */
export interface ReadinessHost {
  readonly id: string;
  readonly raft: {
    status(): { readonly leader: string; readonly term: number; readonly commit: number; readonly applied: number; readonly failed: string | null };
  };
}

function flag(query: URLSearchParams, name: string): boolean | null {
  const value = query.get(name);
  if (value === null) return false;
  if (value === '' || value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  return null;
}

/** GET /v1/active-hub[?serializable=true]: 200 present, 404 absent, 503 the member cannot answer. */
export async function activeHubRoute(reader: ActiveHubReader, query: URLSearchParams): Promise<HttpResult> {
  const serializable = flag(query, 'serializable');
  if (serializable === null) return { status: 400, body: { error: 'bad-request', message: 'serializable must be true or false' } };
  try {
    const answer = await reader.read({ serializable });
    return { status: answer.present ? 200 : 404, body: answerToJson(answer) };
  } catch (err: unknown) {
    if (err instanceof DiscoveryUnavailableError) return { status: 503, body: { error: 'unavailable', reason: err.reason, message: err.message }, headers: { 'retry-after': '1' } };
    throw err;
  }
}

/** 200 when the member knows a leader and has applied everything it knows to be committed. */
export function readinessRoute(host: ReadinessHost): HttpResult {
  const status = host.raft.status();
  const body = { member: host.id, leader: status.leader === '' ? null : status.leader, term: status.term, commit: status.commit, applied: status.applied };
  let reason: string | null = null;
  if (status.failed !== null) reason = 'failed';
  else if (status.leader === '') reason = 'no-leader';
  else if (status.applied < status.commit) reason = 'applying';
  return reason === null ? { status: 200, body: { ready: true, ...body } } : { status: 503, body: { ready: false, reason, ...body } };
}

/**
 * Registers GET /v1/active-hub, /liveness (200 while this process's event loop turns: answering
 * at all is the proof) and /readiness.
 */
export function registerCoreRoutes(server: HttpServer, host: ReadinessHost, reader: ActiveHubReader): void {
  const started = Date.now();
  server.register(ACTIVE_HUB_PATH, (request) => activeHubRoute(reader, request.query));
  server.register(LIVENESS_PATH, () => ({ status: 200, body: { alive: true, member: host.id, uptimeSeconds: Math.floor((Date.now() - started) / 1000) } }));
  server.register(READINESS_PATH, () => readinessRoute(host));
}
