import { randomBytes, createHash } from 'node:crypto';
import { describeDatabaseUrl, migrate, quoteIdent } from '@zfs-sync/db';
import { MIGRATIONS } from '@zfs-sync/db/migrations';
import { pgQuery, testServices } from './services.js';

/**
 * A fresh database for one test file, cloned from a migrated template. The template's name
 * carries a hash of the migrations (names and code), so a new or changed migration makes a new template; building it is
 * serialised with an advisory lock because test files run in parallel processes.
 */
async function ensureTemplate(serverUrl: string): Promise<string> {
  const { withDatabase, maintenanceUrl } = describeDatabaseUrl(serverUrl);
  // Names and source text: an edited migration (or a branch with other migrations) gets its own template.
  const digest = createHash('sha256').update(MIGRATIONS.map((m) => `${m.name}\n${m.class.toString()}`).join('\n')).digest('hex').slice(0, 12);
  const name = `zfs_sync_test_tpl_${digest}`;
  const pg = await import('pg');
  const lock = new pg.default.Client({ connectionString: maintenanceUrl });
  await lock.connect();
  try {
    await lock.query(`select pg_advisory_lock(hashtext('zfs-sync:test-template'))`);
    const { rowCount } = await lock.query(`select 1 from pg_database where datname = $1 and datistemplate`, [name]);
    if (!rowCount) {
      await lock.query(`drop database if exists ${quoteIdent(name)} with (force)`);
      await migrate(withDatabase(name));
      await lock.query(`alter database ${quoteIdent(name)} with is_template true allow_connections false`);
    }
  } finally {
    await lock.query(`select pg_advisory_unlock(hashtext('zfs-sync:test-template'))`).catch(() => {});
    await lock.end();
  }
  return name;
}

export interface TestDatabase {
  url: string;
  name: string;
  drop: () => Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const { pgUrl } = await testServices();
  const { withDatabase, maintenanceUrl } = describeDatabaseUrl(pgUrl);
  const template = await ensureTemplate(pgUrl);
  const name = `zfs_sync_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  for (let attempt = 0; ; attempt++) {
    try {
      await pgQuery(maintenanceUrl, `create database ${quoteIdent(name)} template ${quoteIdent(template)}`);
      break;
    } catch (err) {
      // Two files cloning the same template at the same instant: PostgreSQL refuses one; retry.
      if (attempt < 20 && /being accessed by other users/.test((err as Error).message)) {
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
        continue;
      }
      throw err;
    }
  }
  return {
    url: withDatabase(name),
    name,
    drop: async () => {
      await pgQuery(maintenanceUrl, `drop database if exists ${quoteIdent(name)} with (force)`);
    },
  };
}
