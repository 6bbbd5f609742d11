export * from './connection.js';
export * from './producer.js';
export * from './define-worker.js';
export * from './metrics.js';
export * from './keys.js';
export * from './heartbeats.js';
export * from './events-stream.js';
export * from './rate-limit.js';
