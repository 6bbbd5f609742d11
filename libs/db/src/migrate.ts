import pg from 'pg';
import type { Logger } from '@zfs-sync/logger';
import { ensureDatabase } from './ensure-database.js';
import { createOrm } from './orm.js';

/**
 * Create the database if needed and apply every pending migration; returns the names applied.
 * A session advisory lock on a side connection makes concurrent starts (two `npm start`s, a
 * Kubernetes Job racing a single-process pod) wait for each other instead of colliding.
 */
export async function migrate(databaseUrl: string, logger?: Logger): Promise<string[]> {
  if (await ensureDatabase(databaseUrl)) logger?.info('created database');
  const lock = new pg.Client({ connectionString: databaseUrl });
  await lock.connect();
  try {
    await lock.query(`select pg_advisory_lock(hashtext('zfs-sync:migrate'))`);
    // Loaded here, not with the ORM: the long-running processes never migrate (orm.ts).
    const [{ Migrator }, { MIGRATIONS }] = await Promise.all([import('@mikro-orm/migrations'), import('./migrations/index.js')]);
    const orm = await createOrm({ databaseUrl, poolMax: 1, migrations: { migrator: Migrator, list: MIGRATIONS }, ...(logger ? { logger } : {}) });
    try {
      const done = await orm.getMigrator().up();
      return done.map((m) => m.name);
    } finally {
      await orm.close(true);
    }
  } finally {
    await lock.end();
  }
}
