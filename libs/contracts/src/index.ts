export * from './validator.js';
export * from './jobs.js';
export * from './schemas/common.schema.js';
export * from './schemas/system.schema.js';
export * from './schemas/inventory.schema.js';
export * from './schemas/sync.schema.js';
export * from './schemas/instruction.schema.js';
export * from './api/index.js';
