export { createApiListener, createApp, API_PREFIX } from './app.js';
export { buildApiDeps } from './build-deps.js';
export type { ApiDeps } from './deps.js';
export type { ResponseViolation } from './ops/response-check.js';
