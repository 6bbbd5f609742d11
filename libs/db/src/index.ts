export * from './entities/system.entity.js';
export * from './entities/api-key.entity.js';
export * from './orm.js';
export * from './migrate.js';
export * from './ensure-database.js';
export * from './database-url.js';
export * from './pg-pool.js';
export * from './repositories/systems.repository.js';
export { MIGRATIONS } from './migrations/index.js';
