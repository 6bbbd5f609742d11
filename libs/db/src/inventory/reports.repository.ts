import type pg from 'pg';
import type { ReportCounts } from './apply-report.js';

export interface ReportRecord {
  system_id: string;
  report_id: string;
  mode: 'inventory' | 'batch';
  status: 'queued' | 'applying' | 'applied' | 'superseded' | 'failed' | 'lost';
  received_at: Date;
  applied_at: Date | null;
  counts: ReportCounts;
  error: string | null;
  chunk_count: number;
  generation: string | null;
  complete: boolean;
  /** Chunk indexes the API accepted (202) for this report. */
  accepted_chunks: number[];
}

/** Inventory reports as the reconcile processor recorded them (read side). */
export class ReportsRepository {
  constructor(private readonly pool: pg.Pool) {}

  /** The report(s) with this id, of one system when given (at most two, to tell an ambiguous id). */
  async find(reportId: string, systemId?: string): Promise<ReportRecord[]> {
    const { rows } = await this.pool.query<ReportRecord>(
      `select system_id, report_id, mode, status, received_at, applied_at, counts, error, chunk_count, generation::text, complete, accepted_chunks
         from inventory_reports where report_id = $1 and ($2::uuid is null or system_id = $2) limit 2`,
      [reportId, systemId ?? null],
    );
    return rows;
  }

  /**
   * The API accepted a chunk: record it durably before its job is queued (one small row per
   * report, never the payload). A report the sweep had marked `lost` is queued again when the
   * host re-sends it. False when the system does not exist (nothing recorded).
   */
  async recordAccepted(r: { system_id: string; report_id: string; mode: 'inventory' | 'batch'; generation: number | null; complete: boolean; chunk_count: number; received_at: string; chunk_index: number }): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `insert into inventory_reports (system_id, report_id, mode, generation, complete, chunk_count, status, received_at, accepted_chunks, queued_at)
       select $1, $2, $3, $4, $5, $6, 'queued', $7, array[$8::int], now() where exists (select 1 from systems where id = $1)
       on conflict (system_id, report_id) do update set
         accepted_chunks = case when $8::int = any(inventory_reports.accepted_chunks) then inventory_reports.accepted_chunks else inventory_reports.accepted_chunks || $8::int end,
         queued_at = now(),
         status = case when inventory_reports.status = 'lost' then 'queued' else inventory_reports.status end,
         error = case when inventory_reports.status = 'lost' then null else inventory_reports.error end`,
      [r.system_id, r.report_id, r.mode, r.generation, r.complete, r.chunk_count, r.received_at, r.chunk_index],
    );
    return (rowCount ?? 0) > 0;
  }

  /** Reports still `queued` whose last chunk was accepted more than `graceSeconds` ago (candidates for the lost-job check). */
  async queuedBefore(graceSeconds: number, limit = 5000): Promise<Array<{ system_id: string; report_id: string; accepted_chunks: number[] }>> {
    const { rows } = await this.pool.query<{ system_id: string; report_id: string; accepted_chunks: number[] }>(
      `select system_id::text, report_id, accepted_chunks from inventory_reports
        where status = 'queued' and queued_at < now() - make_interval(secs => $1) order by queued_at limit $2`,
      [graceSeconds, limit],
    );
    return rows;
  }

  /**
   * Mark a report lost when one of `missingJobChunks` (accepted chunks whose job the queue no
   * longer has) was not stored either. Atomic against the worker: a report applied meanwhile is
   * no longer `queued`, and one re-sent meanwhile has a fresh `queued_at`.
   */
  async markLost(systemId: string, reportId: string, missingJobChunks: number[], graceSeconds: number, error: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `update inventory_reports r set status = 'lost', error = $4
        where system_id = $1 and report_id = $2 and status = 'queued' and queued_at < now() - make_interval(secs => $5)
          and exists (select 1 from unnest($3::int[]) c(i)
                       where not exists (select 1 from inventory_report_chunks k where k.system_id = r.system_id and k.report_id = r.report_id and k.chunk_index = c.i))`,
      [systemId, reportId, missingJobChunks, error, graceSeconds],
    );
    return (rowCount ?? 0) > 0;
  }
}
