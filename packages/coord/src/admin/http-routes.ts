import type { HttpResult, HttpServer } from '../http/http-server.js';
import type { AdminService } from './admin-service.js';
import { AdminRefusal, AdminUnavailableError } from './admin-service.js';
import { statusToJson } from './wire.js';

export const STATUS_PATH = '/v1/status';
export const HISTORY_PATH = '/v1/history';

function flag(query: URLSearchParams, name: string): boolean | null {
  const value = query.get(name);
  if (value === null) return false;
  if (value === '' || value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  return null;
}

function failure(err: unknown): HttpResult {
  if (err instanceof AdminUnavailableError) return { status: 503, body: { error: 'unavailable', reason: err.reason, message: err.message }, headers: { 'retry-after': '1' } };
  if (err instanceof AdminRefusal) return { status: err.kind === 'invalid-argument' ? 400 : 409, body: { error: err.code, message: err.message } };
  throw err;
}

/**
 * GET /v1/status[?serializable=true]: the ClusterStatus as JSON (200 whatever the HA state: the
 * body says it), 503 when the member cannot answer. GET /v1/history[?limit=N]: the failover
 * history, oldest first.
 */
export function registerAdminRoutes(server: HttpServer, admin: AdminService): () => void {
  const offStatus = server.register(STATUS_PATH, async (request) => {
    const serializable = flag(request.query, 'serializable');
    if (serializable === null) return { status: 400, body: { error: 'bad-request', message: 'serializable must be true or false' } };
    try {
      return { status: 200, body: statusToJson(await admin.status({ serializable })) };
    } catch (err: unknown) {
      return failure(err);
    }
  });
  const offHistory = server.register(HISTORY_PATH, async (request) => {
    const serializable = flag(request.query, 'serializable');
    const limitText = request.query.get('limit') ?? '0';
    const limit = Number(limitText);
    if (serializable === null || !Number.isSafeInteger(limit) || limit < 0) return { status: 400, body: { error: 'bad-request', message: 'serializable must be true or false, limit a non-negative integer' } };
    try {
      const { entries, read } = await admin.history({ serializable, limit });
      return { status: 200, body: { entries, servedBy: admin.id, revision: read.revision, linearizable: read.linearizable } };
    } catch (err: unknown) {
      return failure(err);
    }
  });
  return () => {
    offStatus();
    offHistory();
  };
}
