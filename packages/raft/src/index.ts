export * from './core/index.js';
export * from './codec/index.js';
