import * as grpc from '@grpc/grpc-js';
import type { CoordErrorCode } from '../state/types.js';

/**
 * Codes of CoordClientError, stable strings:
 *  - the server's refusal codes (the "hubha-error-code" trailing metadata; the state machine's are
 *    CoordErrorCode, the servers add a few of their own, e.g. for membership changes);
 *  - 'unavailable': no member could serve the request before the deadline (no leader, every
 *    endpoint unreachable). After a mutation, the outcome is unknown (it may have been applied);
 *  - 'timeout': the deadline passed while a request was outstanding. After a mutation, the outcome
 *    is unknown;
 *  - 'closed': the client (or session) was closed;
 *  - 'compacted': a watch's start revision is older than the server's event history;
 *  - 'queue-full': the session already has maxQueuedMutations mutations waiting;
 *  - 'invalid-argument': refused locally before sending (or by the server without a code);
 *  - 'malformed-response': the server's answer did not decode to valid values;
 *  - other gRPC statuses without a hubha code, in kebab case: 'resource-exhausted',
 *    'permission-denied', 'unauthenticated', 'unimplemented', 'internal', 'unknown', ...
 */
export type CoordClientErrorCode =
  | CoordErrorCode
  | 'unavailable'
  | 'timeout'
  | 'closed'
  | 'compacted'
  | 'queue-full'
  | 'invalid-argument'
  | 'malformed-response'
  | 'resource-exhausted'
  | 'permission-denied'
  | 'unauthenticated'
  | 'unimplemented'
  | 'internal'
  | 'unknown';

export interface CoordClientErrorDetails {
  readonly cause?: unknown;
  /** The gRPC status of the answer that caused the error, when there was one. */
  readonly grpcStatus?: grpc.status;
  /** The endpoint that gave that answer. */
  readonly endpoint?: string;
  /** For 'compacted': the server's compact revision (watch again after it). */
  readonly compactRevision?: number;
}

/** Every failure of the client's API. `code` is stable; `message` is for people. */
export class CoordClientError extends Error {
  override readonly name = 'CoordClientError';
  readonly code: CoordClientErrorCode | (string & {});
  readonly grpcStatus: grpc.status | null;
  readonly endpoint: string | null;
  readonly compactRevision: number | null;

  constructor(code: CoordClientErrorCode | (string & {}), message: string, details: CoordClientErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.grpcStatus = details.grpcStatus ?? null;
    this.endpoint = details.endpoint ?? null;
    this.compactRevision = details.compactRevision ?? null;
  }
}

export function isCoordClientError(err: unknown, code?: string): err is CoordClientError {
  return err instanceof CoordClientError && (code === undefined || err.code === code);
}

/** 'RESOURCE_EXHAUSTED' → 'resource-exhausted'. */
export function statusCodeName(status: number): string {
  const name = (grpc.status as unknown as Record<number, string | undefined>)[status];
  return name === undefined ? `grpc-status-${status}` : name.toLowerCase().replace(/_/g, '-');
}

export function invalidArgument(message: string): CoordClientError {
  return new CoordClientError('invalid-argument', message);
}

export function closedError(what = 'the client is closed'): CoordClientError {
  return new CoordClientError('closed', what);
}
