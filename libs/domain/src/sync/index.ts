export * from './types.js';
export * from './order.js';
export * from './eligibility.js';
export * from './policy.js';
export * from './link-verdict.js';
export * from './topology.js';
export * from './commands.js';
export * from './conflicts.js';
