export * from './core/index.js';
export * from './codec/index.js';
export * from './storage/index.js';
export * from './transport/index.js';
export * from './node/index.js';
export * from './log/child-logger.js';
