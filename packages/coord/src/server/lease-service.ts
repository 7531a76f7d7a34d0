import type * as grpc from '@grpc/grpc-js';
import type { hubha } from '@hubha/proto/coord';
import { leaseInfoToWire } from '../state/codec.js';
import type { LeaseGrantResult, LeaseReleaseResult, LeaseRenewResult } from '../state/types.js';
import type { CoordNode } from './coord-node.js';
import { header, mutate, readable, unary } from './rpc-util.js';

/**
 * Keep-alives go through the Raft log: each renewal is an entry, so every replica agrees on the
 * renew count and the leader's timer restarts from the apply (see lease-rule.ts).
 */
export const KEEPALIVE_THROUGH_RAFT = true;

export function leaseHandlers(node: CoordNode): grpc.UntypedServiceImplementation {
  return {
    Grant: unary<hubha.coord.LeaseGrantRequest, hubha.coord.LeaseGrantResponse.$Properties>(async (req) => {
      const result = (await mutate(node, req.clientId, req.seq, { leaseGrant: { name: req.name, holder: req.holder, ttlMs: req.ttlMs, metadata: req.metadata } })) as LeaseGrantResult;
      return { header: header(node, false, result.revision), granted: result.granted, lease: leaseInfoToWire(result.lease) };
    }),
    KeepAlive: unary<hubha.coord.LeaseKeepAliveRequest, hubha.coord.LeaseKeepAliveResponse.$Properties>(async (req) => {
      const result = (await mutate(node, req.clientId, req.seq, {
        leaseRenew: { name: req.name, holder: req.holder, epoch: req.epoch, updateMetadata: req.updateMetadata, metadata: req.metadata },
      })) as LeaseRenewResult;
      return { header: header(node, false, result.revision), renewed: result.renewed, ...(result.lease === null ? {} : { lease: leaseInfoToWire(result.lease) }) };
    }),
    Release: unary<hubha.coord.LeaseReleaseRequest, hubha.coord.LeaseReleaseResponse.$Properties>(async (req) => {
      const result = (await mutate(node, req.clientId, req.seq, { leaseRelease: { name: req.name, holder: req.holder, epoch: req.epoch } })) as LeaseReleaseResult;
      return { header: header(node, false, result.revision), released: result.released, deleted: result.deleted, ...(result.lease === null ? {} : { lease: leaseInfoToWire(result.lease) }) };
    }),
    List: unary<hubha.coord.LeaseListRequest, hubha.coord.LeaseListResponse.$Properties>(async (req) => {
      await readable(node, req.serializable);
      const leading = node.raft.isLeader();
      const now = node.scheduler.now();
      return {
        header: header(node, req.serializable),
        leases: node.state.leases(req.prefix).map((lease) => {
          const deadline = leading ? node.leaseTimer.deadlineMs(lease.name) : undefined;
          return { lease: leaseInfoToWire(lease), ...(deadline === undefined ? {} : { remainingMs: Math.max(0, Math.round(deadline - now)) }) };
        }),
      };
    }),
  };
}
