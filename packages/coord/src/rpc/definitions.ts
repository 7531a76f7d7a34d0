import * as grpc from '@grpc/grpc-js';
import { hubha } from '@hubha/proto/coord';

/**
 * gRPC method definitions built from the static protobufjs classes, shared by the servers and
 * the client so both sides encode exactly alike. Decoding here is only the wire format: every
 * handler still validates the decoded values.
 */

const pb = hubha.coord;

interface MessageClass<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(bytes: Uint8Array): T;
}

function method<Req, Res>(
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
  Put: method(KV_SERVICE, 'Put', pb.PutRequest, pb.PutResponse),
  Get: method(KV_SERVICE, 'Get', pb.GetRequest, pb.GetResponse),
  Range: method(KV_SERVICE, 'Range', pb.RangeRequest, pb.RangeResponse),
  Delete: method(KV_SERVICE, 'Delete', pb.DeleteRequest, pb.DeleteResponse),
  DeleteRange: method(KV_SERVICE, 'DeleteRange', pb.DeleteRangeRequest, pb.DeleteRangeResponse),
  Txn: method(KV_SERVICE, 'Txn', pb.TxnRequest, pb.TxnResponse),
};

export const leaseService = {
  Grant: method(LEASE_SERVICE, 'Grant', pb.LeaseGrantRequest, pb.LeaseGrantResponse),
  KeepAlive: method(LEASE_SERVICE, 'KeepAlive', pb.LeaseKeepAliveRequest, pb.LeaseKeepAliveResponse),
  Release: method(LEASE_SERVICE, 'Release', pb.LeaseReleaseRequest, pb.LeaseReleaseResponse),
  List: method(LEASE_SERVICE, 'List', pb.LeaseListRequest, pb.LeaseListResponse),
};

export const watchService = {
  Watch: method(WATCH_SERVICE, 'Watch', pb.WatchRequest, pb.WatchResponse, true),
};

export const clusterService = {
  Status: method(CLUSTER_SERVICE, 'Status', pb.StatusRequest, pb.StatusResponse),
  MemberList: method(CLUSTER_SERVICE, 'MemberList', pb.MemberListRequest, pb.MemberListResponse),
  MemberAddLearner: method(CLUSTER_SERVICE, 'MemberAddLearner', pb.MemberAddLearnerRequest, pb.MemberAddLearnerResponse),
  MemberPromote: method(CLUSTER_SERVICE, 'MemberPromote', pb.MemberPromoteRequest, pb.MemberPromoteResponse),
  MemberRemove: method(CLUSTER_SERVICE, 'MemberRemove', pb.MemberRemoveRequest, pb.MemberRemoveResponse),
  TransferLeader: method(CLUSTER_SERVICE, 'TransferLeader', pb.TransferLeaderRequest, pb.TransferLeaderResponse),
};

/** Trailing metadata keys of refusals (see the conventions in proto/coord.proto). */
export const METADATA_ERROR_CODE = 'hubha-error-code';
export const METADATA_LEADER = 'hubha-leader';
/** The leader's client endpoint ("host:port"), when the refusing member knows it. */
export const METADATA_LEADER_ENDPOINT = 'hubha-leader-endpoint';
