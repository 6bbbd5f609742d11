import type pg from 'pg';
import { systemToJson, type SystemJson } from './systems.repository.js';
import { protectionSummary } from './protection-queries.js';

type Queryable = Pick<pg.Pool, 'query'>;

/** `ILIKE` pattern matching `text` literally anywhere. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Online means a heartbeat within the timeout: the same rule as the health endpoints. */
const ONLINE = `(s.last_seen is not null and s.last_seen >= now() - make_interval(secs => $1))`;

export interface FleetOverview {
  systems: { total: number; online: number; offline: number; never_seen: number };
  groups: { total: number; enabled: number };
  links: { total: number; by_verdict: Record<string, number> };
  conflicts: { open: number };
  oldest_lag: null | { lag_seconds: number; sync_group_id: string; dataset: string; source_system_id: string; target_system_id: string; verdict: string };
  protection: { datasets: number; under_policy: number; violations: number };
}

/** The fleet at a glance, in one round trip of aggregate queries (cheap at 2,000 systems and 20,000 links). */
export async function fleetOverview(db: Queryable, heartbeatTimeoutSeconds: number): Promise<FleetOverview> {
  const { rows } = await db.query(
    `select
       (select json_build_object('total', count(*), 'online', count(*) filter (where ${ONLINE}), 'never_seen', count(*) filter (where s.last_seen is null)) from systems s) as systems,
       (select json_build_object('total', count(*), 'enabled', count(*) filter (where enabled)) from sync_groups) as groups,
       (select coalesce(json_object_agg(verdict, n), '{}'::json) from (select verdict, count(*)::int as n from sync_links group by verdict) v) as by_verdict,
       (select count(*)::int from conflicts where status = 'open') as open_conflicts,
       (select json_build_object('lag_seconds', lag_seconds, 'sync_group_id', group_id, 'dataset', dataset, 'source_system_id', source_system_id,
                                 'target_system_id', target_system_id, 'verdict', verdict)
          from sync_links where lag_seconds is not null and lag_seconds > 0 order by lag_seconds desc limit 1) as oldest_lag`,
    [heartbeatTimeoutSeconds],
  );
  const r = rows[0];
  const byVerdict: Record<string, number> = r.by_verdict;
  return {
    systems: { ...r.systems, offline: r.systems.total - r.systems.online },
    groups: r.groups,
    links: { total: Object.values(byVerdict).reduce((a, n) => a + n, 0), by_verdict: byVerdict },
    conflicts: { open: r.open_conflicts },
    oldest_lag: r.oldest_lag && { ...r.oldest_lag, lag_seconds: Number(r.oldest_lag.lag_seconds) },
    protection: await protectionSummary(db),
  };
}

export const SYSTEM_SORTS = {
  hostname: 'lower(s.hostname)',
  platform: 's.platform',
  site: 's.site',
  status: `${ONLINE}`,
  last_seen: 's.last_seen',
  last_inventory_at: 's.last_inventory_at',
  created_at: 's.created_at',
} as const;
export type SystemSort = keyof typeof SYSTEM_SORTS;

export interface SystemPageQuery {
  heartbeatTimeoutSeconds: number;
  q: string | null;
  status: 'online' | 'offline' | null;
  site: string | null;
  sort: SystemSort;
  order: 'asc' | 'desc';
  limit: number;
  offset: number;
  /** Add dataset/snapshot counts (computed for the page's rows only). */
  withStats: boolean;
}

export interface SystemPageRow extends SystemJson {
  status: 'online' | 'offline';
  agent_version: string | null;
  last_inventory_at: string | null;
  dataset_count?: number;
  snapshot_count?: number;
}

/**
 * One page of systems: search (host name, site, platform), status and site filters, sort. The
 * filter and sort run over the whole table; the counts only over the rows of the page.
 */
