// First: the heap settings are in force before the rest of the program is evaluated.
import '@zfs-sync/runtime/heap-settings';
import { loadConfigOrExit } from '@zfs-sync/config';
import { createLogger } from '@zfs-sync/logger';
import { handleShutdown, installCrashHandlers, startOpsServer } from '@zfs-sync/runtime';
import { startWorkers } from './start-workers.js';

const config = loadConfigOrExit();
const logger = createLogger('workers', config);
installCrashHandlers(logger);
let running;
try {
  running = await startWorkers(config, logger);
} catch (err) {
  logger.fatal({ err: (err as Error).message }, 'workers could not start');
  process.exit(1);
}
const ops = await startOpsServer({ port: config.opsPort, registry: running.registry, checks: running.checks });
logger.info({ port: ops.port }, 'ops server on /metrics, /healthz, /readyz');

handleShutdown(logger, config.shutdownTimeoutMs, [
  { name: 'workers', close: () => running.stop(config.shutdownTimeoutMs - 500) },
  { name: 'ops server', close: () => ops.close() },
]);
// Only now can a SIGTERM be handled cleanly: this line is what supervisors and tests wait for.
logger.info({ processors: running.workers.length }, 'workers ready');
