import * as grpc from '@grpc/grpc-js';
import { hubha } from '@hubha/proto/coord';

/**
 * gRPC method definitions built from the static protobufjs classes, shared by the servers and
 * the client so both sides encode exactly alike. Decoding here is only the wire format: every
 * handler still validates the decoded values.
 */

const pb = hubha.coord;

/** A static protobufjs message class (what the generated code exports per message). */
export interface MessageClass<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(bytes: Uint8Array): T;
}

/** One gRPC method of `service`, unary unless `responseStream`; every service of hubha builds its own with it. */
export function grpcMethod<Req, Res>(
  service: string,
  name: string,
  request: MessageClass<Req>,
  response: MessageClass<Res>,
  responseStream = false,
): grpc.MethodDefinition<Req, Res> {
  return {
    path: `/${service}/${name}`,
    requestStream: false,
    responseStream,
    requestSerialize: (value: Req) => Buffer.from(request.encode(value).finish()),
    requestDeserialize: (bytes: Buffer) => request.decode(bytes),
    responseSerialize: (value: Res) => Buffer.from(response.encode(value).finish()),
    responseDeserialize: (bytes: Buffer) => response.decode(bytes),
  };
}

export const KV_SERVICE = 'hubha.coord.KV';
export const LEASE_SERVICE = 'hubha.coord.Lease';
export const WATCH_SERVICE = 'hubha.coord.Watch';
export const CLUSTER_SERVICE = 'hubha.coord.Cluster';

export const kvService = {
  Put: grpcMethod(KV_SERVICE, 'Put', pb.PutRequest, pb.PutResponse),
  Get: grpcMethod(KV_SERVICE, 'Get', pb.GetRequest, pb.GetResponse),
  Range: grpcMethod(KV_SERVICE, 'Range', pb.RangeRequest, pb.RangeResponse),
  Delete: grpcMethod(KV_SERVICE, 'Delete', pb.DeleteRequest, pb.DeleteResponse),
  DeleteRange: grpcMethod(KV_SERVICE, 'DeleteRange', pb.DeleteRangeRequest, pb.DeleteRangeResponse),
  Txn: grpcMethod(KV_SERVICE, 'Txn', pb.TxnRequest, pb.TxnResponse),
};

export const leaseService = {
  Grant: grpcMethod(LEASE_SERVICE, 'Grant', pb.LeaseGrantRequest, pb.LeaseGrantResponse),
  KeepAlive: grpcMethod(LEASE_SERVICE, 'KeepAlive', pb.LeaseKeepAliveRequest, pb.LeaseKeepAliveResponse),
  Release: grpcMethod(LEASE_SERVICE, 'Release', pb.LeaseReleaseRequest, pb.LeaseReleaseResponse),
  List: grpcMethod(LEASE_SERVICE, 'List', pb.LeaseListRequest, pb.LeaseListResponse),
};

export const watchService = {
  Watch: grpcMethod(WATCH_SERVICE, 'Watch', pb.WatchRequest, pb.WatchResponse, true),
};

export const clusterService = {
  Status: grpcMethod(CLUSTER_SERVICE, 'Status', pb.StatusRequest, pb.StatusResponse),
  MemberList: grpcMethod(CLUSTER_SERVICE, 'MemberList', pb.MemberListRequest, pb.MemberListResponse),
  MemberAddLearner: grpcMethod(CLUSTER_SERVICE, 'MemberAddLearner', pb.MemberAddLearnerRequest, pb.MemberAddLearnerResponse),
  MemberPromote: grpcMethod(CLUSTER_SERVICE, 'MemberPromote', pb.MemberPromoteRequest, pb.MemberPromoteResponse),
  MemberRemove: grpcMethod(CLUSTER_SERVICE, 'MemberRemove', pb.MemberRemoveRequest, pb.MemberRemoveResponse),
  TransferLeader: grpcMethod(CLUSTER_SERVICE, 'TransferLeader', pb.TransferLeaderRequest, pb.TransferLeaderResponse),
};

/** Trailing metadata keys of refusals (see the conventions in proto/coord.proto). */
export const METADATA_ERROR_CODE = 'hubha-error-code';
export const METADATA_LEADER = 'hubha-leader';
/** The leader's client endpoint ("host:port"), when the refusing member knows it. */
export const METADATA_LEADER_ENDPOINT = 'hubha-leader-endpoint';
