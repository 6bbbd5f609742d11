import type pg from 'pg';
import { assessProtection, placesHolding, type HostDatasetView, type ProtectionPlace } from '@zfs-sync/domain';
import type { GroupContext } from './link-engine.js';

type Queryable = Pick<pg.Pool, 'query'>;

/**
 * The (group, dataset) lock every writer of a dataset's derived state (links, plans, conflicts,
 * protection) takes for the length of its transaction.
 */
export async function lockGroupDataset(db: Queryable, groupId: string, path: string): Promise<void> {
  await db.query('select pg_advisory_xact_lock(hashtext($1))', [`links:${groupId}:${path}`]);
}

const placesJson = (places: ProtectionPlace[]) => JSON.stringify(places.map((p) => ({ system_id: p.systemId, pool: p.pool })));
const copies = (places: ProtectionPlace[]) => new Set(places.map((p) => p.systemId)).size;

/**
 * Store the protection of one (group, dataset) from every view the members have of it (one per
 * host and pool). Called by the recompute inside its transaction, under its (group, dataset)
 * lock, with the views it already loaded.
 */
export async function storeProtection(db: Queryable, ctx: GroupContext, groupId: string, path: string, views: readonly HostDatasetView[], now: number): Promise<void> {
  const a = assessProtection({ policy: ctx.policy, dataset: path, views, now });
  // Not replicated by the group, or no member has the dataset any more: nothing to protect.
  if (a === null || !views.some((v) => v.present)) {
    await db.query('delete from dataset_protection where group_id = $1 and dataset = $2', [groupId, path]);
    return;
  }
  // Every pool of every member counts: a host holding the dataset in two pools holds two copies.
  const newest = placesHolding(views, a.newest);
  const dayOld = placesHolding(views, a.dayOld);
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
 * The (group, dataset) pairs whose protection the clock has made stale (a snapshot turned 24 h
 * old since they were computed), at most `limit`, as recompute requests for the sweep to queue.
 */
export async function protectionDueForRefresh(db: Queryable, limit = 500, now: Date = new Date()): Promise<Array<{ group_id: string; dataset: string; reason: string }>> {
  const { rows } = await db.query<{ group_id: string; dataset: string }>(
    'select group_id, dataset from dataset_protection where refresh_at <= $1 order by refresh_at limit $2',
    [now, limit],
  );
  return rows.map((r) => ({ ...r, reason: 'a snapshot turned a day old (protection)' }));
}
