import type pg from 'pg';
import type { HostDatasetView, SnapshotRef } from '@zfs-sync/domain';

/**
 * Every member's view of one dataset path (matched across hosts by the path relative to the pool)
 * in one query. A host that has the same path in two pools (rare: e.g. `tank/x` and `backup/x`)
 * contributes the one in its configured target pool, else the one with more snapshots.
 */
export async function loadDatasetViews(db: Pick<pg.Pool, 'query'>, memberIds: string[], path: string, targetPools: Record<string, string> = {}): Promise<HostDatasetView[]> {
  if (memberIds.length === 0) return [];
  const { rows } = await db.query<{ system_id: string; pool: string; token: string | null; kind: string | null; name: string | null; guid: string | null; createtxg: string | null; creation: string | null }>(
    `select d.system_id, d.pool, d.receive_resume_token as token, s.kind, s.name, s.guid::text as guid, s.createtxg::text as createtxg,
            extract(epoch from s.creation)::bigint::text as creation
       from datasets d left join snapshots s on s.dataset_id = d.id
      where d.system_id = any($1::uuid[]) and d.path = $2 and d.gone_at is null`,
    [memberIds, path],
  );
  const byHostPool = new Map<string, HostDatasetView>();
  for (const r of rows) {
    const key = `${r.system_id}\u0000${r.pool}`;
    let view = byHostPool.get(key);
    if (!view) {
      view = { systemId: r.system_id, pool: r.pool, dataset: path, present: true, receiveResumeToken: r.token, snapshots: [], bookmarks: [] };
      byHostPool.set(key, view);
    }
    if (r.kind === null) continue;
    const ref: SnapshotRef = { name: r.name!, guid: r.guid, createtxg: r.createtxg, creation: Number(r.creation) };
    (r.kind === 'bookmark' ? view.bookmarks : view.snapshots).push(ref);
  }
  const perHost = new Map<string, HostDatasetView>();
  for (const view of byHostPool.values()) {
    const seen = perHost.get(view.systemId);
    const preferred = targetPools[view.systemId];
    if (!seen || (preferred !== undefined && view.pool === preferred && seen.pool !== preferred) || (seen.pool !== preferred && view.snapshots.length > seen.snapshots.length)) {
      perHost.set(view.systemId, view);
    }
  }
  return [...perHost.values()];
}

/** Every dataset path any member holds (for a whole-group recompute). */
export async function datasetPathsOf(db: Pick<pg.Pool, 'query'>, memberIds: string[]): Promise<string[]> {
  if (memberIds.length === 0) return [];
  const { rows } = await db.query<{ path: string }>('select distinct path from datasets where system_id = any($1::uuid[]) and gone_at is null order by path', [memberIds]);
  return rows.map((r) => r.path);
}
