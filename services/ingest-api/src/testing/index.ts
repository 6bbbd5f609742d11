export * from './api-harness.js';
export * from './inventory-fixtures.js';
