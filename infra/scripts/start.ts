/**
 * `npm start`: apply migrations, then run the ingest API and the workers as two processes.
 * Ctrl-C (or SIGTERM) stops both gracefully; one that crashes is restarted with a growing delay.
 *
 * Run as dist/start.js (`npm start` builds it; the image's single-process mode), it starts the
 * compiled dist/api.js and dist/workers.js beside it with plain node; run from its source through
 * tsx (`npm run start:dev`), it starts the sources the same way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installRoot, loadConfigOrExit } from '@zfs-sync/config';
import { migrate } from '@zfs-sync/db';
import { createLogger } from '@zfs-sync/logger';

const root = installRoot();
const bundled = !import.meta.url.endsWith('.ts');
const here = dirname(fileURLToPath(import.meta.url));
/** node's arguments for one child: a bundle beside this file, or a source file through tsx. */
const entries = {
  'ingest-api': bundled ? ['--enable-source-maps', join(here, 'api.js')] : ['--import', 'tsx', 'services/ingest-api/src/main.ts'],
  workers: bundled ? ['--enable-source-maps', join(here, 'workers.js')] : ['--import', 'tsx', 'services/workers/src/main.ts'],
};
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
let clean = true;

/**
 * Run a child; when it dies on its own (a crash, an OOM kill), start it again after a growing
 * delay (0.5 s doubling to 30 s; back to 0.5 s once a run lasted a minute) — the other process
 * keeps running: a crashed worker must not take the API down with it.
 */
function run(name: keyof typeof entries, delayMs = 500) {
  const startedAt = Date.now();
  const child = spawn(process.execPath, entries[name], { cwd: root, stdio: 'inherit', env: process.env });
  children.set(name, child);
  child.on('exit', (code, signal) => {
    children.delete(name);
    if (stopping) {
      if (code !== 0) clean = false;
      if (children.size === 0) process.exit(clean ? 0 : 1);
      return;
    }
    const next = Date.now() - startedAt > 60_000 ? 500 : Math.min(delayMs * 2, 30_000);
    logger.error({ process: name, code, signal, restart_in_ms: delayMs }, `${name} exited; restarting it`);
    setTimeout(() => {
      if (!stopping) run(name, next);
    }, delayMs);
  });
}

/**
 * One stop for everything. Ctrl-C signals the whole process group (this process and the
 * children); the SIGTERM sent here is the same stop to them, not a second one (see
 * handleShutdown), so each finishes its work and exits cleanly.
 */
function stopAll() {
  if (stopping) return;
  stopping = true;
  if (children.size === 0) process.exit(0);
  for (const child of children.values()) child.kill('SIGTERM');
  // The children bound their own shutdown; this is the last resort.
  setTimeout(() => {
    for (const child of children.values()) child.kill('SIGKILL');
    process.exit(1);
  }, config.shutdownTimeoutMs + 2000).unref();
}

process.on('SIGINT', stopAll);
process.on('SIGTERM', stopAll);
run('ingest-api');
run('workers');
