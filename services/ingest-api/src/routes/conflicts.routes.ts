import { Router, type Request } from 'express';
import { listConflictsPage, previewRemedy, type ConflictRecord, type ResolutionRecord } from '@zfs-sync/db';
import { isDestructiveStrategy, remedyStrategiesFor, type RemedyStrategy } from '@zfs-sync/domain';
import { auditActor, requireAdmin } from '../auth/authenticate.js';
import type { ApiDeps } from '../deps.js';
import { CONFLICTS_API } from '@zfs-sync/contracts';
import { bodyParser, route } from '../http/route.js';
import { jsonBody } from '../http/body.js';
import { queryParams, setTotal } from '../http/query.js';
import { HttpProblem, badRequest, conflict as conflictProblem, notFound } from '../http/problem.js';
import { optionalUuidQuery, uuidParam } from './sync.routes.js';

export function resolutionToJson(r: ResolutionRecord) {
  return {
    id: r.id,
    strategy: r.strategy,
    confirmed: r.confirmed,
    note: r.note,
    requested_by: r.requested_by,
    would_destroy: r.would_destroy,
    status: r.status,
    outcome: r.outcome,
    instruction_id: r.instruction_id,
    requested_at: r.requested_at.toISOString(),
    processed_at: r.processed_at ? r.processed_at.toISOString() : null,
  };
}

export function conflictToJson(c: ConflictRecord & { group_name?: string; source_hostname?: string; target_hostname?: string }, resolutions: ResolutionRecord[] = []) {
  const remedies = remedyStrategiesFor(c.type);
  return {
    id: c.id,
    sync_group_id: c.group_id,
    dataset: c.dataset,
    type: c.type,
    severity: c.severity,
    source_system_id: c.source_system_id,
    target_system_id: c.target_system_id,
    details: c.details,
    status: c.status,
    detected_at: c.detected_at.toISOString(),
    updated_at: c.updated_at.toISOString(),
    resolved_at: c.resolved_at ? c.resolved_at.toISOString() : null,
    resolution: c.resolution,
    resolution_requests: resolutions.map(resolutionToJson),
    strategies: [...remedies, 'ignore', 'manual'],
    // The strategies that destroy snapshots: they need "confirm": true after the dry run.
    destructive_strategies: remedies.filter(isDestructiveStrategy),
    ...(c.group_name !== undefined ? { sync_group_name: c.group_name, source_hostname: c.source_hostname, target_hostname: c.target_hostname } : {}),
  };
}

const STATUSES = ['open', 'resolved', 'ignored'];

/**
 * Conflicts (admin): list, read, the original's per-group views, and operator resolution. The
 * API answers the dry run (what a strategy would destroy, from the current inventories) and
 * records a confirmed choice; the recompute processor carries it out under its lock.
 */
