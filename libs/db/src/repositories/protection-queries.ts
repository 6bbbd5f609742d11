import type pg from 'pg';

type Queryable = Pick<pg.Pool, 'query'>;

/**
 * Read side of the protection view. Copies and pools were counted by the recompute; sites are
 * counted here from the holders' current `site` (a system without a site adds no site), so moving
 * a host shows at once. The shortfall rule — fewer hosts than `min_copies` or fewer sites than
 * `min_sites` — lives in PROTECTION_ROWS and nowhere else.
 */
const PROTECTION_ROWS = `
  with holder_sites as (
    -- Every holder once, joined to systems once (set-based: a per-row subquery was 10x slower).
    select p.group_id, p.dataset, w.which, s.site
      from dataset_protection p
      cross join lateral (select 'newest' as which, h from jsonb_array_elements(p.newest_holders) h
                          union all select 'day_old', h from jsonb_array_elements(p.day_old_holders) h) w
      join systems s on s.id = (w.h->>'system_id')::uuid
     where ($1::uuid is null or p.group_id = $1)
  ), sites as (
    select group_id, dataset,
           count(distinct site) filter (where which = 'newest')::int as newest_sites,
           count(distinct site) filter (where which = 'day_old')::int as day_old_sites
      from holder_sites group by group_id, dataset
  ), counted as (
    select p.*, g.name as group_name, g.protection as policy,
           jsonb_array_length(p.newest_holders) as newest_pools,
           jsonb_array_length(p.day_old_holders) as day_old_pools,
           coalesce(st.newest_sites, 0) as newest_sites,
           coalesce(st.day_old_sites, 0) as day_old_sites
      from dataset_protection p
      join sync_groups g on g.id = p.group_id
      left join sites st on st.group_id = p.group_id and st.dataset = p.dataset
     where ($1::uuid is null or p.group_id = $1)
  )
  select c.*,
         (c.policy is not null and (c.newest_copies < (c.policy->>'min_copies')::int or c.newest_sites < (c.policy->>'min_sites')::int)) as violation
    from counted c`;

export interface ProtectionQuery {
  groupId: string | null;
  onlyViolations: boolean;
  limit: number;
  offset: number;
}

export interface ProtectionHolderJson {
  system_id: string;
  hostname: string;
  site: string | null;
  pool: string;
}

export interface ProtectionRowJson {
  sync_group_id: string;
  sync_group_name: string;
  dataset: string;
  policy: { min_copies: number; min_sites: number } | null;
  violation: boolean;
  matched_by: 'guid' | 'name';
  reference_system_id: string | null;
  newest: null | { name: string; guid: string | null; created_at: string; copies: number; pools: number; sites: number; holders: ProtectionHolderJson[] };
  day_old: null | { name: string; guid: string | null; created_at: string; copies: number; pools: number; sites: number; holders: ProtectionHolderJson[] };
  missing: Array<{ system_id: string; hostname: string; site: string | null }>;
  computed_at: string;
}

/** Holders with their host names and sites, for the rows of one page only. */
const HOLDERS = (column: string) => `
  coalesce((select jsonb_agg(jsonb_build_object('system_id', s.id, 'hostname', s.hostname, 'site', s.site, 'pool', h->>'pool') order by s.hostname, h->>'pool')
              from jsonb_array_elements(r.${column}) h join systems s on s.id = (h->>'system_id')::uuid), '[]'::jsonb)`;

/**
 * One page of datasets, least protected first: fewest hosts holding the newest eligible snapshot,
 * then fewest sites, then fewest holding the day-old one; ties by group and dataset name.
 */
export async function listProtection(db: Queryable, q: ProtectionQuery): Promise<{ total: number; rows: ProtectionRowJson[] }> {
  const { rows } = await db.query(
    `with r as (
       select *, count(*) over () as total from (${PROTECTION_ROWS}) x
        where (not $2 or x.violation)
        order by x.newest_copies, x.newest_sites, x.day_old_copies, x.group_name, x.dataset
        limit $3 offset $4
     )
     select r.*, ${HOLDERS('newest_holders')} as newest_list, ${HOLDERS('day_old_holders')} as day_old_list,
            coalesce((select jsonb_agg(jsonb_build_object('system_id', s.id, 'hostname', s.hostname, 'site', s.site) order by s.hostname)
                        from sync_group_members m join systems s on s.id = m.system_id
                       where m.group_id = r.group_id
                         and not exists (select 1 from jsonb_array_elements(r.newest_holders) h where (h->>'system_id')::uuid = m.system_id)), '[]'::jsonb) as missing
       from r
      order by r.newest_copies, r.newest_sites, r.day_old_copies, r.group_name, r.dataset`,
    [q.groupId, q.onlyViolations, q.limit, q.offset],
  );
  let total = rows.length > 0 ? Number(rows[0].total) : 0;
  if (rows.length === 0 && q.offset > 0) {
    // Past the end: still say how many there are.
    const c = await db.query(`select count(*)::int as n from (${PROTECTION_ROWS}) x where (not $2 or x.violation)`, [q.groupId, q.onlyViolations]);
    total = c.rows[0].n;
  }
  const point = (p: { name: string; guid: string | null; creation: number } | null, copies: number, pools: number, sites: number, holders: ProtectionHolderJson[]) =>
    p === null ? null : { name: p.name, guid: p.guid, created_at: new Date(p.creation * 1000).toISOString(), copies, pools, sites, holders };
  return {
    total,
    rows: rows.map((r) => ({
      sync_group_id: r.group_id,
      sync_group_name: r.group_name,
      dataset: r.dataset,
      policy: r.policy,
      violation: r.violation,
      matched_by: r.matched_by,
      reference_system_id: r.reference_system_id,
      newest: point(r.newest, r.newest_copies, r.newest_pools, r.newest_sites, r.newest_list),
      day_old: point(r.day_old, r.day_old_copies, r.day_old_pools, r.day_old_sites, r.day_old_list),
      missing: r.missing,
      computed_at: r.computed_at.toISOString(),
    })),
  };
}

/** Datasets under a protection policy, and how many of them fall short (for the gauge and the overview). */
export async function protectionSummary(db: Queryable): Promise<{ under_policy: number; violations: number; datasets: number }> {
  const { rows } = await db.query(
    `select count(*)::int as datasets, count(*) filter (where x.policy is not null)::int as under_policy, count(*) filter (where x.violation)::int as violations
       from (${PROTECTION_ROWS}) x`,
    [null],
  );
  return rows[0];
}
