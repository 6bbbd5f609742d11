export * from './shutdown.js';
export * from './ops-server.js';
