import * as grpc from '@grpc/grpc-js';
import type { hubha } from '@hubha/proto/coord';
import { hubha as pbRoot } from '@hubha/proto/coord';
import { decodeRequestStaged } from '../state/codec.js';
import type { CommandResult } from '../state/types.js';
import type { CoordNode } from './coord-node.js';
import { RpcError, errorResultToRpc, invalidArgument, outcomeToRpc, unavailable } from './rpc-errors.js';

const pb = pbRoot.coord;

/** A decoded uint64 request field as a safe JS number; INVALID_ARGUMENT otherwise. */
export function requestU64(value: unknown, field: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === 'object') {
    const { low, high } = value as { low?: unknown; high?: unknown };
    if (typeof low === 'number' && typeof high === 'number' && high >>> 0 <= 0x1f_ffff) return (high >>> 0) * 0x1_0000_0000 + (low >>> 0);
  }
  throw invalidArgument('invalid-argument', `${field} must be a non-negative integer below 2^53`);
}

/** The response header; `revision` defaults to the store's (a mutation passes its own). */
export function header(node: CoordNode, serializable: boolean, revision: number = node.state.revision): hubha.coord.ResponseHeader.$Properties {
  const status = node.raft.status();
  return {
    clusterId: node.clusterId,
    member: node.id,
    revision,
    raftTerm: status.term,
    leader: status.leader,
    serializable,
  };
}

/** Wraps an async handler as a grpc-js unary handler; RpcErrors become statuses, faults INTERNAL. */
export function unary<Req, Res>(handler: (request: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    handler(call.request, call).then(
      (response) => callback(null, response),
      (err: unknown) => {
        if (err instanceof RpcError) callback(err.toServiceError());
        else callback({ code: grpc.status.INTERNAL, details: err instanceof Error ? err.message : String(err) });
      },
    );
  };
}

/**
 * Validates and replicates one mutation, resolving with its applied result. Refusals (invalid,
 * not leader, lease checks) are thrown as RpcErrors and change nothing.
 */
export async function mutate(node: CoordNode, clientId: string, seq: unknown, command: hubha.coord.Command.$Properties): Promise<CommandResult> {
  const wire = pb.Request.encode({ clientId, seq: requestU64(seq, 'seq'), command }).finish();
  const decoded = decodeRequestStaged(wire);
  if (decoded.stage !== 'ok') throw errorResultToRpc(decoded.error);
  if (!node.raft.isLeader()) throw unavailable(node, 'not-leader');
  const outcome = await node.raft.propose(wire);
  if (!outcome.ok) throw outcomeToRpc(node, outcome);
  const result = outcome.result.result;
  if (result === null) throw new RpcError(grpc.status.INTERNAL, 'the state machine returned no result for a command');
  if (result.type === 'error') throw errorResultToRpc(result);
  return result;
}

/** Waits until reading the local state is linearizable (unless serializable was asked for). */
export async function readable(node: CoordNode, serializable: boolean): Promise<void> {
  if (serializable) return;
  const outcome = await node.readBarrier();
  if (!outcome.ok) throw outcomeToRpc(node, outcome);
}
