import type pg from 'pg';
import { assessProtection, placesHolding, type HostDatasetView, type ProtectionPlace, type ProtectionPoint } from '@zfs-sync/domain';
import { withTransaction } from '../transaction.js';
import { loadDatasetViews } from './dataset-views.js';
import type { GroupContext } from './link-engine.js';

type Queryable = Pick<pg.Pool, 'query'>;

/**
 * The (group, dataset) lock every writer of a dataset's derived state (links, plans, conflicts,
 * protection) takes for the length of its transaction.
 */
export async function lockGroupDataset(db: Queryable, groupId: string, path: string): Promise<void> {
  await db.query('select pg_advisory_xact_lock(hashtext($1))', [`links:${groupId}:${path}`]);
}

/**
 * Places outside the loaded views that hold a point: the same dataset path in another pool of a
 * member (the views carry one pool per host, the one replication uses). Normally no such dataset
 * exists and the query answers from the path index alone.
 */
async function otherPoolsHolding(db: Queryable, memberIds: string[], path: string, views: readonly HostDatasetView[], points: Array<ProtectionPoint | null>): Promise<ProtectionPlace[][]> {
  const { rows } = await db.query<{ system_id: string; pool: string; holds: boolean[] }>(
    `select d.system_id, d.pool,
            array(select exists (select 1 from snapshots s
                                  where s.dataset_id = d.id and s.kind = 'snapshot'
                                    and (s.guid = p.guid or ((s.guid is null or p.guid is null) and s.name = p.name)))
                    from unnest($4::numeric[], $5::text[]) with ordinality as p(guid, name, n) order by p.n) as holds
       from datasets d
      where d.path = $2 and d.system_id = any($1::uuid[]) and d.gone_at is null
        and not (d.system_id::text || '/' || d.pool = any($3::text[]))`,
    [memberIds, path, views.map((v) => `${v.systemId}/${v.pool}`), points.map((p) => p?.guid ?? null), points.map((p) => p?.name ?? null)],
  );
  return points.map((p, i) => (p === null ? [] : rows.filter((r) => r.holds[i]).map((r) => ({ systemId: r.system_id, pool: r.pool }))));
}

const placesJson = (places: ProtectionPlace[]) => JSON.stringify(places.map((p) => ({ system_id: p.systemId, pool: p.pool })));
const copies = (places: ProtectionPlace[]) => new Set(places.map((p) => p.systemId)).size;

/**
 * Store the protection of one (group, dataset) from the members' views. Called by the recompute
 * inside its transaction, under its (group, dataset) lock, with the views it already loaded.
 */
export async function storeProtection(db: Queryable, ctx: GroupContext, groupId: string, path: string, views: readonly HostDatasetView[], now: number): Promise<void> {
  const a = assessProtection({ policy: ctx.policy, dataset: path, views, now });
  // Not replicated by the group, or no member has the dataset any more: nothing to protect.
  if (a === null || !views.some((v) => v.present)) {
    await db.query('delete from dataset_protection where group_id = $1 and dataset = $2', [groupId, path]);
    return;
  }
  const memberIds = ctx.members.map((m) => m.systemId);
  const [newestElsewhere, dayOldElsewhere] = await otherPoolsHolding(db, memberIds, path, views, [a.newest, a.dayOld]);
  const newest = [...placesHolding(views, a.newest), ...newestElsewhere!];
  const dayOld = [...placesHolding(views, a.dayOld), ...dayOldElsewhere!];
  await db.query(
    `insert into dataset_protection (group_id, dataset, reference_system_id, matched_by, newest, newest_holders, newest_copies, day_old, day_old_holders, day_old_copies, refresh_at, computed_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, to_timestamp($11), now())
     on conflict (group_id, dataset) do update set
       reference_system_id = excluded.reference_system_id, matched_by = excluded.matched_by, newest = excluded.newest,
       newest_holders = excluded.newest_holders, newest_copies = excluded.newest_copies, day_old = excluded.day_old,
       day_old_holders = excluded.day_old_holders, day_old_copies = excluded.day_old_copies, refresh_at = excluded.refresh_at, computed_at = now()`,
    [groupId, path, a.referenceSystemId, a.matchedBy, a.newest && JSON.stringify(a.newest), placesJson(newest), copies(newest), a.dayOld && JSON.stringify(a.dayOld), placesJson(dayOld), copies(dayOld), a.refreshAt],
  );
}

/**
 * Refresh the rows that time made stale (a snapshot turned 24 h old since they were computed),
 * at most `limit` per call, each under the same lock the recompute takes. Returns how many.
 */
export async function refreshStaleProtection(pool: pg.Pool, loadContext: (groupId: string) => Promise<GroupContext | null>, limit = 500, now: Date = new Date()): Promise<number> {
  const { rows } = await pool.query<{ group_id: string; dataset: string }>(
    'select group_id, dataset from dataset_protection where refresh_at <= $1 order by refresh_at limit $2',
    [now, limit],
  );
  const contexts = new Map<string, GroupContext | null>();
  for (const row of rows) {
    if (!contexts.has(row.group_id)) contexts.set(row.group_id, await loadContext(row.group_id));
    const ctx = contexts.get(row.group_id);
    if (!ctx) continue;
    await withTransaction(pool, async (client) => {
      await lockGroupDataset(client, row.group_id, row.dataset);
      const views = await loadDatasetViews(client, ctx.members.map((m) => m.systemId), row.dataset, ctx.targetPools);
      await storeProtection(client, ctx, row.group_id, row.dataset, views, Math.floor(now.getTime() / 1000));
    });
  }
  return rows.length;
}
