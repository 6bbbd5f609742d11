export * from './config.js';
export { CONFIG_KEYS, type ConfigKeySpec } from './config.schema.js';
