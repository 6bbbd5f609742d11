import { Migration } from '@mikro-orm/migrations';

/**
 * Nothing accepted is silently lost (issue 8, row 3). The API records every report it answers 202
 * in `inventory_reports` (a small row, never the payload) before it queues the job: status
 * `queued`, the chunks it accepted, and when. Should Redis lose the job (restarted empty, a
 * failover), the report sweep finds a `queued` report whose accepted chunk has neither a job nor a
 * stored chunk, and marks it `lost`: GET /reports/{id} says so and asks the host to re-send (a
 * re-sent report is queued again). The worker's own insert (`on conflict do nothing`) finds the
 * row already there.
 */
export class Migration20261210000001AcceptedReports extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table inventory_reports drop constraint if exists inventory_reports_status_check`);
    this.addSql(`alter table inventory_reports add constraint inventory_reports_status_check check (status in ('queued', 'applying', 'applied', 'superseded', 'failed', 'lost'))`);
    this.addSql(`alter table inventory_reports add column accepted_chunks integer[] not null default '{}'`);
    this.addSql(`alter table inventory_reports add column queued_at timestamptz null`);
    this.addSql(`create index inventory_reports_queued_idx on inventory_reports (queued_at) where status = 'queued'`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists inventory_reports_queued_idx`);
    this.addSql(`update inventory_reports set status = 'failed', error = coalesce(error, 'lost') where status = 'lost'`);
    this.addSql(`alter table inventory_reports drop column if exists queued_at`);
    this.addSql(`alter table inventory_reports drop column if exists accepted_chunks`);
    this.addSql(`alter table inventory_reports drop constraint if exists inventory_reports_status_check`);
    this.addSql(`alter table inventory_reports add constraint inventory_reports_status_check check (status in ('queued', 'applying', 'applied', 'superseded', 'failed'))`);
  }
}
