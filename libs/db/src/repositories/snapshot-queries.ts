import type pg from 'pg';

/**
 * Read queries over the snapshot inventory (tables of Migration20261126000002). Each function is
 * one set-based statement (plus, at most, a cheap existence check). uint64 columns (guid,
 * createtxg, used, referenced) and ids come back as decimal strings — they are cast to text in
 * SQL and never pass through a JS number.
 *
 * Dataset names across hosts: datasets are matched by their path relative to the pool (pool
 * names differ between hosts). A caller may also name a dataset with its pool prefix
 * (`tank/home`); that form is used only when no system in scope has a dataset at the literal
 * relative path `tank/home` — see `resolveDataset` below.
 */

type Db = Pick<pg.Pool, 'query'>;

export type SnapshotKind = 'snapshot' | 'bookmark';

export interface SnapshotRecord {
  id: string;
  system_id: string;
  pool: string;
  /** Path relative to the pool; '' for the pool's root dataset. */
  dataset: string;
  kind: SnapshotKind;
  name: string;
  guid: string | null;
  createtxg: string | null;
  creation: Date;
  used: string | null;
  referenced: string | null;
  userrefs: number | null;
  first_seen: Date;
  last_seen: Date;
}

const SNAPSHOT_COLUMNS = `
  s.id::text as id, s.system_id::text as system_id, d.pool, d.path as dataset, s.kind, s.name,
  s.guid::text as guid, s.createtxg::text as createtxg, s.creation, s.used::text as used,
  s.referenced::text as referenced, s.userrefs, s.first_seen, s.last_seen`;

/** Full ZFS name of a dataset row aliased `d` ('pool' for the root, 'pool/path' otherwise). */
const FULL_NAME = `(case when d.path = '' then d.pool else d.pool || '/' || d.path end)`;

/**
 * SQL condition: dataset `d` of system `systemCol` is the one the caller named with `$p`. The
 * literal relative path wins; the pool-prefixed full name counts only when that system has no
 * live dataset at the literal path.
 */
function datasetFilter(p: string, systemCol: string): string {
  return `(d.path = ${p} or (${FULL_NAME} = ${p} and not exists (
            select 1 from datasets lit where lit.system_id = ${systemCol} and lit.path = ${p} and lit.gone_at is null)))`;
}

export async function systemExists(db: Db, systemId: string): Promise<boolean> {
  const { rowCount } = await db.query('select 1 from systems where id = $1', [systemId]);
  return (rowCount ?? 0) > 0;
}

/** The ids among `systemIds` that are not registered systems. */
export async function unknownSystems(db: Db, systemIds: readonly string[]): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    'select t.id::text as id from unnest($1::uuid[]) as t(id) where not exists (select 1 from systems s where s.id = t.id)',
    [systemIds],
  );
  return rows.map((r) => r.id);
}

// ---------------------------------------------------------------- list and get

/** Keyset position: the (creation, id) of the last row of a page. */
export interface SnapshotPosition {
  /** creation as `YYYY-MM-DDTHH:MI:SS.ffffffZ` (microseconds: exact, unlike a JS Date). */
  creation: string;
  id: string;
}

export interface ListSnapshotsQuery {
  systemId: string;
  pool?: string;
  dataset?: string;
  kind?: SnapshotKind;
  limit: number;
  /** Rows strictly after this position (newest first). */
  after?: SnapshotPosition;
  /** The original API's `skip` (offset); ignored when `after` is set. */
  skip?: number;
}

/** One page, newest first (creation desc, id desc), and the position to continue from. */
export async function listSystemSnapshots(db: Db, q: ListSnapshotsQuery): Promise<{ rows: SnapshotRecord[]; next: SnapshotPosition | null }> {
  const params: unknown[] = [q.systemId];
  const where = ['s.system_id = $1'];
  const param = (v: unknown) => `$${params.push(v)}`;
  if (q.pool !== undefined) where.push(`d.pool = ${param(q.pool)}`);
  if (q.dataset !== undefined) where.push(datasetFilter(param(q.dataset), 's.system_id'));
  if (q.kind !== undefined) where.push(`s.kind = ${param(q.kind)}`);
  if (q.after) where.push(`(s.creation, s.id) < (${param(q.after.creation)}::timestamptz, ${param(q.after.id)}::bigint)`);
  const offset = !q.after && q.skip ? ` offset ${param(q.skip)}` : '';
  const { rows } = await db.query<SnapshotRecord & { position: string }>(
    `select ${SNAPSHOT_COLUMNS},
            to_char(s.creation at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as position
       from snapshots s join datasets d on d.id = s.dataset_id
      where ${where.join(' and ')}
      order by s.creation desc, s.id desc
      limit ${param(q.limit + 1)}${offset}`,
    params,
  );
  const more = rows.length > q.limit;
  const page = more ? rows.slice(0, q.limit) : rows;
  const last = page[page.length - 1];
  return {
    rows: page.map(({ position: _p, ...r }) => r),
    next: more && last ? { creation: last.position, id: last.id } : null,
  };
}

