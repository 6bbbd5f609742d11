export * from './route.js';
export * from './catalog.js';
export * from './openapi.js';
