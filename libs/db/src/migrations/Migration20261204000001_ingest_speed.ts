import { Migration } from '@mikro-orm/migrations';

/**
 * Ingest speed (issue 9). The foreign key snapshots.dataset_id → datasets fired one row-level
 * trigger per inserted snapshot (a lookup with a share lock on the dataset row): measured at about
 * as much as the COPY and the insert themselves. Its guarantee is kept by other means:
 *
 * - the only writer of `snapshots` (the reconcile apply) inserts rows only for datasets it has
 *   just upserted, in the same transaction, under the lock of their system's row, and a system's
 *   deletion waits for that lock;
 * - deleting datasets (a system's deletion cascades to them) removes their snapshots with one
 *   statement-level trigger per deleting statement, instead of one cascade per row.
 */
export class Migration20261204000001IngestSpeed extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table snapshots drop constraint if exists snapshots_dataset_id_fkey`);
    this.addSql(`
      create function datasets_delete_snapshots() returns trigger language plpgsql as $$
      begin
        delete from snapshots s using gone_datasets g where s.dataset_id = g.id;
        return null;
      end $$`);
    this.addSql(`
      create trigger datasets_delete_snapshots after delete on datasets
        referencing old table as gone_datasets
        for each statement execute function datasets_delete_snapshots()`);
  }

  override async down(): Promise<void> {
    this.addSql('drop trigger if exists datasets_delete_snapshots on datasets');
    this.addSql('drop function if exists datasets_delete_snapshots()');
    this.addSql('delete from snapshots s where not exists (select 1 from datasets d where d.id = s.dataset_id)');
    this.addSql('alter table snapshots add constraint snapshots_dataset_id_fkey foreign key (dataset_id) references datasets (id) on delete cascade');
  }
}
