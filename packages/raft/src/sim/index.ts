/** The deterministic Raft simulator: run seeds, reuse the simulated network as a transport fake. */
export { runSeed, formatViolation } from './run.js';
export type { SimOptions, SimResult, SimStats, SimViolationReport, BugName } from './options.js';
export { BUG_NAMES, DEFAULT_STEPS, isBugName } from './options.js';
export { LIVENESS_BOUND_TICKS } from './liveness.js';
export { SimNetwork, DEFAULT_NETWORK_OPTIONS } from './network.js';
export type { Addressed, NetworkFaults, NetworkOptions, NetworkStats, SendOutcome } from './network.js';
export { SimDisk } from './disk.js';
export type { Durability } from './disk.js';
export { InvariantChecker, SimViolation } from './invariants.js';
export type { InvariantName } from './invariants.js';
export { SimStateMachine, encodeSmState, decodeSmState } from './state-machine.js';
export type { SmState } from './state-machine.js';
