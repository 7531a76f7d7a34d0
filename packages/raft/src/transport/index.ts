export type { PeerAddress, RaftTransport, TransportHandlers } from './transport.js';
export type {
  BackoffOptions,
  GrpcRaftTransportOptions,
  TransportLimits,
  TransportTlsOptions,
} from './options.js';
export { DEFAULT_BACKOFF, DEFAULT_LIMITS } from './options.js';
export type { GrpcTransportStats } from './grpc-transport.js';
export { GrpcRaftTransport } from './grpc-transport.js';
export type { PeerStats } from './peer-sender.js';
export type { RejectReason } from './inbound.js';
export type { MemoryNetworkStats } from './memory-transport.js';
export { MemoryNetwork, MemoryTransport } from './memory-transport.js';
