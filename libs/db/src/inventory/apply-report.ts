import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { datasetContentHash, type ReconcileDataset, type ReconcilePayload, type RecomputeLinksPayload } from '@zfs-sync/contracts';
import { withTransaction } from '../transaction.js';
import { appendEvents } from '../events/outbox.js';
import { copyLine } from './copy-text.js';

export interface ReportCounts {
  added: number;
  removed: number;
  changed: number;
  unchanged: number;
}

export type ApplyOutcome =
  | { status: 'applied'; counts: ReportCounts; recompute: RecomputeLinksPayload[]; replayed: boolean }
  | { status: 'superseded'; current_generation: string }
  | { status: 'waiting_for_chunks'; received: number; expected: number };

/** The report cannot ever apply (e.g. its system was deleted, or a chunk was re-sent with another body). */
export class ReportRejectedError extends Error {
  override name = 'ReportRejectedError';
}

const zeroCounts = (): ReportCounts => ({ added: 0, removed: 0, changed: 0, unchanged: 0 });

/** Re-exported: the API and the worker share one definition (libs/contracts). */
export { datasetContentHash };

/**
 * The report lists a dataset as unchanged (a reference, without rows) but what is stored is not
 * what the reference names: an earlier report that changed it is still on its way (retrying
 * lets it land first), or it was lost. Retried; on the last attempt the report fails, asking for
 * the full inventory again.
 */
export class StaleDatasetReferenceError extends Error {
  override name = 'StaleDatasetReferenceError';
}

/** Chunks of one report may split a dataset; put its pieces back together, in chunk order. */
export function mergeDatasets(chunks: ReconcileDataset[][]): ReconcileDataset[] {
  const byKey = new Map<string, ReconcileDataset>();
  for (const datasets of chunks) {
    for (const d of datasets) {
      const key = `${d.pool}\u0000${d.dataset}`;
      const seen = byKey.get(key);
      if (!seen) {
        // A piece's own hash is not the whole dataset's: the worker computes it after merging.
        const { hash: _pieceHash, ...rest } = d;
        byKey.set(key, { ...rest, snapshots: [...d.snapshots], bookmarks: [...d.bookmarks] });
      } else {
        seen.snapshots.push(...d.snapshots);
        seen.bookmarks.push(...d.bookmarks);
        if (d.receive_resume_token !== undefined) seen.receive_resume_token = d.receive_resume_token;
      }
    }
  }
  return [...byKey.values()];
}

async function copyRows(client: pg.PoolClient, sql: string, lines: Iterable<string>): Promise<void> {
  const stream = client.query(copyStreams.from(sql));
  // Batch lines into ~64 KiB writes: one write per row is measurably slower.
  function* batched() {
    let buf = '';
    for (const line of lines) {
      buf += line;
      if (buf.length > 65_536) {
        yield buf;
        buf = '';
      }
    }
    if (buf) yield buf;
  }
  await pipeline(Readable.from(batched()), stream);
}

/**
 * Apply one report chunk. Everything happens in one transaction: the system row is locked first
 * (reports of one system apply one at a time, in any process), the generation is checked inside
 * that lock (an older report can never overwrite a newer one), and a crash anywhere rolls the
 * whole report back so the retried job starts from the same state. Re-applying an applied report
 * changes nothing and returns its recorded outcome.
 */
export async function applyReport(pool: pg.Pool, job: ReconcilePayload): Promise<ApplyOutcome> {
  let used: pg.PoolClient | undefined;
  try {
    return await withTransaction(pool, (client) => applyInTransaction((used = client), job));
  } catch (err) {
    // The staging table may have been created in the transaction that just rolled back.
    if (used) stagingReady.delete(used);
    throw err;
  }
}

/**
 * Connections (of this process) whose session already holds the staging table. It lives as long
 * as the connection and empties itself at every commit: creating, indexing and dropping a temp
 * table in every transaction cost more than the COPY and the merge of a 1,000-row batch (catalog
 * rows written and deleted, cache invalidations sent to every other backend).
 */
const stagingReady = new WeakSet<pg.PoolClient>();

