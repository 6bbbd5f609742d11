import { Migration } from '@mikro-orm/migrations';

/**
 * This database's identity (issue 8, row 16). Deterministic BullMQ job ids are built from
 * database ids (`recompute-<dataset id>-<content version>`); a database dropped and created again
 * while Redis keeps its queues rewinds those ids, and its new jobs collided with the old
 * incarnation's finished ones — BullMQ silently drops an add whose id it still holds. Job ids now
 * carry this id, written once here.
 */
export class Migration20261210000002Installation extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table installation (
        singleton boolean primary key default true check (singleton),
        id uuid not null default gen_random_uuid(),
        created_at timestamptz not null default now()
      )`);
    this.addSql(`insert into installation default values`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists installation');
  }
}
