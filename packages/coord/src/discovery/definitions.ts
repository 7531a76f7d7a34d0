import type * as grpc from '@grpc/grpc-js';
import { hubha } from '@hubha/proto/discovery';

/**
 * gRPC method definitions of the Discovery service (proto/discovery.proto), built from the static
 * protobufjs classes and shared by the server and the client so both sides encode alike.
 */

const pb = hubha.discovery;

interface MessageClass<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(bytes: Uint8Array): T;
}

function method<Req, Res>(name: string, request: MessageClass<Req>, response: MessageClass<Res>, responseStream: boolean): grpc.MethodDefinition<Req, Res> {
  return {
    path: `/${DISCOVERY_SERVICE}/${name}`,
    requestStream: false,
    responseStream,
    requestSerialize: (value: Req) => Buffer.from(request.encode(value).finish()),
    requestDeserialize: (bytes: Buffer) => request.decode(bytes),
    responseSerialize: (value: Res) => Buffer.from(response.encode(value).finish()),
    responseDeserialize: (bytes: Buffer) => response.decode(bytes),
  };
}

export const DISCOVERY_SERVICE = 'hubha.discovery.Discovery';

export const discoveryService = {
  GetActiveHub: method('GetActiveHub', pb.GetActiveHubRequest, pb.ActiveHubResponse, false),
  WatchActiveHub: method('WatchActiveHub', pb.WatchActiveHubRequest, pb.ActiveHubResponse, true),
};