/** One live snapshot or bookmark by id. */
export async function getSnapshot(db: Db, id: string): Promise<SnapshotRecord | null> {
  const { rows } = await db.query<SnapshotRecord>(
    `select ${SNAPSHOT_COLUMNS} from snapshots s join datasets d on d.id = s.dataset_id where s.id = $1`,
    [id],
  );
  return rows[0] ?? null;
}

// ---------------------------------------------------------------- comparisons

/** A system taking part in a comparison, in the caller's order (ord starts at 1). */
export interface ComparedSystem {
  system_id: string;
  ord: number;
}

/** A snapshot on one compared system and the other compared systems holding the same snapshot. */
export interface ComparedSnapshot {
  system_id: string;
  ord: number;
  id: string;
  name: string;
  pool: string;
  guid: string | null;
  createtxg: string | null;
  creation: Date;
  used: string | null;
  /** [ord of the other system, the name there, matched by 'guid' | 'name'] */
  matches: Array<[number, string, 'guid' | 'name']>;
}

export interface DatasetComparison {
  /** The dataset path (relative to the pool) that was compared. */
  dataset: string;
  systems: ComparedSystem[];
  /** Per system (ord), newest first: creation desc, createtxg desc, id desc. */
  snapshots: ComparedSnapshot[];
}

/**
 * How a dataset name given by a caller is read: `dataset` is the literal relative path; when
 * it contains a first component that could be a pool, `prefix`/`rest` is the pool-prefixed
 * reading (`tank/home` → pool `tank`, path `home`; `tank` → pool `tank`, root path '').
 */
function splitPrefix(dataset: string): { prefix: string | null; rest: string } {
  if (dataset === '') return { prefix: null, rest: '' };
  const slash = dataset.indexOf('/');
  return slash < 0 ? { prefix: dataset, rest: '' } : { prefix: dataset.slice(0, slash), rest: dataset.slice(slash + 1) };
}

/**
 * Compare the snapshots (kind 'snapshot' only) of one dataset path on several systems.
 *
 * - Systems: `systemIds` in that order, or — when null — every system holding a live dataset at
 *   the resolved path (ordered by system id).
 * - Dataset resolution (scope = those systems, or all systems when null): the literal relative
 *   path if any system in scope has a live dataset there; else, if the first component names a
 *   pool in which a system in scope has the rest of the path, the rest; else the literal path.
 *   A system's datasets at that path in every pool are compared together.
 * - Two snapshots on different systems are the same snapshot when both have a guid and the
 *   guids are equal, or — when either has no guid — when their short names are equal.
 */
