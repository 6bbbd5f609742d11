import { Router, type Request } from 'express';
import { SYNC_STATE_STATUSES } from '@zfs-sync/contracts';
import { checkDatasetPath, datasetSelected } from '@zfs-sync/domain';
import { principalOf, requireAdmin, requireSystem } from '../auth/authenticate.js';
import type { ApiDeps } from '../deps.js';
import { SYNC_API } from '@zfs-sync/contracts';
import { documentedValidator, route } from '../http/route.js';
import { jsonBody } from '../http/body.js';
import { badRequest, forbidden, notFound, unauthorized, validationProblem } from '../http/problem.js';
import { optionalUuidQuery, uuidParam } from './sync.routes.js';
import type { SyncStateRecord } from '@zfs-sync/db';

/*
 * Original-compatible sync states: one row per (group, dataset, system) with status in_sync |
 * out_of_sync | syncing | conflict | error. The recompute processor writes them (source
 * 'computed'); a host may report one by hand (source 'reported'), which stands until the next
 * recompute of that dataset replaces it. `dataset` is the path relative to the pool, as
 * everywhere in the sync engine. Only states of current group members are shown.
 */

type SyncStateStatus = (typeof SYNC_STATE_STATUSES)[number];

export function syncStateToJson(r: SyncStateRecord) {
  const at = r.updated_at.toISOString();
  return {
    // Stable and unique: UUIDs have a fixed length, so a ':' inside the dataset stays unambiguous.
    id: `${r.group_id}:${r.dataset}:${r.system_id}`,
    sync_group_id: r.group_id,
    dataset: r.dataset,
    system_id: r.system_id,
    status: r.status,
    error_message: r.error_message,
    source: r.source,
    last_sync: at,
    updated_at: at,
  };
}

/** Refuse query parameters the route does not take, and repeated or structured values. */
function plainQuery(req: Request, allowed: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(req.query)) {
    if (!allowed.includes(key)) throw badRequest(`unknown query parameter "${key}" (this route takes: ${allowed.join(', ')})`, { field: key });
    if (typeof v !== 'string') throw badRequest(`${key} must be given once, as a plain value`, { field: key });
    out[key] = v;
  }
  return out;
}

function statusFilter(q: Record<string, string>): SyncStateStatus | null {
  const v = q.status;
  if (v === undefined || v === '') return null;
  if (!(SYNC_STATE_STATUSES as readonly string[]).includes(v)) throw badRequest(`status must be one of ${SYNC_STATE_STATUSES.join(', ')}`, { field: 'status' });
  return v as SyncStateStatus;
}

const LIST_PARAMS = ['sync_group_id', 'system_id', 'status', 'dataset'] as const;
const REPORT_FIELDS = ['sync_group_id', 'dataset', 'system_id', 'status', 'error_message'] as const;

