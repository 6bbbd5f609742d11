export * from './shutdown.js';
export * from './ops-server.js';
export * from './metrics.js';
export * from './metrics-catalog.js';
export * from './heap.js';
export * from './unavailable.js';
