import { Migration } from '@mikro-orm/migrations';

/**
 * The audit log (issue 10): every admin action — who (the credential kind and id, never the
 * secret), what (action on a resource) and what changed. Written in the same transaction as the
 * admin's change where there is one. `seq` orders it for the newest-first cursor.
 */
export class Migration20261212000002Audit extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table audit_log (
        id uuid primary key default gen_random_uuid(),
        seq bigserial not null unique,
        at timestamptz not null default now(),
        actor_kind text not null check (length(actor_kind) between 1 and 32),
        actor_id text null check (actor_id is null or length(actor_id) <= 128),
        action text not null check (length(action) between 1 and 64),
        resource_type text not null check (length(resource_type) between 1 and 64),
        resource_id text null check (resource_id is null or length(resource_id) <= 128),
        changes jsonb not null default '{}'::jsonb
      )`);
    this.addSql(`create index audit_log_resource_idx on audit_log (resource_type, resource_id, seq)`);
    this.addSql(`create index audit_log_at_idx on audit_log (at)`);
    // Flapping protection for link events: the last event per link and direction.
    this.addSql(`
      create table link_event_marks (
        group_id uuid not null,
        dataset text not null,
        source_system_id uuid not null,
        target_system_id uuid not null,
        direction text not null,
        emitted_at timestamptz not null,
        primary key (group_id, dataset, source_system_id, target_system_id, direction)
      )`);
    this.addSql(`create index link_event_marks_emitted_idx on link_event_marks (emitted_at)`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists link_event_marks');
    this.addSql('drop table if exists audit_log');
  }
}
