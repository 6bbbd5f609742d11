// First: the heap settings are in force before the rest of the program is evaluated.
import '@zfs-sync/runtime/heap-settings';
import type { AddressInfo } from 'node:net';
import { loadConfigOrExit } from '@zfs-sync/config';
import { createLogger } from '@zfs-sync/logger';
import { handleShutdown } from '@zfs-sync/runtime';
import { createApp } from './app.js';
import { createApiServer } from './http/server.js';
import { buildApiDeps } from './build-deps.js';
import { ignoreSigintInClusterWorker, isClusterPrimary, superviseApiProcesses } from './cluster.js';

const config = loadConfigOrExit();
const logger = createLogger('ingest-api', config);

async function serve(): Promise<void> {
  const deps = await buildApiDeps(config, logger);
  if (deps.generatedAdminToken) {
    // Printed once, on the terminal, not in the JSON logs; only its hash is stored.
    process.stderr.write(
      `\nzfs-sync: no ZFS_SYNC_ADMIN_TOKEN configured, so one was generated. It is shown only now:\n\n    ${deps.generatedAdminToken}\n\n` +
        `Store it (e.g. export ZFS_SYNC_ADMIN_TOKEN=...); the service keeps only its SHA-256.\n\n`,
    );
  }
  const app = createApp(deps);
  // Slow clients must not hold sockets forever (slowloris), but a 64 MiB inventory on a slow link
  // needs minutes: the bounds are configurable (http/server.ts).
  const server = createApiServer(app, config).listen(config.port, config.host, () => {
    const { port } = server.address() as AddressInfo;
    logger.info({ port, host: config.host, config_file: config.sourceFile, pid: process.pid }, `ingest API listening on http://${config.host}:${port}/api/v1`);
  });

  handleShutdown(logger, config.shutdownTimeoutMs, [
    // Live event streams never end by themselves: end them first, or the server's close waits for them.
    { name: 'event streams', close: () => deps.eventTail.close() },
    { name: 'http server', close: () => new Promise<void>((resolve) => server.close(() => resolve())) },
    { name: 'connections', close: () => deps.close() },
  ]);
  ignoreSigintInClusterWorker();
}

if (isClusterPrimary(config.apiProcesses)) superviseApiProcesses(config.apiProcesses, logger, config.shutdownTimeoutMs);
else await serve();