export async function compareDataset(db: Db, systemIds: readonly string[] | null, dataset: string): Promise<DatasetComparison> {
  const { prefix, rest } = splitPrefix(dataset);
  const { rows } = await db.query<{
    path: string;
    system_id: string;
    ord: number;
    id: string | null;
    name: string;
    pool: string;
    guid: string | null;
    createtxg: string | null;
    creation: Date;
    used: string | null;
    matches: ComparedSnapshot['matches'];
  }>(
    `with want as materialized (
       select case
         when exists (select 1 from datasets d where d.path = $2 and d.gone_at is null and ($1::uuid[] is null or d.system_id = any($1::uuid[]))) then $2
         when $3::text is not null and exists (select 1 from datasets d where d.pool = $3 and d.path = $4 and d.gone_at is null and ($1::uuid[] is null or d.system_id = any($1::uuid[]))) then $4
         else $2
       end as path
     ), sys as materialized (
       select t.system_id, t.ord::int as ord from unnest($1::uuid[]) with ordinality as t(system_id, ord)
       union all
       select x.system_id, (row_number() over (order by x.system_id))::int
         from (select distinct d.system_id from datasets d join want w on d.path = w.path where d.gone_at is null) x
        where $1::uuid[] is null
     ), snap as materialized (
       select sys.system_id, sys.ord, s.id, s.name, s.guid, s.createtxg, s.creation, s.used, d.pool
         from sys
         join datasets d on d.system_id = sys.system_id and d.gone_at is null
         join want w on d.path = w.path
         join snapshots s on s.dataset_id = d.id and s.kind = 'snapshot'
     ), matched as (
       select a.id, b.ord, b.name, 'guid' as via from snap a join snap b on b.guid = a.guid and b.system_id <> a.system_id
       union all
       select a.id, b.ord, b.name, 'name' from snap a join snap b
           on b.name = a.name and b.system_id <> a.system_id and (a.guid is null or b.guid is null)
     ), grouped as (
       select id, jsonb_agg(jsonb_build_array(ord, name, via) order by ord, name collate "C") as matches from matched group by id
     )
     select w.path, sys.system_id::text as system_id, sys.ord, a.id::text as id, a.name, a.pool, a.guid::text as guid,
            a.createtxg::text as createtxg, a.creation, a.used::text as used, coalesce(g.matches, '[]'::jsonb) as matches
       from want w
       cross join sys
       left join snap a on a.system_id = sys.system_id
       left join grouped g on g.id = a.id
      order by sys.ord, a.creation desc nulls last, a.createtxg desc nulls last, a.id desc`,
    [systemIds, dataset, prefix, rest],
  );
  const systems: ComparedSystem[] = [];
  const snapshots: ComparedSnapshot[] = [];
  for (const r of rows) {
    if (systems[systems.length - 1]?.ord !== r.ord) systems.push({ system_id: r.system_id, ord: r.ord });
    if (r.id !== null) {
      snapshots.push({ system_id: r.system_id, ord: r.ord, id: r.id, name: r.name, pool: r.pool, guid: r.guid, createtxg: r.createtxg, creation: r.creation, used: r.used, matches: r.matches });
    }
  }
  return { dataset: rows[0]?.path ?? dataset, systems, snapshots };
}

// ---------------------------------------------------------------- history and statistics

export interface SnapshotEvent extends SnapshotRecord {
  event: 'appeared' | 'disappeared';
  at: Date;
  /** When it disappeared (null while it is still present). */
  gone_at: Date | null;
}

export interface HistoryQuery {
  systemId: string;
  days: number;
  limit: number;
  pool?: string;
  dataset?: string;
}

/**
 * What appeared on (first_seen in the window; still present or gone since) and disappeared from
 * (gone_at in the window) a system, newest event first.
 */
export async function snapshotHistory(db: Db, q: HistoryQuery): Promise<SnapshotEvent[]> {
  const params: unknown[] = [q.systemId, q.days];
  const param = (v: unknown) => `$${params.push(v)}`;
  const filters: string[] = [];
  if (q.pool !== undefined) filters.push(`d.pool = ${param(q.pool)}`);
  if (q.dataset !== undefined) filters.push(datasetFilter(param(q.dataset), 'd.system_id'));
  const and = filters.map((f) => ` and ${f}`).join('');
  const limit = param(q.limit);
  // One branch per kind of event; each keeps only its own newest `limit` rows (a top-N sort)
  // before the branches are merged.
  const branch = (event: string, table: 'snapshots' | 'snapshots_gone', at: string) => {
    const t = table === 'snapshots' ? 's' : 'g';
    return `(select '${event}' as event, ${t}.${at} as at, ${SNAPSHOT_COLUMNS.replace(/\bs\./g, `${t}.`)},
                    ${t}.id as event_id, ${table === 'snapshots' ? 'null::timestamptz' : 'g.gone_at'} as gone_at
               from ${table} ${t} join datasets d on d.id = ${t}.dataset_id, since
              where ${t}.system_id = $1 and ${t}.${at} >= since.t${and}
              order by ${t}.${at} desc, ${t}.id desc limit ${limit})`;
  };
  const { rows } = await db.query<SnapshotEvent>(
    `with since as (select now() - make_interval(days => $2::int) as t)
     select event, at, id, system_id, pool, dataset, kind, name, guid, createtxg, creation, used, referenced, userrefs, first_seen, last_seen, gone_at
       from (${branch('appeared', 'snapshots', 'first_seen')}
             union all ${branch('appeared', 'snapshots_gone', 'first_seen')}
             union all ${branch('disappeared', 'snapshots_gone', 'gone_at')}) e
      order by at desc, (event = 'disappeared') desc, event_id desc
      limit ${limit}`,
    params,
  );
  return rows;
}

export interface PoolStatistics {
  datasets: number;
  snapshots: number;
  bookmarks: number;
  /** Sum of `used` over the pool's snapshots, as a decimal string. */
  used: string;
}

export interface SnapshotStatistics {
  system_exists: boolean;
  total_snapshots: number;
  total_bookmarks: number;
  total_datasets: number;
  total_used: string;
  oldest_snapshot: Date | null;
  newest_snapshot: Date | null;
  appeared_last_days: number;
  disappeared_last_days: number;
  per_pool: Record<string, PoolStatistics>;
}

