export * from './connection.js';
export * from './producer.js';
export * from './define-worker.js';
