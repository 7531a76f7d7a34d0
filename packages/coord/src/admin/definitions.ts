import type * as grpc from '@grpc/grpc-js';
import { grpcMethod } from '../rpc/definitions.js';
import type { MessageClass } from '../rpc/definitions.js';
import { hubha } from '@hubha/proto/admin';

/**
 * gRPC method definitions of the Admin service (proto/admin.proto), built from the static
 * protobufjs classes and shared by the server and the client so both sides encode alike.
 */

const pb = hubha.admin;

export const ADMIN_SERVICE = 'hubha.admin.Admin';

function method<Req, Res>(name: string, request: MessageClass<Req>, response: MessageClass<Res>, responseStream = false): grpc.MethodDefinition<Req, Res> {
  return grpcMethod(ADMIN_SERVICE, name, request, response, responseStream);
}

export const adminService = {
  GetStatus: method('GetStatus', pb.GetStatusRequest, pb.GetStatusResponse),
  ListMembers: method('ListMembers', pb.ListMembersRequest, pb.ListMembersResponse),
  GetHistory: method('GetHistory', pb.GetHistoryRequest, pb.GetHistoryResponse),
  Pause: method('Pause', pb.PauseRequest, pb.PauseResponse),
  Resume: method('Resume', pb.ResumeRequest, pb.ResumeResponse),
  WatchEvents: method('WatchEvents', pb.WatchEventsRequest, pb.Event, true),
  Switchover: method('Switchover', pb.SwitchoverRequest, pb.SwitchoverResponse),
  Failover: method('Failover', pb.FailoverRequest, pb.FailoverResponse),
  Reinit: method('Reinit', pb.ReinitRequest, pb.ReinitResponse),
  AddMember: method('AddMember', pb.AddMemberRequest, pb.MemberChangeResponse),
  PromoteMember: method('PromoteMember', pb.PromoteMemberRequest, pb.MemberChangeResponse),
  RemoveMember: method('RemoveMember', pb.RemoveMemberRequest, pb.MemberChangeResponse),
  TransferLeadership: method('TransferLeadership', pb.TransferLeadershipRequest, pb.TransferLeadershipResponse),
};
