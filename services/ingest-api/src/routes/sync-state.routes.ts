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

/*
 * Original-compatible sync states: one row per (group, dataset, system) with status in_sync |
 * out_of_sync | syncing | conflict | error. The recompute processor writes them (source
 * 'computed'); a host may report one by hand (source 'reported'), which stands until the next
 * recompute of that dataset replaces it. `dataset` is the path relative to the pool, as
 * everywhere in the sync engine. Only states of current group members are shown.
 */

type SyncStateStatus = (typeof SYNC_STATE_STATUSES)[number];

interface StateRow {
  group_id: string;
  dataset: string;
  system_id: string;
  status: SyncStateStatus;
  error_message: string | null;
  source: 'computed' | 'reported';
  updated_at: Date;
}

const STATE_COLUMNS = 's.group_id, s.dataset, s.system_id, s.status, s.error_message, s.source, s.updated_at';

export function syncStateToJson(r: StateRow) {
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

  async function listStates(f: { groupId: string | null; systemId: string | null; status: SyncStateStatus | null; dataset: string | null }) {
    const { rows } = await deps.pool.query<StateRow>(
      `select ${STATE_COLUMNS}
         from sync_states s
         join sync_group_members m on m.group_id = s.group_id and m.system_id = s.system_id
        where ($1::uuid is null or s.group_id = $1) and ($2::uuid is null or s.system_id = $2)
          and ($3::text is null or s.status = $3) and ($4::text is null or s.dataset = $4)
        order by s.group_id, s.dataset, s.system_id`,
      [f.groupId, f.systemId, f.status, f.dataset],
    );
    return rows.map(syncStateToJson);
  }

  async function groupExists(id: string): Promise<boolean> {
    return (await deps.pool.query('select 1 from sync_groups where id = $1', [id])).rowCount === 1;
  }

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
    const { rows } = await deps.pool.query<{ status: SyncStateStatus | null; n: number; last: Date | null }>(
      `select s.status, count(s.status)::int as n, max(s.updated_at) as last
         from sync_groups g
         left join (select st.* from sync_states st join sync_group_members m on m.group_id = st.group_id and m.system_id = st.system_id) s on s.group_id = g.id
        where g.id = $1
        group by s.status`,
      [id],
    );
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
    // Every (dataset, member) pair in one statement: the datasets any member holds plus those with
    // a hand-reported state; for each member its pool, snapshot count, newest snapshot (its own
    // createtxg order), state and the verdict of the link where it is the target.
    const { rows } = await deps.pool.query<{
      dataset: string;
      in_inventory: boolean;
      reported: boolean;
      system_id: string;
      hostname: string;
      pool: string | null;
      snapshot_count: number;
      latest_name: string | null;
      latest_guid: string | null;
      latest_creation: Date | null;
      status: SyncStateStatus | null;
      verdict: string | null;
    }>(
      `with members as (
         select m.system_id, s.hostname from sync_group_members m join systems s on s.id = m.system_id where m.group_id = $1
       ), held as (
         select d.id, d.system_id, d.pool, d.path from datasets d join members m on m.system_id = d.system_id where d.gone_at is null
       ), paths as (
         select distinct path as dataset, true as in_inventory, false as reported from held
         union all
         select st.dataset, false, true from sync_states st join members m on m.system_id = st.system_id
          where st.group_id = $1 and st.source = 'reported'
       ), ds as (
         select dataset, bool_or(in_inventory) as in_inventory, bool_or(reported) as reported from paths group by dataset
       )
       select ds.dataset, ds.in_inventory, ds.reported, m.system_id, m.hostname, h.pool,
              coalesce(c.n, 0)::int as snapshot_count, l.name as latest_name, l.guid as latest_guid, l.creation as latest_creation,
              st.status, k.verdict
         from ds cross join members m
         left join held h on h.system_id = m.system_id and h.path = ds.dataset
         left join lateral (select count(*) as n from snapshots s where s.dataset_id = h.id and s.kind = 'snapshot') c on true
         left join lateral (
           select s.name, s.guid::text as guid, s.creation from snapshots s where s.dataset_id = h.id and s.kind = 'snapshot'
            order by s.createtxg desc nulls last, s.creation desc, s.name desc limit 1
         ) l on true
         left join sync_states st on st.group_id = $1 and st.dataset = ds.dataset and st.system_id = m.system_id
         left join lateral (
           select verdict from sync_links k where k.group_id = $1 and k.dataset = ds.dataset and k.target_system_id = m.system_id
            order by k.updated_at desc limit 1
         ) k on true
        order by ds.dataset, lower(m.hostname), m.system_id, h.pool`,
      [id],
    );
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

    // Group, membership and the canonical dataset path in one round trip. A name that is a
    // member's path relative to the pool is taken as is; else `pool/path` of a member's dataset
    // (the reporter's own first) is read as that path; else the name is stored as given.
    const { rows } = await deps.pool.query<{ member: boolean; path: string | null }>(
      `select exists (select 1 from sync_group_members m where m.group_id = g.id and m.system_id = $2) as member,
              (select d.path from datasets d join sync_group_members m on m.group_id = g.id and m.system_id = d.system_id
                where d.gone_at is null
                  and (d.path = $3 or (case when d.path = '' then d.pool else d.pool || '/' || d.path end) = $3)
                order by (d.path = $3) desc, (d.system_id = $2) desc, d.pool, d.system_id limit 1) as path
         from sync_groups g where g.id = $1`,
      [groupId, systemId, report.dataset],
    );
    const found = rows[0];
    if (!found) throw notFound(`no sync group with id ${groupId}`);
    if (!found.member) throw badRequest(`system_id ${systemId} is not a member of sync group ${groupId}`, { field: 'system_id' });
    const dataset = found.path ?? report.dataset;

    const stored = await deps.pool.query<StateRow>(
      `insert into sync_states as s (group_id, dataset, system_id, status, error_message, source, updated_at)
       values ($1, $2, $3, $4, $5, 'reported', now())
       on conflict (group_id, dataset, system_id) do update set status = excluded.status, error_message = excluded.error_message, source = 'reported', updated_at = now()
       returning ${STATE_COLUMNS}`,
      [groupId, dataset, systemId, report.status, report.error_message ?? null],
    );
    res.json(syncStateToJson(stored.rows[0]!));
  });

  return r;
}
