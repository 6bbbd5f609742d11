export * from './services.js';
export * from './database.js';
export * from './queue-prefix.js';
export * from './tcp-proxy.js';