export function conflictRoutes(deps: ApiDeps): Router {
  const r = Router();
  const parseResolve = bodyParser(CONFLICTS_API.resolve);

  const statusQuery = (req: Request): string | null => {
    const s = req.query.status;
    if (s === undefined || s === '') return null;
    if (typeof s !== 'string' || !STATUSES.includes(s)) throw badRequest(`status must be one of ${STATUSES.join(', ')}`, { field: 'status' });
    return s;
  };

  async function getOr404(id: string): Promise<ConflictRecord> {
    const row = await deps.conflicts.get(id);
    if (!row) throw notFound(`no conflict with id ${id}`);
    return row;
  }

  route(r, CONFLICTS_API.list, async (req, res) => {
    requireAdmin(res);
    if (Object.keys(req.query).some((k) => k === 'limit' || k === 'offset')) {
      // Paged (additive): with the group and host names, the total in X-Total-Count.
      const page = queryParams(req, ['sync_group_id', 'status', 'limit', 'offset']).page(50, 1000);
      const result = await listConflictsPage(deps.pool, { groupId: optionalUuidQuery(req, 'sync_group_id'), status: statusQuery(req), ...page });
      setTotal(res, result.total);
      return res.json(result.rows.map((c) => conflictToJson(c)));
    }
    res.json((await deps.conflicts.list({ groupId: optionalUuidQuery(req, 'sync_group_id'), status: statusQuery(req) })).map((c) => conflictToJson(c)));
  });

  route(r, CONFLICTS_API.forGroup, async (req, res) => {
    requireAdmin(res);
    res.json((await deps.conflicts.list({ groupId: uuidParam(req, 'id'), status: statusQuery(req) })).map((c) => conflictToJson(c)));
  });

  route(r, CONFLICTS_API.summary, async (req, res) => {
    requireAdmin(res);
    const groupId = uuidParam(req, 'id');
    const rows = await deps.conflicts.countsOfGroup(groupId);
    const by = (key: 'status' | 'type' | 'severity', filter?: (r: (typeof rows)[number]) => boolean) =>
      rows.filter(filter ?? (() => true)).reduce<Record<string, number>>((acc, r) => ({ ...acc, [r[key]]: (acc[r[key]] ?? 0) + r.n }), {});
    const open = (r: (typeof rows)[number]) => r.status === 'open';
    res.json({
      sync_group_id: groupId,
      total_conflicts: rows.reduce((a, r) => a + r.n, 0),
      open_conflicts: rows.filter(open).reduce((a, r) => a + r.n, 0),
      by_status: by('status'),
      by_type: by('type', open),
      by_severity: by('severity', open),
      summary_timestamp: new Date().toISOString(),
    });
  });

  route(r, CONFLICTS_API.get, async (req, res) => {
    requireAdmin(res);
    const c = await getOr404(uuidParam(req, 'id'));
    res.json(conflictToJson(c, await deps.conflicts.resolutionsOf(c.id)));
  });

  route(r, CONFLICTS_API.resolve, ...jsonBody(deps.config.jsonBodyLimitBytes), async (req, res) => {
    requireAdmin(res);
    const id = uuidParam(req, 'id');
    const body = parseResolve(req);
    const c = await getOr404(id);
    if (c.status === 'resolved') throw conflictProblem('this conflict is already resolved', { field: 'id' });
    let casualties: string[] = [];
    if (body.strategy !== 'ignore' && body.strategy !== 'manual') {
      const strategy = body.strategy as RemedyStrategy;
      if (!remedyStrategiesFor(c.type).includes(strategy)) {
        throw badRequest(`strategy ${strategy} does not apply to a ${c.type} conflict; use one of ${[...remedyStrategiesFor(c.type), 'ignore', 'manual'].join(', ')}`, { field: 'strategy' });
      }
      // The dry run: exactly what the strategy would destroy on the target, from the inventories as they are now.
      const preview = await previewRemedy(deps.pool, deps.groups, c, strategy);
      if (!preview.ok) throw conflictProblem(preview.reason, { field: 'id' });
      casualties = preview.wouldDestroy;
      if (isDestructiveStrategy(strategy) && body.confirm !== true) {
        throw new HttpProblem(409, 'confirmation-required', `${strategy} destroys ${casualties.length} snapshot(s) on the target; send "confirm": true to proceed`, {
          field: 'confirm',
          strategy,
          would_destroy: casualties,
          target_system_id: c.target_system_id,
          dataset: c.dataset,
        });
      }
    }
    const resolution = await deps.conflicts.recordResolution(c, { strategy: body.strategy, confirmed: body.confirm === true, note: body.note ?? null, requestedBy: 'admin', wouldDestroy: casualties }, auditActor(res));
    try {
      await deps.producer.enqueue('recomputeDataset', { group_id: c.group_id, dataset: c.dataset, reason: `resolution ${body.strategy} confirmed` });
    } catch (err) {
      deps.logger.warn({ err: (err as Error).message }, 'could not queue the resolution; the sync sweep will pick it up');
    }
    res
      .status(202)
      .location(`/api/v1/conflicts/${c.id}`)
      .json({ conflict: conflictToJson(c, [resolution]), resolution: resolutionToJson(resolution), would_destroy: casualties, status_url: `/api/v1/conflicts/${c.id}` });
  });

  return r;
}
