export * from './state/index.js';
export * from './config/node-config.js';
export * from './lease/lease-rule.js';
export * from './lease/lease-expiry-timer.js';
export * from './rpc/definitions.js';
export * from './server/index.js';
export * from './client/index.js';
export * from './records/records.js';