export async function listSystemsPage(db: Queryable, q: SystemPageQuery): Promise<{ total: number; rows: SystemPageRow[] }> {
  const sort = SYSTEM_SORTS[q.sort];
  const dir = q.order === 'desc' ? 'desc nulls last' : 'asc nulls first';
  const { rows } = await db.query(
    `with page as (
       select s.*, ${ONLINE} as online, ${sort} as sort_key, count(*) over () as total
         from systems s
        where ($2::text is null or s.hostname ilike $2 or s.site ilike $2 or s.platform ilike $2)
          and ($3::text is null or (${ONLINE}) = ($3 = 'online'))
          and ($4::text is null or s.site = $4)
        order by ${sort} ${dir}, s.id
        limit $5 offset $6
     )
     select page.*${
       q.withStats
         ? `, (select count(*)::int from datasets d where d.system_id = page.id and d.gone_at is null) as dataset_count,
              (select count(*)::int from snapshots x where x.system_id = page.id and x.kind = 'snapshot') as snapshot_count`
         : ''
     }
       from page order by page.sort_key ${dir}, page.id`,
    [q.heartbeatTimeoutSeconds, q.q ? containsPattern(q.q) : null, q.status, q.site, q.limit, q.offset],
  );
  let total = rows.length ? Number(rows[0].total) : 0;
  if (!rows.length && q.offset > 0) {
    const c = await db.query(
      `select count(*)::int as n from systems s where ($2::text is null or s.hostname ilike $2 or s.site ilike $2 or s.platform ilike $2)
         and ($3::text is null or (${ONLINE}) = ($3 = 'online')) and ($4::text is null or s.site = $4)`,
      [q.heartbeatTimeoutSeconds, q.q ? containsPattern(q.q) : null, q.status, q.site],
    );
    total = c.rows[0].n;
  }
  return {
    total,
    rows: rows.map((r) => ({
      ...systemToJson({
        id: r.id,
        hostname: r.hostname,
        platform: r.platform,
        sshHostname: r.ssh_hostname,
        sshUser: r.ssh_user,
        sshPort: r.ssh_port,
        extraMetadata: r.extra_metadata,
        site: r.site,
        connectivityStatus: r.connectivity_status,
        lastSeen: r.last_seen,
        createdAt: r.created_at,
        updatedAt: r.updated_at,
      }),
      status: r.online ? 'online' : 'offline',
      agent_version: typeof r.extra_metadata?.agent_version === 'string' ? r.extra_metadata.agent_version : null,
      last_inventory_at: r.last_inventory_at ? r.last_inventory_at.toISOString() : null,
      ...(q.withStats ? { dataset_count: r.dataset_count, snapshot_count: r.snapshot_count } : {}),
    })),
  };
}

/** The original's statistics view, fleet-wide and with real data: snapshots created per day, top pools. */
export async function fleetStatistics(db: Queryable, days: number, topPools: number) {
  const perDay = await db.query<{ day: string; created: number }>(
    `select to_char(d, 'YYYY-MM-DD') as day, coalesce(c.n, 0)::int as created
       from generate_series(current_date - ($1::int - 1), current_date, interval '1 day') d
       left join (select date_trunc('day', creation)::date as day, count(*) as n
                    from snapshots where kind = 'snapshot' and creation >= current_date - ($1::int - 1)
                   group by 1) c on c.day = d::date
      order by d`,
    [days],
  );
  const pools = await db.query<{ system_id: string; hostname: string; pool: string; snapshots: number }>(
    `select d.system_id, s.hostname, d.pool, count(*)::int as snapshots
       from snapshots x join datasets d on d.id = x.dataset_id join systems s on s.id = d.system_id
      where x.kind = 'snapshot'
      group by d.system_id, s.hostname, d.pool
      order by snapshots desc, s.hostname, d.pool
      limit $1`,
    [topPools],
  );
  return {
    days,
    snapshots_per_day: perDay.rows,
    top_pools: pools.rows,
  };
}

/** A system's datasets with their snapshot counts and newest snapshot, one page at a time. */
export async function systemDatasets(db: Queryable, systemId: string, limit: number, offset: number) {
  const { rows } = await db.query(
    `select d.pool, d.path as dataset, d.last_seen, count(*) over () as total,
            (select count(*)::int from snapshots s where s.dataset_id = d.id and s.kind = 'snapshot') as snapshot_count,
            (select max(s.creation) from snapshots s where s.dataset_id = d.id and s.kind = 'snapshot') as newest_snapshot_at
       from datasets d
      where d.system_id = $1 and d.gone_at is null
      order by d.pool, d.path
      limit $2 offset $3`,
    [systemId, limit, offset],
  );
  return {
    total: rows.length ? Number(rows[0].total) : 0,
    items: rows.map((r) => ({
      pool: r.pool,
      dataset: r.dataset,
      snapshot_count: r.snapshot_count,
      newest_snapshot_at: r.newest_snapshot_at ? r.newest_snapshot_at.toISOString() : null,
      last_reported_at: r.last_seen.toISOString(),
    })),
  };
}
