// First: the heap settings are in force before the rest of the program is evaluated.
import '@zfs-sync/runtime/heap-settings';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfigOrExit } from '@zfs-sync/config';
import { createLogger } from '@zfs-sync/logger';
import { handleShutdown, installCrashHandlers } from '@zfs-sync/runtime';
import { createApiListener } from './app.js';
import { createApiServer } from './http/server.js';
import { buildApiDeps } from './build-deps.js';
import { ignoreSigintInClusterWorker, isClusterPrimary, superviseApiProcesses } from './cluster.js';

const config = loadConfigOrExit();
const logger = createLogger('ingest-api', config);
installCrashHandlers(logger);

async function serve(): Promise<void> {
  const deps = await buildApiDeps(config, logger);
  if (deps.generatedAdminTokenFile) {
    // The token itself is never printed or logged (a container log is read by many): only where it is.
    logger.warn({ admin_token_file: deps.generatedAdminTokenFile }, `no ZFS_SYNC_ADMIN_TOKEN configured: one was generated and written to ${deps.generatedAdminTokenFile} (readable by this user only); the service keeps only its SHA-256`);
  }
  const app = createApiListener(deps);
  // Slow clients must not hold sockets forever (slowloris), but a 64 MiB inventory on a slow link
  // needs minutes: the bounds are configurable (http/server.ts).
  const server = createApiServer(app, config);
  // Graceful close: once stopping, every answer (in flight or arriving on a kept-alive connection)
  // says Connection: close, and idle keep-alive connections are closed at once, so the server
  // closes as soon as the requests in flight are answered instead of at the keep-alive timeout.
  let closing = false;
  const inFlight = new Set<ServerResponse>();
  server.prependListener('request', (_req, res: ServerResponse) => {
    if (closing) res.setHeader('Connection', 'close');
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
  });
  const closeServer = () =>
    new Promise<void>((resolve) => {
      closing = true;
      for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
      server.close(() => resolve());
      server.closeIdleConnections();
    });
  server.listen(config.port, config.host, () => {
    const { port } = server.address() as AddressInfo;
    logger.info({ port, host: config.host, config_file: config.sourceFile, pid: process.pid }, `ingest API listening on http://${config.host}:${port}/api/v1`);
  });

  handleShutdown(logger, config.shutdownTimeoutMs, [
    // Live event streams never end by themselves: end them first, or the server's close waits for them.
    { name: 'event streams', close: () => deps.eventTail.close() },
    { name: 'http server', close: closeServer },
    { name: 'connections', close: () => deps.close() },
  ]);
  ignoreSigintInClusterWorker();
}

if (isClusterPrimary(config.apiProcesses)) superviseApiProcesses(config.apiProcesses, logger, config.shutdownTimeoutMs);
else await serve();