/** Reports with at most this many staged rows skip ANALYZE of the staging table (its plans are hash joins either way). */
const ANALYZE_STAGED_ROWS = 5_000;

async function prepareStaging(client: pg.PoolClient): Promise<void> {
  if (stagingReady.has(client)) return;
  // creation is staged as Unix seconds and converted in SQL: formatting a Date per row in JS
  // costs more than the COPY itself. A report listing the same name twice in one dataset is
  // refused before this point; the unique index would make it fail loudly rather than pick one
  // silently.
  await client.query(`
    create temp table if not exists stage_snapshots (
      dataset_id bigint not null, kind text not null, name text not null,
      guid numeric(20,0), createtxg numeric(20,0), creation_epoch bigint not null,
      used numeric(20,0), referenced numeric(20,0), userrefs integer
    ) on commit delete rows`);
  await client.query('create unique index if not exists stage_snapshots_identity on stage_snapshots (dataset_id, kind, name)');
  stagingReady.add(client);
}

async function applyInTransaction(client: pg.PoolClient, job: ReconcilePayload): Promise<ApplyOutcome> {
  const sys = await client.query<{ inventory_generation: string }>('select inventory_generation from systems where id = $1 for update', [job.system_id]);
  if (!sys.rowCount) throw new ReportRejectedError(`system ${job.system_id} no longer exists`);
  const currentGeneration = BigInt(sys.rows[0]!.inventory_generation);

  // The API recorded the report before queueing it, so the row is normally there already; the
  // insert covers a job queued without it. One round trip for both.
  type ReportState = { status: string; counts: ReportCounts; recompute: RecomputeLinksPayload[] };
  const selectReport = 'select status, counts, recompute from inventory_reports where system_id = $1 and report_id = $2';
  let report = (
    await client.query<ReportState>(
      `with inserted as (
         insert into inventory_reports (system_id, report_id, mode, generation, complete, chunk_count, status, received_at)
         values ($1, $2, $3, $4, $5, $6, 'queued', $7)
         on conflict (system_id, report_id) do nothing
         returning status, counts, recompute
       )
       select status, counts, recompute from inserted
       union all
       ${selectReport} and not exists (select 1 from inserted)`,
      [job.system_id, job.report_id, job.mode, job.generation, job.complete, job.chunk_count, job.received_at],
    )
  ).rows[0];
  // A row committed by another transaction while the insert waited is not in this statement's
  // snapshot: read it again.
  report ??= (await client.query<ReportState>(selectReport, [job.system_id, job.report_id])).rows[0]!;
  if (report.status === 'applied') return { status: 'applied', counts: report.counts, recompute: report.recompute, replayed: true };
  if (report.status === 'superseded') return { status: 'superseded', current_generation: currentGeneration.toString() };

  if (job.generation !== null && BigInt(job.generation) < currentGeneration) {
    await client.query(`update inventory_reports set status = 'superseded', applied_at = now() where system_id = $1 and report_id = $2`, [job.system_id, job.report_id]);
    await client.query('delete from inventory_report_chunks where system_id = $1 and report_id = $2', [job.system_id, job.report_id]);
    return { status: 'superseded', current_generation: currentGeneration.toString() };
  }

  let datasets = job.datasets;
  if (job.chunk_count > 1) {
    const stored = await client.query<{ body_hash: string }>(
      `insert into inventory_report_chunks (system_id, report_id, chunk_index, chunk_count, body_hash, payload)
       values ($1, $2, $3, $4, $5, $6)
       on conflict (system_id, report_id, chunk_index) do update set chunk_index = excluded.chunk_index
       returning body_hash`,
      [job.system_id, job.report_id, job.chunk_index, job.chunk_count, job.body_hash, JSON.stringify(job.datasets)],
    );
    if (stored.rows[0]!.body_hash !== job.body_hash) throw new ReportRejectedError(`chunk ${job.chunk_index} of report ${job.report_id} was sent again with a different body`);
    // Count first: loading every stored payload for every arriving chunk would read a report of
    // n chunks n²/2 times (a 60-chunk, 300,000-snapshot report: 1,830 payloads instead of 60).
    const received = (
      await client.query<{ n: number }>('select count(*)::int as n from inventory_report_chunks where system_id = $1 and report_id = $2 and chunk_index < $3', [job.system_id, job.report_id, job.chunk_count])
    ).rows[0]!.n;
    if (received < job.chunk_count) return { status: 'waiting_for_chunks', received, expected: job.chunk_count };
    const { rows } = await client.query<{ chunk_index: number; payload: ReconcileDataset[] }>(
      'select chunk_index, payload from inventory_report_chunks where system_id = $1 and report_id = $2 and chunk_index < $3 order by chunk_index',
      [job.system_id, job.report_id, job.chunk_count],
    );
    datasets = mergeDatasets(rows.map((r) => r.payload));
  }

  const { counts, recompute } = await mergeInventory(client, job, datasets);
  // Which kind of client this is decides whether the batch-only removal rule applies (see legacy-prune.ts).
  await client.query(
    `with system_update as (
       update systems set inventory_generation = greatest(inventory_generation, coalesce($3, inventory_generation)), last_inventory_at = now(),
              last_full_inventory_at = case when $4 = 'inventory' then now() else last_full_inventory_at end,
              last_batch_at = case when $4 = 'batch' then now() else last_batch_at end
        where id = $1
     )
     update inventory_reports set status = 'applied', applied_at = now(), counts = $5, recompute = $6, error = null where system_id = $1 and report_id = $2`,
    [job.system_id, job.report_id, job.generation, job.mode, JSON.stringify(counts), JSON.stringify(recompute)],
  );
  if (job.chunk_count > 1) await client.query('delete from inventory_report_chunks where system_id = $1 and report_id = $2', [job.system_id, job.report_id]);
  // inventory.applied (issue 10), once per report, in the transaction that applied it.
  await appendEvents(client, [
    {
      type: 'inventory.applied',
      data: { system_id: job.system_id, report_id: job.report_id, mode: job.mode, generation: job.generation, complete: job.complete, counts, datasets: datasets.length },
    },
  ]);
  return { status: 'applied', counts, recompute, replayed: false };
}

