import type * as grpc from '@grpc/grpc-js';
import { status as grpcStatus } from '@grpc/grpc-js';
import type { hubha } from '@hubha/proto/coord';
import { keyValueToWire, resultToWire } from '../state/codec.js';
import { MAX_RANGE_LIMIT } from '../state/limits.js';
import type { CommandResult, DeleteResult, PutResult, TxnResult } from '../state/types.js';
import type { CoordNode } from './coord-node.js';
import { RpcError } from './rpc-errors.js';
import { header, mutate, readable, unary } from './rpc-util.js';

function expect<T extends CommandResult['type']>(result: CommandResult, type: T): Extract<CommandResult, { type: T }> {
  if (result.type !== type) throw new RpcError(grpcStatus.INTERNAL, `unexpected result ${result.type} for a ${type}`);
  return result as Extract<CommandResult, { type: T }>;
}

export function kvHandlers(node: CoordNode): grpc.UntypedServiceImplementation {
  return {
    Put: unary<hubha.coord.PutRequest, hubha.coord.PutResponse.$Properties>(async (req) => {
      const result = expect(await mutate(node, req.clientId, req.seq, { put: { key: req.key, value: req.value, ...(req.lease ? { lease: req.lease } : {}), prevKv: req.prevKv } }), 'put') as PutResult;
      return { header: header(node, false, result.revision), ...(result.prevKv === null ? {} : { prevKv: keyValueToWire(result.prevKv) }) };
    }),
    Get: unary<hubha.coord.GetRequest, hubha.coord.GetResponse.$Properties>(async (req) => {
      await readable(node, req.serializable);
      const kv = node.state.get(req.key);
      return { header: header(node, req.serializable), ...(kv === null ? {} : { kv: keyValueToWire(kv) }) };
    }),
    Range: unary<hubha.coord.RangeRequest, hubha.coord.RangeResponse.$Properties>(async (req) => {
      await readable(node, req.serializable);
      const limit = req.limit > 0 && req.limit <= MAX_RANGE_LIMIT ? req.limit : MAX_RANGE_LIMIT;
      const { kvs, more } = node.state.range(req.prefix, limit, req.startAfter === '' ? undefined : req.startAfter);
      return { header: header(node, req.serializable), kvs: kvs.map(keyValueToWire), more };
    }),
    Delete: unary<hubha.coord.DeleteRequest, hubha.coord.DeleteResponse.$Properties>(async (req) => {
      const result = expect(await mutate(node, req.clientId, req.seq, { delete: { key: req.key, prevKv: req.prevKv } }), 'delete') as DeleteResult;
      return { header: header(node, false, result.revision), deleted: result.deleted, prevKvs: result.prevKvs.map(keyValueToWire) };
    }),
    DeleteRange: unary<hubha.coord.DeleteRangeRequest, hubha.coord.DeleteRangeResponse.$Properties>(async (req) => {
      const result = expect(await mutate(node, req.clientId, req.seq, { deleteRange: { prefix: req.prefix, prevKv: req.prevKv } }), 'delete-range') as DeleteResult;
      return { header: header(node, false, result.revision), deleted: result.deleted, prevKvs: result.prevKvs.map(keyValueToWire) };
    }),
    Txn: unary<hubha.coord.TxnRequest, hubha.coord.TxnResponse.$Properties>(async (req) => {
      const result = expect(await mutate(node, req.clientId, req.seq, { txn: { compare: req.compare, success: req.success, failure: req.failure } }), 'txn') as TxnResult;
      return { header: header(node, false, result.revision), succeeded: result.succeeded, results: resultToWire(result).txn?.results ?? [] };
    }),
  };
}

