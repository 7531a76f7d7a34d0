export * from './types.js';
export * from './limits.js';
export { CoordSnapshotError, CoordUsageError } from './errors.js';
export { CoordStateMachine } from './state-machine.js';
export type { CoordStateMachineOptions } from './state-machine.js';
export type { SessionRecord, StateImage } from './snapshot.js';
export { validateCommand, validateRequest } from './validate.js';
export {
  commandToWire,
  compareToWire,
  decodeRequest,
  decodeResult,
  encodeRequest,
  encodeResult,
  keyValueToWire,
  leaseInfoToWire,
  leaseRefToWire,
  memberToWire,
  resultToWire,
  txnOpToWire,
  watchEventToWire,
} from './codec.js';
export { parseMemberContext } from './members.js';
export { compareKeys, utf8Length } from './text.js';
export { WatchHub, DEFAULT_WATCH_HISTORY } from './watch-hub.js';
export type { WatchDelivery, WatchFilter, WatchHubOptions, WatchStart } from './watch-hub.js';
