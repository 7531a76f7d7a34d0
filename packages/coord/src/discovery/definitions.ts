import type * as grpc from '@grpc/grpc-js';
import { grpcMethod } from '../rpc/definitions.js';
import type { MessageClass } from '../rpc/definitions.js';
import { hubha } from '@hubha/proto/discovery';

/**
 * gRPC method definitions of the Discovery service (proto/discovery.proto), built from the static
 * protobufjs classes and shared by the server and the client so both sides encode alike.
 */

const pb = hubha.discovery;

function method<Req, Res>(name: string, request: MessageClass<Req>, response: MessageClass<Res>, responseStream = false): grpc.MethodDefinition<Req, Res> {
  return grpcMethod(DISCOVERY_SERVICE, name, request, response, responseStream);
}

export const DISCOVERY_SERVICE = 'hubha.discovery.Discovery';

export const discoveryService = {
  GetActiveHub: method('GetActiveHub', pb.GetActiveHubRequest, pb.ActiveHubResponse, false),
  WatchActiveHub: method('WatchActiveHub', pb.WatchActiveHubRequest, pb.ActiveHubResponse, true),
};
