import { MikroORM, defineConfig } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import type { Logger } from '@zfs-sync/logger';
import { ApiKeyEntity } from './entities/api-key.entity.js';
import { SystemEntity } from './entities/system.entity.js';
import { MIGRATIONS } from './migrations/index.js';

export const ENTITIES = [SystemEntity, ApiKeyEntity];

export interface OrmOptions {
  databaseUrl: string;
  logger?: Logger;
  poolMax?: number;
}

export function ormConfig(options: OrmOptions) {
  return defineConfig({
    clientUrl: options.databaseUrl,
    entities: ENTITIES,
    extensions: [Migrator],
    discovery: { warnWhenNoEntities: true },
    pool: { min: 0, max: options.poolMax ?? 10 },
    // The API serialises responses itself; keep ORM hydration plain and fast.
    forceUtcTimezone: true,
    debug: false,
    allowGlobalContext: false,
    migrations: {
      tableName: 'mikro_orm_migrations',
      transactional: true,
      allOrNothing: true,
      migrationsList: MIGRATIONS,
      snapshot: false,
    },
    logger: (message: string) => options.logger?.debug({ orm: true }, message),
  });
}

export async function createOrm(options: OrmOptions): Promise<MikroORM> {
  return MikroORM.init(ormConfig(options));
}
