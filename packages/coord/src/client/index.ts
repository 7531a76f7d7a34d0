export { CoordClient } from './client.js';
export type { CoordClientOptions } from './client.js';
export { CoordSession } from './session.js';
export type { DeleteOptions, PutOptions, RangeOptions, ReadOptions, SessionHost, TxnRequest } from './session.js';
export { CoordWatch } from './watch.js';
export type { WatchHost, WatchOptions } from './watch.js';
export { LeaseKeeper, leaseKeeperTiming } from './lease-keeper.js';
export type {
  LeaseKeeperEvent,
  LeaseKeeperEvents,
  LeaseKeeperOptions,
  LeaseKeeperSession,
  LeaseKeeperState,
  LeaseKeeperStatus,
  LeaseKeeperTiming,
  LeaseLostReason,
} from './lease-keeper.js';
export { CoordClientError, isCoordClientError } from './errors.js';
export type { CoordClientErrorCode, CoordClientErrorDetails } from './errors.js';
export { Router, backoffDelayMs, classifyFailure, refusalError } from './router.js';
export type { BackoffOptions, CallResult, FailureKind, Route, RouterOptions } from './router.js';
export { DEFAULT_CHANNEL_OPTIONS, GrpcTransport, RpcFailure } from './transport.js';
export type { RpcTransport, StreamHandle, StreamHandlers, UnaryOptions } from './transport.js';
export type { CoordClientTls } from './tls.js';
export type * from './types.js';
