export * from './raft-node.js';
export * from './scheduler.js';
export type { ReplicatedStateMachine } from './state-machine.js';