export function syncStateRoutes(deps: ApiDeps): Router {
  const r = Router();
  const body = jsonBody(deps.config.jsonBodyLimitBytes);
  const checkReport = documentedValidator(SYNC_API.reportState);

  const states = deps.syncStates;
  const listStates = async (f: Parameters<typeof states.list>[0]) => (await states.list(f)).map(syncStateToJson);
  const groupExists = async (id: string) => (await deps.groups.get(id)) !== null;

  route(r, SYNC_API.states, async (req, res) => {
    const systemId = optionalUuidQuery(req, 'system_id');
    if (systemId) requireSystem(res, systemId);
    else requireAdmin(res);
    const q = plainQuery(req, LIST_PARAMS);
    const groupId = optionalUuidQuery(req, 'sync_group_id');
    res.json(await listStates({ groupId, systemId, status: statusFilter(q), dataset: q.dataset ? q.dataset : null }));
  });

  route(r, SYNC_API.groupStates, async (req, res) => {
    requireAdmin(res);
    const id = uuidParam(req, 'id');
    const q = plainQuery(req, ['system_id', 'status', 'dataset']);
    if (!(await groupExists(id))) throw notFound(`no sync group with id ${id}`);
    res.json(await listStates({ groupId: id, systemId: optionalUuidQuery(req, 'system_id'), status: statusFilter(q), dataset: q.dataset ? q.dataset : null }));
  });

  route(r, SYNC_API.groupStatus, async (req, res) => {
    requireAdmin(res);
    const id = uuidParam(req, 'id');
    // One row per status present (or one null row for a group without states); none: no group.
    const rows = await states.statusCounts(id);
    if (rows.length === 0) throw notFound(`no sync group with id ${id}`);
    const breakdown = Object.fromEntries(SYNC_STATE_STATUSES.map((s) => [s, 0])) as Record<SyncStateStatus, number>;
    let last: Date | null = null;
    for (const row of rows) {
      if (row.status === null) continue;
      breakdown[row.status] = row.n;
      if (row.last && (!last || row.last > last)) last = row.last;
    }
    res.json({
      sync_group_id: id,
      total_states: Object.values(breakdown).reduce((a, b) => a + b, 0),
      status_breakdown: breakdown,
      in_sync_count: breakdown.in_sync,
      out_of_sync_count: breakdown.out_of_sync,
      syncing_count: breakdown.syncing,
      conflict_count: breakdown.conflict,
      error_count: breakdown.error,
      last_updated: last ? last.toISOString() : null,
    });
  });

  route(r, SYNC_API.groupAnalysis, async (req, res) => {
    requireAdmin(res);
    const id = uuidParam(req, 'id');
    const group = await deps.groups.get(id);
    if (!group) throw notFound(`no sync group with id ${id}`);
    const rows = await states.analysis(id);
    const datasets = new Map<string, { dataset: string; systems: unknown[] }>();
    for (const row of rows) {
      // The group's dataset selection decides which inventory datasets it covers; a hand report counts anyway.
      if (!row.reported && !datasetSelected(row.dataset, group.datasets)) continue;
      let entry = datasets.get(row.dataset);
      if (!entry) datasets.set(row.dataset, (entry = { dataset: row.dataset, systems: [] }));
      entry.systems.push({
        system_id: row.system_id,
        hostname: row.hostname,
        present: row.pool !== null,
        pool: row.pool,
        snapshot_count: row.snapshot_count,
        latest_snapshot: row.latest_name === null ? null : { name: row.latest_name, guid: row.latest_guid, timestamp: row.latest_creation!.toISOString() },
        status: row.status ?? 'unknown',
        verdict: row.verdict,
      });
    }
    res.json({ sync_group_id: id, dataset_count: datasets.size, datasets: [...datasets.values()], analysis_timestamp: new Date().toISOString() });
  });

  /**
   * A host reporting a state by hand. The original client sends query parameters; a JSON body
   * with the same fields is accepted too (one or the other). `dataset` may be the path relative
   * to the pool or, as the original sends it, `pool/path` of the reporting system's own dataset.
   */
  route(r, SYNC_API.reportState, ...body, async (req, res) => {
    const who = principalOf(res);
    if (who.kind === 'anonymous') throw unauthorized();
    if (who.kind !== 'admin' && who.kind !== 'host') throw forbidden('only a host key or the admin token can report sync states');

    const hasBody = req.body !== undefined && !(typeof req.body === 'object' && req.body !== null && !Array.isArray(req.body) && Object.keys(req.body).length === 0);
    const hasQuery = Object.keys(req.query).length > 0;
    if (hasBody && hasQuery) throw badRequest('send the state either as query parameters or as a JSON body, not both');
    let input: unknown;
    if (hasBody) input = req.body;
    else {
      const q = plainQuery(req, REPORT_FIELDS);
      input = { ...q, ...(q.error_message === '' ? { error_message: null } : {}) };
    }
    const checked = checkReport(input);
    if (!checked.ok) throw validationProblem(checked.error);
    const report = checked.value;
    const datasetProblem = checkDatasetPath(report.dataset);
    if (datasetProblem) throw badRequest(`dataset ${datasetProblem}`, { field: 'dataset' });
    const groupId = report.sync_group_id.toLowerCase();
    const systemId = report.system_id.toLowerCase();
    if (who.kind === 'host' && who.systemId !== systemId) throw forbidden('a host key reports states only for its own system');

    const found = await states.reportTarget(groupId, systemId, report.dataset);
    if (!found) throw notFound(`no sync group with id ${groupId}`);
    if (!found.member) throw badRequest(`system_id ${systemId} is not a member of sync group ${groupId}`, { field: 'system_id' });
    const dataset = found.path ?? report.dataset;

    const stored = await states.record({ groupId, dataset, systemId, status: report.status, errorMessage: report.error_message ?? null });
    res.json(syncStateToJson(stored));
  });

  return r;
}
