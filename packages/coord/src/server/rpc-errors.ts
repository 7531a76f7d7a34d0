import * as grpc from '@grpc/grpc-js';
import type { ProposeOutcome, ReadOutcome } from '@hubha/raft';
import { METADATA_ERROR_CODE, METADATA_LEADER, METADATA_LEADER_ENDPOINT } from '../rpc/definitions.js';
import type { ErrorResult } from '../state/types.js';
import type { CoordNode } from './coord-node.js';

/** A refusal to send back as a gRPC status, with the conventions' trailing metadata. */
export class RpcError extends Error {
  constructor(
    readonly status: grpc.status,
    message: string,
    readonly metadata: grpc.Metadata = new grpc.Metadata(),
  ) {
    super(message);
    this.name = 'RpcError';
  }

  toServiceError(): Partial<grpc.ServiceError> {
    return { code: this.status, details: this.message, metadata: this.metadata };
  }
}

/** Codes that describe the state, not the request: FAILED_PRECONDITION; the rest INVALID_ARGUMENT. */
const PRECONDITION_CODES: ReadonlySet<string> = new Set(['stale-sequence', 'lease-not-held', 'lease-epoch-mismatch', 'too-many-leases']);

export function errorResultToRpc(error: ErrorResult): RpcError {
  const metadata = new grpc.Metadata();
  metadata.set(METADATA_ERROR_CODE, error.code);
  return new RpcError(PRECONDITION_CODES.has(error.code) ? grpc.status.FAILED_PRECONDITION : grpc.status.INVALID_ARGUMENT, `${error.code}: ${error.message}`, metadata);
}

export function invalidArgument(code: string, message: string): RpcError {
  const metadata = new grpc.Metadata();
  metadata.set(METADATA_ERROR_CODE, code);
  return new RpcError(grpc.status.INVALID_ARGUMENT, `${code}: ${message}`, metadata);
}

export function failedPrecondition(code: string, message: string): RpcError {
  const metadata = new grpc.Metadata();
  metadata.set(METADATA_ERROR_CODE, code);
  return new RpcError(grpc.status.FAILED_PRECONDITION, `${code}: ${message}`, metadata);
}

/** UNAVAILABLE with where the leader is, so the client can go there. */
export function unavailable(node: CoordNode, reason: string): RpcError {
  const metadata = new grpc.Metadata();
  metadata.set(METADATA_ERROR_CODE, reason);
  const leader = node.raft.leader();
  if (leader !== '' && leader !== node.id) {
    metadata.set(METADATA_LEADER, leader);
    const endpoint = node.clientAddressOf(leader);
    if (endpoint !== null) metadata.set(METADATA_LEADER_ENDPOINT, endpoint);
  }
  return new RpcError(grpc.status.UNAVAILABLE, `${reason}${leader === '' ? ' (no leader known)' : ` (leader: ${leader})`}`, metadata);
}

/** Maps a refused or unresolved proposal / read to the status a client can act on. */
export function outcomeToRpc(node: CoordNode, outcome: Exclude<ProposeOutcome<unknown> | ReadOutcome, { ok: true }>): RpcError {
  switch (outcome.reason) {
    case 'timeout':
    case 'outcome-unknown': {
      const metadata = new grpc.Metadata();
      metadata.set(METADATA_ERROR_CODE, outcome.reason);
      // The request may have been applied: retry with the same client id and seq.
      return new RpcError(grpc.status.DEADLINE_EXCEEDED, `${outcome.reason}: the request may or may not have been applied; retry it with the same seq`, metadata);
    }
    case 'overloaded':
    case 'too-many-uncommitted-bytes': {
      const metadata = new grpc.Metadata();
      metadata.set(METADATA_ERROR_CODE, outcome.reason);
      return new RpcError(grpc.status.RESOURCE_EXHAUSTED, outcome.reason, metadata);
    }
    default:
      return unavailable(node, outcome.reason);
  }
}
