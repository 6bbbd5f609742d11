import { Router, type Request } from 'express';
import { SyncGroupsRepository, issueRemedy, loadDatasetViews, loadGroupContext } from '@zfs-sync/db';
import { PlanError, buildRemedyPlan, isDestructiveStrategy, planGroupLinks, remedyStrategiesFor, wouldDestroy, type RemedyStrategy } from '@zfs-sync/domain';
import { requireAdmin } from '../auth/authenticate.js';
import type { ApiDeps } from '../deps.js';
import { CONFLICTS_API } from '@zfs-sync/contracts';
import { bodyParser, route } from '../http/route.js';
import { jsonBody } from '../http/body.js';
import { HttpProblem, badRequest, conflict as conflictProblem, notFound } from '../http/problem.js';
import { optionalUuidQuery, uuidParam } from './sync.routes.js';

interface ConflictRow {
  id: string;
  group_id: string;
  dataset: string;
  type: 'diverged' | 'no_common_base' | 'name_collision';
  severity: string;
  source_system_id: string;
  target_system_id: string;
  details: Record<string, unknown>;
  status: 'open' | 'resolved' | 'ignored';
  detected_at: Date;
  updated_at: Date;
  resolved_at: Date | null;
  resolution: Record<string, unknown> | null;
}

export function conflictToJson(c: ConflictRow) {
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
    strategies: [...remedyStrategiesFor(c.type), 'ignore', 'manual'],
  };
}

const STATUSES = ['open', 'resolved', 'ignored'];

/** Conflicts (admin): list, read, the original's per-group views, and operator resolution. */
export function conflictRoutes(deps: ApiDeps): Router {
  const r = Router();
  const parseResolve = bodyParser(CONFLICTS_API.resolve);
  const groups = new SyncGroupsRepository(deps.pool);

  const statusQuery = (req: Request): string | null => {
    const s = req.query.status;
    if (s === undefined || s === '') return null;
    if (typeof s !== 'string' || !STATUSES.includes(s)) throw badRequest(`status must be one of ${STATUSES.join(', ')}`, { field: 'status' });
    return s;
  };

  async function list(groupId: string | null, status: string | null): Promise<ConflictRow[]> {
    const { rows } = await deps.pool.query<ConflictRow>(
      `select * from conflicts where ($1::uuid is null or group_id = $1) and ($2::text is null or status = $2) order by detected_at desc, id limit 1000`,
      [groupId, status],
    );
    return rows;
  }

  async function getOr404(id: string): Promise<ConflictRow> {
    const row = (await deps.pool.query<ConflictRow>('select * from conflicts where id = $1', [id])).rows[0];
    if (!row) throw notFound(`no conflict with id ${id}`);
    return row;
  }

  route(r, CONFLICTS_API.list, async (req, res) => {
    requireAdmin(res);
    res.json((await list(optionalUuidQuery(req, 'sync_group_id'), statusQuery(req))).map(conflictToJson));
  });

  route(r, CONFLICTS_API.forGroup, async (req, res) => {
    requireAdmin(res);
    res.json((await list(uuidParam(req, 'id'), statusQuery(req))).map(conflictToJson));
  });

  route(r, CONFLICTS_API.summary, async (req, res) => {
    requireAdmin(res);
    const groupId = uuidParam(req, 'id');
    const { rows } = await deps.pool.query<{ status: string; type: string; severity: string; n: number }>(
      'select status, type, severity, count(*)::int as n from conflicts where group_id = $1 group by status, type, severity',
      [groupId],
    );
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
    res.json(conflictToJson(await getOr404(uuidParam(req, 'id'))));
  });

  route(r, CONFLICTS_API.resolve, ...jsonBody(deps.config.jsonBodyLimitBytes), async (req, res) => {
    requireAdmin(res);
    const id = uuidParam(req, 'id');
    const body = parseResolve(req);
    const c = await getOr404(id);
    if (c.status === 'resolved') throw conflictProblem('this conflict is already resolved', { field: 'id' });
    const record = { strategy: body.strategy, by: 'admin', at: new Date().toISOString(), ...(body.note ? { note: body.note } : {}) };

    if (body.strategy === 'ignore' || body.strategy === 'manual') {
      const { rows } = await deps.pool.query<ConflictRow>(
        `update conflicts set status = $2, resolution = $3, updated_at = now() where id = $1 returning *`,
        [id, body.strategy === 'ignore' ? 'ignored' : c.status, JSON.stringify(record)],
      );
      return res.json({ conflict: conflictToJson(rows[0]!), instruction_id: null });
    }

    const strategy = body.strategy as RemedyStrategy;
    if (!remedyStrategiesFor(c.type).includes(strategy)) {
      throw badRequest(`strategy ${strategy} does not apply to a ${c.type} conflict; use one of ${[...remedyStrategiesFor(c.type), 'ignore', 'manual'].join(', ')}`, { field: 'strategy' });
    }
    // Work from the link as it is now, not as it was when the conflict opened.
    const ctx = await loadGroupContext(groups, c.group_id);
    if (!ctx) throw notFound(`the conflict's sync group no longer exists`);
    const views = await loadDatasetViews(deps.pool, ctx.members.map((m) => m.systemId), c.dataset, ctx.targetPools);
    const link = planGroupLinks({ policy: ctx.policy, members: ctx.members, datasetViews: new Map([[c.dataset, views]]), now: Math.floor(Date.now() / 1000) }).find(
      (l) => l.sourceSystemId === c.source_system_id && l.targetSystemId === c.target_system_id,
    );
    const targetView = views.find((v) => v.systemId === c.target_system_id);
    if (!link || !targetView || !['diverged', 'no_common_base'].includes(link.verdict.verdict)) {
      throw conflictProblem('the condition behind this conflict has changed; it will close or update with the next recompute', { field: 'id' });
    }
    const casualties = wouldDestroy(targetView, link.verdict, strategy);
    if (isDestructiveStrategy(strategy) && body.confirm !== true) {
      throw new HttpProblem(409, 'confirmation-required', `${strategy} destroys ${casualties.length} snapshot(s) on the target; send "confirm": true to proceed`, {
        field: 'confirm',
        strategy,
        would_destroy: casualties,
        target_system_id: c.target_system_id,
        dataset: c.dataset,
      });
    }
    let plan;
    try {
      plan = buildRemedyPlan({ link, targetView, strategy, policy: ctx.policy, members: ctx.members, renameSuffix: new Date().toISOString().replace(/[^0-9]/g, '').slice(0, 14) });
    } catch (err) {
      if (err instanceof PlanError) throw badRequest(`no safe plan for ${strategy}: ${err.message}`, { field: 'strategy' });
      throw err;
    }
    const instructionId = await issueRemedy(deps.pool, c, plan, { ...record, confirmed: body.confirm === true, would_destroy: casualties });
    res.status(202).json({ conflict: conflictToJson(await getOr404(id)), instruction_id: instructionId, executor_system_id: plan.executorSystemId, would_destroy: casualties, commands: plan.commands });
  });

  return r;
}
