export * from './config.js';
export { CONFIG_KEYS, type ConfigKeySpec } from './config.schema.js';
export { findInstallRoot, installRoot, installVersion, ROOT_PACKAGE_NAME } from './install-root.js';
