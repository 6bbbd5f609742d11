import { loadConfigOrExit } from '@zfs-sync/config';
import { createLogger } from '@zfs-sync/logger';
import { migrate } from './migrate.js';

const config = loadConfigOrExit();
const logger = createLogger('migrate', config);
try {
  const applied = await migrate(config.databaseUrl, logger);
  logger.info({ applied }, applied.length ? `applied ${applied.length} migration(s)` : 'database is up to date');
} catch (err) {
  logger.error({ err }, 'migration failed');
  process.exitCode = 1;
}