/**
 * Counts and sizes of a system's live inventory (per pool and in total, one grouping-sets
 * aggregate), and how many snapshots and bookmarks appeared / disappeared in the last `days`.
 */
export async function snapshotStatistics(db: Db, systemId: string, days: number): Promise<SnapshotStatistics> {
  const { rows } = await db.query<{
    pool: string | null;
    datasets: string;
    snapshots: string;
    bookmarks: string;
    used: string;
    oldest: Date | null;
    newest: Date | null;
    system_exists: boolean;
    appeared: string;
    disappeared: string;
  }>(
    `with since as (select now() - make_interval(days => $2::int) as t),
     per_dataset as (
       select dataset_id,
              count(*) filter (where kind = 'snapshot') as snapshots,
              count(*) filter (where kind = 'bookmark') as bookmarks,
              sum(used) filter (where kind = 'snapshot') as used,
              min(creation) filter (where kind = 'snapshot') as oldest,
              max(creation) filter (where kind = 'snapshot') as newest
         from snapshots where system_id = $1 group by dataset_id
     ), per_pool as (
       select d.pool, count(*) as datasets, coalesce(sum(p.snapshots), 0) as snapshots, coalesce(sum(p.bookmarks), 0) as bookmarks,
              coalesce(sum(p.used), 0) as used, min(p.oldest) as oldest, max(p.newest) as newest
         from datasets d left join per_dataset p on p.dataset_id = d.id
        where d.system_id = $1 and d.gone_at is null
        group by grouping sets ((d.pool), ())
     )
     select pp.pool, pp.datasets::text, pp.snapshots::text, pp.bookmarks::text, pp.used::text, pp.oldest, pp.newest,
            exists (select 1 from systems where id = $1) as system_exists,
            ((select count(*) from snapshots s, since where s.system_id = $1 and s.first_seen >= since.t)
              + (select count(*) from snapshots_gone g, since where g.system_id = $1 and g.first_seen >= since.t))::text as appeared,
            (select count(*) from snapshots_gone g, since where g.system_id = $1 and g.gone_at >= since.t)::text as disappeared
       from per_pool pp
      order by pp.pool collate "C" nulls first`,
    [systemId, days],
  );
  // The grand-total row (pool null) always exists, even for an empty inventory.
  const [total, ...pools] = rows;
  const per_pool: Record<string, PoolStatistics> = {};
  for (const p of pools) per_pool[p.pool!] = { datasets: Number(p.datasets), snapshots: Number(p.snapshots), bookmarks: Number(p.bookmarks), used: p.used };
  return {
    system_exists: total!.system_exists,
    total_snapshots: Number(total!.snapshots),
    total_bookmarks: Number(total!.bookmarks),
    total_datasets: Number(total!.datasets),
    total_used: total!.used,
    oldest_snapshot: total!.oldest,
    newest_snapshot: total!.newest,
    appeared_last_days: Number(total!.appeared),
    disappeared_last_days: Number(total!.disappeared),
    per_pool,
  };
}

// ---------------------------------------------------------------- delete

export interface DeletedInventory {
  hostname: string;
  deleted_snapshots: number;
  deleted_history: number;
  deleted_datasets: number;
}

/**
 * Remove a system's whole inventory (datasets, live snapshots and bookmarks, and their history);
 * the system itself stays. Takes the system row lock first, as the reconcile worker does, so a
 * report being applied finishes before (or starts after) the delete. Null when no such system.
 */
export async function deleteSystemInventory(pool: pg.Pool, systemId: string): Promise<DeletedInventory | null> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const sys = await client.query<{ hostname: string }>('select hostname from systems where id = $1 for update', [systemId]);
    if (!sys.rowCount) {
      await client.query('rollback');
      return null;
    }
    const { rows } = await client.query<{ live: string; gone: string; datasets: string }>(
      `with live as (delete from snapshots where system_id = $1 returning 1),
            gone as (delete from snapshots_gone where system_id = $1 returning 1),
            ds as (delete from datasets where system_id = $1 returning 1)
       select (select count(*) from live)::text as live, (select count(*) from gone)::text as gone, (select count(*) from ds)::text as datasets`,
      [systemId],
    );
    await client.query('commit');
    const r = rows[0]!;
    return { hostname: sys.rows[0]!.hostname, deleted_snapshots: Number(r.live), deleted_history: Number(r.gone), deleted_datasets: Number(r.datasets) };
  } catch (err) {
    await client.query('rollback').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
