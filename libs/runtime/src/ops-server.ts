import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export type DependencyChecks = Record<string, () => Promise<void>>;

/** Run each check with a time limit; the answer names every dependency and what failed. */
export async function runChecks(checks: DependencyChecks, timeoutMs = 2000): Promise<{ ok: boolean; results: Record<string, string>; errors: Record<string, string> }> {
  const errors: Record<string, string> = {};
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          check(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        return [name, 'ok'] as const;
      } catch (err) {
        // The driver's message (addresses, internals) is for the log, never for the answer.
        errors[name] = (err as Error).message || 'error';
        return [name, 'unavailable'] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const results = Object.fromEntries(entries);
  return { ok: entries.every(([, r]) => r === 'ok'), results, errors };
}

/**
 * The small HTTP server of a worker process: /metrics for Prometheus, /healthz answered by the
 * process alone (liveness must not fail because a dependency is down: that would restart pods in
 * a loop), /readyz checking PostgreSQL and Redis.
 */
export async function startOpsServer(opts: { port: number; host?: string; registry: Registry; checks: DependencyChecks }): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    void (async () => {
      if (req.url === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"alive"}');
      } else if (req.url === '/readyz') {
        const { ok, results } = await runChecks(opts.checks);
        res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ok ? 'ready' : 'not_ready', checks: results }));
      } else if (req.url === '/metrics') {
        res.writeHead(200, { 'content-type': opts.registry.contentType }).end(await opts.registry.metrics());
      } else {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"status":404}');
      }
    })().catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => server.listen(opts.port, opts.host ?? '0.0.0.0', resolve));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