interface VersionRow {
  id: string;
  pool: string;
  path: string;
  content_version: string;
}

interface DatasetRow {
  id: string;
  pool: string;
  path: string;
  content_hash: string | null;
}

async function mergeInventory(client: pg.PoolClient, job: ReconcilePayload, datasets: ReconcileDataset[]): Promise<{ counts: ReportCounts; recompute: RecomputeLinksPayload[] }> {
  const counts = zeroCounts();
  const fullReplace = job.mode === 'inventory';
  /** Current content versions of datasets, by id, as the statements below return them. */
  const versions = new Map<string, VersionRow>();

  // 1. Upsert the listed datasets (with rows, and those listed unchanged by reference); learn
  //    their ids and stored content hashes.
  const refs = job.unchanged ?? [];
  const listed = [...datasets.map((d) => ({ pool: d.pool, dataset: d.dataset, token: d.receive_resume_token })), ...refs.map((r) => ({ pool: r.pool, dataset: r.dataset, token: r.receive_resume_token }))];
  const keep = listed.map((d) => d.token === undefined);
  // `appeared`: new, or back after it was gone; `token_changed`: another receive_resume_token.
  // Both change what a plan may do (a full send into an existing dataset fails; a resume needs
  // the current token), so they bump the content version like changed snapshots do.
  const { rows: dsRows } = await client.query<DatasetRow & { old_hash: string | null; appeared: boolean; token_changed: boolean }>(
    `with input as (
       select * from unnest($2::text[], $3::text[], $4::text[], $5::bool[]) as t(pool, path, token, keep_token)
     ), prev as (
       select d.pool, d.path, d.gone_at is not null as was_gone, d.receive_resume_token as token
         from datasets d join input i on i.pool = d.pool and i.path = d.path where d.system_id = $1
     ), upserted as (
       insert into datasets as d (system_id, pool, path, receive_resume_token)
       select $1, pool, path, token from input
       on conflict (system_id, pool, path) do update
         set last_seen = now(), gone_at = null,
             receive_resume_token = case when (select keep_token from input i where i.pool = d.pool and i.path = d.path) then d.receive_resume_token else excluded.receive_resume_token end
       returning d.id, d.pool, d.path, d.content_hash, d.receive_resume_token, (xmax = 0) as inserted
     )
     select u.id, u.pool, u.path, u.content_hash as old_hash, u.content_hash,
            u.inserted or coalesce(p.was_gone, false) as appeared,
            not u.inserted and u.receive_resume_token is distinct from p.token as token_changed
       from upserted u left join prev p on p.pool = u.pool and p.path = u.path`,
    [job.system_id, listed.map((d) => d.pool), listed.map((d) => d.dataset), listed.map((d) => d.token ?? null), keep],
  );
  const idOf = new Map(dsRows.map((r) => [`${r.pool}\u0000${r.path}`, r]));

  // 2. Skip datasets whose content is byte-for-byte what we already hold.
  const perDataset = new Map<string, number>();
  const bump = (id: string, n = 1) => perDataset.set(id, (perDataset.get(id) ?? 0) + n);

  // A reference stands for rows only while what is stored is exactly what it names.
  for (const ref of refs) {
    const row = idOf.get(`${ref.pool}\u0000${ref.dataset}`)!;
    if (row.appeared || row.content_hash !== ref.hash) {
      throw new StaleDatasetReferenceError(`dataset ${ref.pool}/${ref.dataset} was reported unchanged, but what is stored differs from the inventory it refers to; re-send the full inventory`);
    }
    counts.unchanged += ref.rows;
  }

  const changed: Array<{ row: DatasetRow & { appeared: boolean }; data: ReconcileDataset; hash: string | null }> = [];
  for (const d of datasets) {
    const row = idOf.get(`${d.pool}\u0000${d.dataset}`)!;
    if (row.appeared || row.token_changed) bump(row.id, 0);
    const hash = fullReplace ? (d.hash ?? datasetContentHash(d)) : null;
    if (fullReplace && hash === row.content_hash) {
      counts.unchanged += d.snapshots.length + d.bookmarks.length;
      continue;
    }
    changed.push({ row, data: d, hash });
  }

  if (changed.length > 0) {
    // 3. Stage the reported rows of changed datasets with COPY (the fastest way in).
    await prepareStaging(client);
    let staged = 0;
    let stagedGuids = false;
    for (const c of changed) {
      staged += c.data.snapshots.length + c.data.bookmarks.length;
      if (!stagedGuids) stagedGuids = c.data.snapshots.some((s) => s[1] !== null) || c.data.bookmarks.some((b) => b[1] !== null);
    }
    function* lines() {
      for (const { row, data } of changed) {
        for (const s of data.snapshots) yield copyLine([row.id, 'snapshot', s[0], s[1], s[2], s[3], s[4], s[5], s[6]]);
        for (const b of data.bookmarks) yield copyLine([row.id, 'bookmark', b[0], b[1], b[2], b[3], null, null, null]);
      }
    }
    await copyRows(client, 'copy stage_snapshots from stdin', lines());
    const changedIds = changed.map((c) => c.row.id);
    if (staged > ANALYZE_STAGED_ROWS) await client.query('analyze stage_snapshots (dataset_id, kind, name)');

    // 4. Removals: in a full inventory, every stored snapshot of a listed dataset that the report
    //    does not contain (same kind, name and guid) is gone; a guid that changed under the same
    //    name is a different snapshot, so the old one is gone too. Batch reports (original
    //    clients) only ever add, except for that guid change.
    // A batch without any guid (the original cron script sends none) cannot carry a guid change.
    const removed = !fullReplace && !stagedGuids ? { rows: [] } : await client.query<{ dataset_id: string; n: string }>(
      `with gone as (
         delete from snapshots s
          where s.dataset_id = any($1::bigint[])
            and ${
              fullReplace
                ? `not exists (select 1 from stage_snapshots t where t.dataset_id = s.dataset_id and t.kind = s.kind and t.name = s.name
                                  and (t.guid = s.guid or (t.guid is null and s.guid is null)))`
                : `exists (select 1 from stage_snapshots t where t.dataset_id = s.dataset_id and t.kind = s.kind and t.name = s.name
                              and t.guid is not null and s.guid is not null and t.guid <> s.guid)`
            }
         returning s.*
       ), archived as (
         insert into snapshots_gone (id, dataset_id, system_id, kind, name, guid, createtxg, creation, used, referenced, userrefs, first_seen, last_seen, gone_report_id, gone_reason)
         select g.id, g.dataset_id, g.system_id, g.kind, g.name, g.guid, g.createtxg, g.creation, g.used, g.referenced, g.userrefs, g.first_seen, g.last_seen, $2,
                case when exists (select 1 from stage_snapshots t where t.dataset_id = g.dataset_id and t.kind = g.kind and t.name = g.name) then 'guid_changed' else 'not_in_inventory' end
           from gone g
         returning dataset_id
       )
       select dataset_id, count(*) as n from archived group by dataset_id`,
      [changedIds, job.report_id],
    );
    for (const r of removed.rows) {
      counts.removed += Number(r.n);
      bump(r.dataset_id, Number(r.n));
    }

    // 5. Additions and changes in one upsert. Rows whose values are identical are not written, so
    //    they come back from neither branch and count as unchanged. They are left out before the
    //    insert, not only by the WHERE of DO UPDATE: ON CONFLICT locks every conflicting row before
    //    it evaluates that WHERE, so a dataset of 2,000 snapshots that gained one would lock (and
    //    dirty) 2,000 rows to write one. The WHERE stays for rows changed by a concurrent writer.
    //    A dataset that has just appeared holds no rows, so its staged rows skip the look-up (a
    //    first inventory is all new rows: the anti-join would only cost it).
    const existingIds = changed.filter((c) => !c.row.appeared).map((c) => c.row.id);
    const upserted = await client.query<{ dataset_id: string; added: string; changed: string }>(
      `with up as (
         insert into snapshots as s (dataset_id, system_id, kind, name, guid, createtxg, creation, used, referenced, userrefs, report_id)
         select t.dataset_id, $1, t.kind, t.name, t.guid, t.createtxg, to_timestamp(t.creation_epoch), t.used, t.referenced, t.userrefs, $2
           from stage_snapshots t
          where not (t.dataset_id = any($3::bigint[])) or not exists (
                  select 1 from snapshots o
                   where o.dataset_id = t.dataset_id and o.kind = t.kind and o.name = t.name
                     and (o.guid, o.createtxg, o.creation, o.used, o.referenced, o.userrefs) is not distinct from
                         (coalesce(t.guid, o.guid), coalesce(t.createtxg, o.createtxg), to_timestamp(t.creation_epoch),
                          coalesce(t.used, o.used), coalesce(t.referenced, o.referenced), coalesce(t.userrefs, o.userrefs)))
         on conflict (dataset_id, kind, name) do update
           set guid = coalesce(excluded.guid, s.guid),
               createtxg = coalesce(excluded.createtxg, s.createtxg),
               creation = excluded.creation,
               used = coalesce(excluded.used, s.used),
               referenced = coalesce(excluded.referenced, s.referenced),
               userrefs = coalesce(excluded.userrefs, s.userrefs),
               last_seen = now(),
               report_id = excluded.report_id
           where (s.guid, s.createtxg, s.creation, s.used, s.referenced, s.userrefs) is distinct from
                 (coalesce(excluded.guid, s.guid), coalesce(excluded.createtxg, s.createtxg), excluded.creation,
                  coalesce(excluded.used, s.used), coalesce(excluded.referenced, s.referenced), coalesce(excluded.userrefs, s.userrefs))
         returning s.dataset_id, (xmax = 0) as inserted
       )
       select dataset_id, count(*) filter (where inserted) as added, count(*) filter (where not inserted) as changed from up group by dataset_id`,
      [job.system_id, job.report_id, existingIds],
    );
    let written = 0;
    for (const r of upserted.rows) {
      counts.added += Number(r.added);
      counts.changed += Number(r.changed);
      written += Number(r.added) + Number(r.changed);
      bump(r.dataset_id, Number(r.added) + Number(r.changed));
    }
    counts.unchanged += staged - written;
    // A batch-only client (the original cron script) re-sends its whole list every run: every
    // row it lists counts as re-reported now, changed or not (see legacy-prune.ts). Rows the
    // upsert wrote already carry last_seen = now(), so only the unchanged ones are left to touch.
    if (!fullReplace && staged > written) {
      await client.query(
        `update snapshots s set last_seen = now() from stage_snapshots t
          where s.dataset_id = any($1::bigint[]) and t.dataset_id = s.dataset_id and t.kind = s.kind and t.name = s.name and s.last_seen < now()`,
        [changedIds],
      );
    }

    // 6. Remember the new content hash; bump the version only where rows really changed.
    const { rows } = await client.query<VersionRow>(
      `update datasets d set content_hash = t.hash,
              content_version = d.content_version + case when t.touched then 1 else 0 end
         from unnest($1::bigint[], $2::text[], $3::bool[]) as t(id, hash, touched)
        where d.id = t.id
        returning d.id, d.pool, d.path, d.content_version`,
      [changed.map((c) => c.row.id), changed.map((c) => c.hash), changed.map((c) => perDataset.has(c.row.id))],
    );
    for (const r of rows) versions.set(String(r.id), r);
  }

  // 7. A complete inventory: datasets of this system it does not list are gone, with their snapshots.
  if (fullReplace && job.complete) {
    const listedIds = dsRows.map((r) => r.id);
    const goneDatasets = await client.query<{ id: string }>(
      `update datasets set gone_at = now(), content_hash = null, content_version = content_version + 1, receive_resume_token = null
        where system_id = $1 and gone_at is null and not (id = any($2::bigint[]))
        returning id`,
      [job.system_id, listedIds],
    );
    if (goneDatasets.rowCount) {
      const ids = goneDatasets.rows.map((r) => r.id);
      const removed = await client.query<{ dataset_id: string; n: string }>(
        `with gone as (delete from snapshots where dataset_id = any($1::bigint[]) returning *),
              archived as (
                insert into snapshots_gone (id, dataset_id, system_id, kind, name, guid, createtxg, creation, used, referenced, userrefs, first_seen, last_seen, gone_report_id, gone_reason)
                select id, dataset_id, system_id, kind, name, guid, createtxg, creation, used, referenced, userrefs, first_seen, last_seen, $2, 'dataset_gone' from gone
                returning dataset_id)
         select dataset_id, count(*) as n from archived group by dataset_id`,
        [ids, job.report_id],
      );
      for (const r of removed.rows) counts.removed += Number(r.n);
      for (const id of ids) bump(id, 1);
    }
  }

  // 8. One recompute job per (dataset, new version) that changed. Step 6 returned the versions of
  //    the changed datasets (step 7 touches only unlisted ones); read the others.
  const unknown = [...perDataset.keys()].filter((id) => !versions.has(id));
  if (unknown.length > 0) {
    const { rows } = await client.query<VersionRow>('select id, pool, path, content_version from datasets where id = any($1::bigint[])', [unknown]);
    for (const r of rows) versions.set(String(r.id), r);
  }
  const recompute = [...perDataset.keys()]
    .filter((id) => versions.has(id))
    .sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0))
    .map((id) => {
      const r = versions.get(id)!;
      return { system_id: job.system_id, dataset_id: String(r.id), pool: r.pool, dataset: r.path, version: String(r.content_version) };
    });
  return { counts, recompute };
}

/** Record a report that will never apply (final failure), so GET /reports can say why. */
export async function markReportFailed(pool: pg.Pool, job: Pick<ReconcilePayload, 'system_id' | 'report_id' | 'mode' | 'generation' | 'complete' | 'chunk_count' | 'received_at'>, error: string): Promise<void> {
  await pool.query(
    `insert into inventory_reports (system_id, report_id, mode, generation, complete, chunk_count, status, received_at, error)
     select $1, $2, $3, $4, $5, $6, 'failed', $7, $8 where exists (select 1 from systems where id = $1)
     on conflict (system_id, report_id) do update set status = 'failed', error = excluded.error
       where inventory_reports.status not in ('applied', 'superseded')`,
    [job.system_id, job.report_id, job.mode, job.generation, job.complete, job.chunk_count, job.received_at, error.slice(0, 2000)],
  );
}
