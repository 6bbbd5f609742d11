import { MikroORM, defineConfig } from '@mikro-orm/postgresql';
import type { Logger } from '@zfs-sync/logger';
import { ApiKeyEntity } from './entities/api-key.entity.js';
import { SystemEntity } from './entities/system.entity.js';
import type { MIGRATIONS } from './migrations/index.js';

export const ENTITIES = [SystemEntity, ApiKeyEntity];

export interface OrmOptions {
  databaseUrl: string;
  logger?: Logger;
  poolMax?: number;
  /**
   * MikroORM's Migrator and the migrations, for migrate() only, which imports them when it runs:
   * `@mikro-orm/migrations` loads umzug and its command-line libraries, ~3 MiB of heap every API
   * and worker process would otherwise carry for nothing.
   */
  migrations?: { migrator: typeof import('@mikro-orm/migrations').Migrator; list: typeof MIGRATIONS };
}

export function ormConfig(options: OrmOptions) {
  return defineConfig({
    clientUrl: options.databaseUrl,
    entities: ENTITIES,
    extensions: options.migrations ? [options.migrations.migrator] : [],
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
      migrationsList: options.migrations?.list ?? [],
      snapshot: false,
    },
    logger: (message: string) => options.logger?.debug({ orm: true }, message),
  });
}

export async function createOrm(options: OrmOptions): Promise<MikroORM> {
  return MikroORM.init(ormConfig(options));
}
