/**
 * The coordination store's client.
 *
 *  - CoordClient.connect({ endpoints, tls?, requestTimeoutMs? }): one gRPC channel (one HTTP/2
 *    connection) per member, shared by every service; leader discovery through the followers'
 *    hubha-leader-endpoint, failover on connection errors, bounded attempts with backoff within
 *    each call's deadline.
 *  - client.session(name?): a client_id and its seq counter. Mutations are sent one at a time
 *    and retried with the same seq until their deadline (exactly-once through the servers'
 *    session table); reads and membership calls go straight out.
 *  - client.watch({ key, prefix?, startRevision? }): an AsyncIterable of WatchEvents that resumes
 *    from the last revision seen + 1 on another member; 'compacted' when that is too old.
 *  - session.keepLease({...}): LeaseKeeper, the holder side of the lease-safety rule.
 *  - Failures are CoordClientError with a stable `code` (see CoordClientErrorCode); "no" answers
 *    (granted / renewed / released = false) are values.
 */
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
