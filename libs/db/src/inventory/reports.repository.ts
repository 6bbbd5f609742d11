import type pg from 'pg';
import type { ReportCounts } from './apply-report.js';

export interface ReportRecord {
  system_id: string;
  report_id: string;
  mode: 'inventory' | 'batch';
  status: 'queued' | 'applying' | 'applied' | 'superseded' | 'failed';
  received_at: Date;
  applied_at: Date | null;
  counts: ReportCounts;
  error: string | null;
  chunk_count: number;
  generation: string | null;
  complete: boolean;
}

/** Inventory reports as the reconcile processor recorded them (read side). */
export class ReportsRepository {
  constructor(private readonly pool: pg.Pool) {}

  /** The report(s) with this id, of one system when given (at most two, to tell an ambiguous id). */
  async find(reportId: string, systemId?: string): Promise<ReportRecord[]> {
    const { rows } = await this.pool.query<ReportRecord>(
      `select system_id, report_id, mode, status, received_at, applied_at, counts, error, chunk_count, generation::text, complete
         from inventory_reports where report_id = $1 and ($2::uuid is null or system_id = $2) limit 2`,
      [reportId, systemId ?? null],
    );
    return rows;
  }
}
