/**
 * The whole service for tests: the real API and workers wired to this test file's own database
 * and queue prefix, plus fixtures. Kept apart from the package root so tests that only need a
 * database do not load the services.
 */
export * from './api-harness.js';
export * from './inventory-fixtures.js';
export * from './stack.js';
