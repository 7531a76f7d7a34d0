import type * as grpc from '@grpc/grpc-js';
import { hubha } from '@hubha/proto/admin';

/**
 * gRPC method definitions of the Admin service (proto/admin.proto), built from the static
 * protobufjs classes and shared by the server and the client so both sides encode alike.
 */

const pb = hubha.admin;

interface MessageClass<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(bytes: Uint8Array): T;
}

export const ADMIN_SERVICE = 'hubha.admin.Admin';

function method<Req, Res>(name: string, request: MessageClass<Req>, response: MessageClass<Res>, responseStream = false): grpc.MethodDefinition<Req, Res> {
  return {
    path: `/${ADMIN_SERVICE}/${name}`,
    requestStream: false,
    responseStream,
    requestSerialize: (value: Req) => Buffer.from(request.encode(value).finish()),
    requestDeserialize: (bytes: Buffer) => request.decode(bytes),
    responseSerialize: (value: Res) => Buffer.from(response.encode(value).finish()),
    responseDeserialize: (bytes: Buffer) => response.decode(bytes),
  };
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
