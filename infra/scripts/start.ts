/**
 * `npm start`: apply migrations, then run the ingest API and the workers as two processes.
 * Ctrl-C (or SIGTERM) stops both; if either dies, the other is stopped and the exit code says so.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadConfigOrExit } from '@zfs-sync/config';
import { migrate } from '@zfs-sync/db';
import { createLogger } from '@zfs-sync/logger';

const root = fileURLToPath(new URL('../../', import.meta.url));
const config = loadConfigOrExit();
const logger = createLogger('start', config);

try {
  const applied = await migrate(config.databaseUrl, logger);
  logger.info({ applied }, applied.length ? `applied ${applied.length} migration(s)` : 'database is up to date');
} catch (err) {
  logger.fatal({ err: (err as Error).message }, `cannot migrate ${new URL(config.databaseUrl).host}: is PostgreSQL running? (infra/scripts/services.sh starts it)`);
  process.exit(1);
}

const children = new Map<string, ChildProcess>();
let stopping = false;

function run(name: string, entry: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], { cwd: root, stdio: 'inherit', env: process.env });
  children.set(name, child);
  child.on('exit', (code, signal) => {
    children.delete(name);
    if (!stopping) {
      logger.error({ process: name, code, signal }, `${name} exited; stopping the others`);
      process.exitCode = code || 1;
      stopAll();
    }
    if (children.size === 0) process.exit();
  });
}

function stopAll() {
  stopping = true;
  for (const child of children.values()) child.kill('SIGTERM');
  // The children bound their own shutdown; this is the last resort.
  setTimeout(() => {
    for (const child of children.values()) child.kill('SIGKILL');
  }, config.shutdownTimeoutMs + 2000).unref();
}

process.on('SIGINT', stopAll);
process.on('SIGTERM', stopAll);
run('ingest-api', 'services/ingest-api/src/main.ts');
run('workers', 'services/workers/src/main.ts');
