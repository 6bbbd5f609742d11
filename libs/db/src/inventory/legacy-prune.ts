import type pg from 'pg';
import type { RecomputeLinksPayload } from '@zfs-sync/contracts';
import { withTransaction } from '../transaction.js';

/**
 * Removals for batch-only clients (issue 7, "Removals for batch clients").
 *
 * The original cron client sends its whole `zfs list` every run, in sequential batches of 1,000,
 * through `/snapshots/batch`, which only adds and updates (one batch is not an inventory). A
 * snapshot pruned on the host would stay in the witness's view forever, and plans would be built
 * on bases the host no longer has. So: every batch marks the rows it lists as re-reported
 * (`snapshots.last_seen`); once a run is over — no batch for `quietSeconds` — every snapshot of
 * the system that the batches have not listed for `staleAfterSeconds` before the last batch is
 * treated as gone: moved to history with reason `not_re_reported`, and its links recomputed.
 *
 * Measuring from the last batch (not from the clock) means a host that goes silent loses
 * nothing; waiting for the run to end means a daily cron run's later chunks are not taken for
 * removals while its first chunk is applied. A system that has ever sent a full inventory is
 * never subject to this rule: full inventories say what is gone themselves.
 */
export interface LegacyPruneOptions {
  staleAfterSeconds: number;
  /** No batch for this long: the run is over. */
  quietSeconds: number;
}

/** The quiet period that ends a run: a minute, or a quarter of a very short stale window (tests). */
export function legacyQuietSeconds(staleAfterSeconds: number): number {
  return Math.min(60, staleAfterSeconds / 4);
}

export interface LegacyPruneResult {
  systems: number;
  removed: number;
  recompute: RecomputeLinksPayload[];
}

/** Batch-only systems whose last run is over and that hold snapshots it did not re-report. */
async function dueSystems(pool: pg.Pool, opts: LegacyPruneOptions): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(
    `select sys.id from systems sys
      where sys.last_full_inventory_at is null and sys.last_batch_at is not null
        and sys.last_batch_at < now() - make_interval(secs => $2)
        and exists (select 1 from datasets d join snapshots s on s.dataset_id = d.id
                     where d.system_id = sys.id and d.gone_at is null and s.last_seen < sys.last_batch_at - make_interval(secs => $1))
      limit 1000`,
    [opts.staleAfterSeconds, opts.quietSeconds],
  );
  return rows.map((r) => r.id);
}

/** Apply the rule to every system that is due; one transaction per system, under its row lock. */
export async function pruneNotReReported(pool: pg.Pool, opts: LegacyPruneOptions): Promise<LegacyPruneResult> {
  const result: LegacyPruneResult = { systems: 0, removed: 0, recompute: [] };
  for (const systemId of await dueSystems(pool, opts)) {
    const one = await withTransaction(pool, (client) => pruneSystem(client, systemId, opts));
    if (one.removed > 0) result.systems++;
    result.removed += one.removed;
    result.recompute.push(...one.recompute);
  }
  return result;
}

async function pruneSystem(client: pg.PoolClient, systemId: string, opts: LegacyPruneOptions): Promise<{ removed: number; recompute: RecomputeLinksPayload[] }> {
  // The same lock a report's apply takes: a batch arriving now waits, and is seen below.
  const sys = await client.query<{ due: boolean }>(
    `select (last_full_inventory_at is null and last_batch_at < now() - make_interval(secs => $2)) as due from systems where id = $1 for update`,
    [systemId, opts.quietSeconds],
  );
  if (!sys.rows[0]?.due) return { removed: 0, recompute: [] };
  const removed = await client.query<{ dataset_id: string; n: string }>(
    `with gone as (
       delete from snapshots s using datasets d, systems sys
        where sys.id = $1 and d.system_id = sys.id and d.gone_at is null and s.dataset_id = d.id
          and s.last_seen < sys.last_batch_at - make_interval(secs => $2)
       returning s.*
     ), archived as (
       insert into snapshots_gone (id, dataset_id, system_id, kind, name, guid, createtxg, creation, used, referenced, userrefs, first_seen, last_seen, gone_reason)
       select id, dataset_id, system_id, kind, name, guid, createtxg, creation, used, referenced, userrefs, first_seen, last_seen, 'not_re_reported' from gone
       returning dataset_id
     )
     select dataset_id, count(*)::text as n from archived group by dataset_id`,
    [systemId, opts.staleAfterSeconds],
  );
  if (removed.rowCount === 0) return { removed: 0, recompute: [] };
  const { rows } = await client.query<{ id: string; pool: string; path: string; content_version: string }>(
    `update datasets set content_version = content_version + 1, content_hash = null where id = any($1::bigint[])
     returning id::text, pool, path, content_version::text`,
    [removed.rows.map((r) => r.dataset_id)],
  );
  return {
    removed: removed.rows.reduce((n, r) => n + Number(r.n), 0),
    recompute: rows.map((r) => ({ system_id: systemId, dataset_id: r.id, pool: r.pool, dataset: r.path, version: r.content_version })),
  };
}
