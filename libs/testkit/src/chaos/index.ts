/** The chaos suite's harness: private PostgreSQL and Redis servers, the service as child processes, load and invariants. */
export * from './servers.js';
export * from './processes.js';
export * from './env.js';
