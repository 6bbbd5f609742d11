import { Router } from 'express';
import { QUEUE_NAMES, VIEWS_API } from '@zfs-sync/contracts';
import { fleetOverview, fleetStatistics, listProtection, systemDatasets } from '@zfs-sync/db';
import { principalOf, requireReader, requireSystem } from '../auth/authenticate.js';
import { systemIdParam } from './systems.routes.js';
import type { ApiDeps } from '../deps.js';
import { queryParams } from '../http/query.js';
import { route } from '../http/route.js';
import { notFound, unauthorized } from '../http/problem.js';

const QUEUE_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'failed'] as const;

/**
 * Fleet-wide read views for operators and their tools (the dashboard reads these like any other
 * client): who am I, the overview aggregate, statistics, and the protection view.
 */
export function fleetRoutes(deps: ApiDeps): Router {
  const r = Router();

  // What the presented credential may do, so a client can offer only what will work.
  route(r, VIEWS_API.whoami, (_req, res) => {
    const p = principalOf(res);
    if (p.kind === 'anonymous') throw unauthorized();
    res.json({ kind: p.kind, ...(p.kind === 'host' ? { system_id: p.systemId } : {}), can_write: p.kind === 'admin' });
  });

  route(r, VIEWS_API.overview, async (req, res) => {
    requireReader(res);
    queryParams(req, []);
    const overview = await fleetOverview(deps.pool, deps.config.heartbeatTimeoutSeconds);
    // Queue backlog from Redis; an outage leaves it null rather than failing the page.
    const queues = await Promise.all(
      QUEUE_NAMES.map(async (name) => {
        const counts = await deps.producer.queue(name).getJobCounts(...QUEUE_STATES);
        return [name, counts] as const;
      }),
    ).then(
      (entries) => Object.fromEntries(entries),
      () => null,
    );
    const backlog = queues ? Object.values(queues).reduce((a, c) => a + (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0), 0) : null;
    res.json({ ...overview, queues: { backlog, by_queue: queues }, generated_at: new Date().toISOString() });
  });

  route(r, VIEWS_API.fleetStatistics, async (req, res) => {
    requireReader(res);
    const q = queryParams(req, ['days', 'top_pools']);
    res.json(await fleetStatistics(deps.pool, q.int('days', 1, 365, 30), q.int('top_pools', 1, 100, 10)));
  });

  route(r, VIEWS_API.protection, async (req, res) => {
    requireReader(res);
    const q = queryParams(req, ['sync_group_id', 'only_violations', 'limit', 'offset']);
    const { limit, offset } = q.page(50, 500);
    const page = await listProtection(deps.pool, { groupId: q.uuid('sync_group_id'), onlyViolations: q.bool('only_violations'), limit, offset });
    res.json({ total: page.total, limit, offset, items: page.rows });
  });

  route(r, VIEWS_API.systemDatasets, async (req, res) => {
    const id = systemIdParam(req);
    requireSystem(res, id);
    const { limit, offset } = queryParams(req, ['limit', 'offset']).page(100, 1000);
    if (!(await deps.systems.get(id))) throw notFound(`no system with id ${id}`);
    res.json({ ...(await systemDatasets(deps.pool, id, limit, offset)), limit, offset });
  });

  return r;
}
