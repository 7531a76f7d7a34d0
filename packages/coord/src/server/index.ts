export { CoordNode } from './coord-node.js';
export type { CoordNodeOptions, WatchSignal } from './coord-node.js';
export { KEEPALIVE_THROUGH_RAFT } from './lease-service.js';
export { SOFTWARE_VERSION } from './cluster-service.js';
