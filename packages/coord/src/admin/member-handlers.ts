import * as grpc from '@grpc/grpc-js';
import type { hubha } from '@hubha/proto/admin';
import { RpcFailure } from '../client/transport.js';
import { METADATA_ERROR_CODE } from '../rpc/definitions.js';
import { adminErrorToGrpc } from './handlers.js';
import type { MemberChange, MemberOperations } from './member-operations.js';
import { METADATA_FORWARDED_BY, MemberChangeOutcomeUnknown } from './member-operations.js';
import { memberStatusToWire } from './wire.js';

/**
 * The Admin service's membership handlers (AddMember, PromoteMember, RemoveMember,
 * TransferLeadership): wire to MemberOperations and back. The leader's answer to a forwarded
 * request is passed on as the leader gave it, status and error code included.
 */

function errorCode(code: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set(METADATA_ERROR_CODE, code);
  return metadata;
}

function toGrpc(err: unknown): Partial<grpc.ServiceError> {
  if (err instanceof MemberChangeOutcomeUnknown) return { code: grpc.status.DEADLINE_EXCEEDED, details: `outcome-unknown: ${err.message}`, metadata: errorCode('outcome-unknown') };
  if (err instanceof RpcFailure) {
    const code = err.get(METADATA_ERROR_CODE);
    return { code: err.status, details: err.details, ...(code === undefined ? {} : { metadata: errorCode(code) }) };
  }
  return adminErrorToGrpc(err);
}

function forwardedBy(metadata: grpc.Metadata): string | null {
  const value = metadata.get(METADATA_FORWARDED_BY)[0];
  return typeof value === 'string' && value !== '' ? value : null;
}

function handle<Req, Res>(run: (request: Req, forwardedBy: string | null) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    run(call.request, forwardedBy(call.metadata)).then(
      (response) => callback(null, response),
      (err: unknown) => callback(toGrpc(err)),
    );
  };
}

function changeToWire(change: MemberChange): hubha.admin.MemberChangeResponse.$Properties {
  return { members: change.members.map(memberStatusToWire), message: change.message };
}

export function memberHandlers(ops: MemberOperations): grpc.UntypedServiceImplementation {
  return {
    AddMember: handle<hubha.admin.AddMemberRequest, hubha.admin.MemberChangeResponse.$Properties>(async (req, by) =>
      changeToWire(await ops.addMember({ name: req.name ?? '', peerAddress: req.peerAddress ?? '', clientAddress: req.clientAddress ?? '', role: req.role ?? '' }, by)),
    ),
    PromoteMember: handle<hubha.admin.PromoteMemberRequest, hubha.admin.MemberChangeResponse.$Properties>(async (req, by) => changeToWire(await ops.promoteMember(req.name ?? '', by))),
    RemoveMember: handle<hubha.admin.RemoveMemberRequest, hubha.admin.MemberChangeResponse.$Properties>(async (req, by) => changeToWire(await ops.removeMember(req.name ?? '', req.force === true, by))),
    TransferLeadership: handle<hubha.admin.TransferLeadershipRequest, hubha.admin.TransferLeadershipResponse.$Properties>(async (req, by) => {
      const answer = await ops.transferLeadership(req.target ?? '', by);
      return { leader: answer.leader, term: answer.term };
    }),
  };
}
