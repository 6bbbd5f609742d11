import { Router } from 'express';
import { pingDatabase } from '@zfs-sync/db';
import { SERVICE_VERSION } from '@zfs-sync/logger';
import { runChecks } from '@zfs-sync/runtime';
import type { ApiDeps } from '../deps.js';
import { HEALTH_API } from '@zfs-sync/contracts';
import { route } from '../http/route.js';
import { sendProblem } from '../http/problem.js';

/** Public health routes (original paths): liveness from the process alone, readiness from its dependencies. */
export function healthRoutes(deps: ApiDeps): Router {
  const r = Router();
  route(r, HEALTH_API.health, (_req, res) => {
    res.json({ status: 'healthy', service: 'zfs-sync', version: SERVICE_VERSION });
  });
  route(r, HEALTH_API.live, (_req, res) => {
    res.json({ status: 'alive' });
  });
  route(r, HEALTH_API.ready, async (_req, res) => {
    const { ok, results, errors } = await runChecks({
      postgres: () => pingDatabase(deps.pool),
      // Both connections: readiness must not say 200 while enqueueing still fails.
      redis: async () => {
        await Promise.all([deps.redis.ping(), deps.producer.ping()]);
      },
    });
    if (ok) {
      res.json({ status: 'ready', service: 'zfs-sync', version: SERVICE_VERSION, checks: results });
      return;
    }
    const failed = Object.entries(results).filter(([, v]) => v !== 'ok').map(([k]) => k);
    // What went wrong, with addresses and driver messages, is logged; the public answer names the
    // component only.
    deps.logger.warn({ checks: errors }, 'readiness: not ready');
    sendProblem(res, {
      type: 'urn:zfs-sync:problem:not-ready',
      title: 'Service Unavailable',
      status: 503,
      detail: `not ready: ${failed.join(' and ')} unreachable`,
      status_text: 'not_ready',
      checks: results,
    });
  });
  return r;
}
