import { Migration } from '@mikro-orm/migrations';

/**
 * Plan lifecycle (issue 7).
 *
 * - The API *records* what hosts and operators say; the recompute processor *derives* link
 *   state. Host status reports go to `instruction_reports` (and the instruction's reported
 *   columns); confirmed conflict resolutions to `conflict_resolutions`. The processor carries
 *   them out under its (group, dataset) lock and marks them processed.
 * - Two leases: a short offer lease on hand-out, a long run lease from `started`.
 * - Each plan remembers the inventory versions it was made from, so a hand-out can tell in
 *   one comparison whether the plan still matches the latest applied inventories.
 * - Batch-only (original) clients: when a system last sent a full inventory or a batch, and why
 *   a snapshot left the live table.
 * - initial_replication per group.
 */
export class Migration20261201000001PlanLifecycle extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table sync_groups add column initial_replication text not null default 'most_recent' check (initial_replication in ('most_recent', 'all'))`);

    this.addSql(`alter table sync_instructions
      add column lease_kind text null check (lease_kind in ('offer', 'run')),
      add column offered_at timestamptz null,
      add column reported_at timestamptz null,
      add column processed_at timestamptz null,
      add column source_dataset_id bigint null,
      add column source_version bigint null,
      add column target_dataset_id bigint null,
      add column target_version bigint null`);
    // The sweep looks for host reports the processor has not handled yet, and for run leases that ran out.
    this.addSql(`create index sync_instructions_unprocessed_idx on sync_instructions (reported_at) where status in ('started', 'succeeded', 'failed')`);

    this.addSql(`
      create table instruction_reports (
        id bigint generated always as identity primary key,
        instruction_id uuid not null references sync_instructions (id) on delete cascade,
        status text not null check (status in ('started', 'progress', 'succeeded', 'failed')),
        bytes_transferred numeric(20,0) null,
        error text null,
        reported_at timestamptz not null default now()
      )`);
    this.addSql(`create index instruction_reports_instruction_idx on instruction_reports (instruction_id, id)`);

    this.addSql(`
      create table conflict_resolutions (
        id uuid primary key default gen_random_uuid(),
        conflict_id uuid not null references conflicts (id) on delete cascade,
        group_id uuid not null references sync_groups (id) on delete cascade,
        dataset text not null,
        strategy text not null,
        confirmed boolean not null default false,
        note text null,
        requested_by text not null,
        -- The casualty list the operator saw and confirmed: the processor refuses a remedy that
        -- would now destroy anything else.
        would_destroy jsonb not null default '[]'::jsonb,
        status text not null default 'pending' check (status in ('pending', 'applied', 'refused')),
        outcome text null,
        instruction_id uuid null references sync_instructions (id) on delete set null,
        requested_at timestamptz not null default now(),
        processed_at timestamptz null
      )`);
    this.addSql(`create index conflict_resolutions_pending_idx on conflict_resolutions (group_id, dataset) where status = 'pending'`);
    this.addSql(`create index conflict_resolutions_conflict_idx on conflict_resolutions (conflict_id, requested_at desc)`);

    this.addSql(`alter table sync_links
      add column consecutive_failures integer not null default 0,
      add column last_error text null,
      add column next_attempt_at timestamptz null`);

    this.addSql(`alter table systems add column last_full_inventory_at timestamptz null, add column last_batch_at timestamptz null`);
    // Systems that ever sent a full inventory are not batch-only (issue 7, "Removals for batch clients").
    this.addSql(`update systems set last_full_inventory_at = last_inventory_at where inventory_generation > 0`);
    this.addSql(`alter table snapshots_gone add column gone_reason text null`);
  }

  override async down(): Promise<void> {
    this.addSql('alter table snapshots_gone drop column if exists gone_reason');
    this.addSql('alter table systems drop column if exists last_full_inventory_at, drop column if exists last_batch_at');
    this.addSql('alter table sync_links drop column if exists consecutive_failures, drop column if exists last_error, drop column if exists next_attempt_at');
    this.addSql('drop table if exists conflict_resolutions');
    this.addSql('drop table if exists instruction_reports');
    this.addSql(`alter table sync_instructions drop column if exists lease_kind, drop column if exists offered_at, drop column if exists reported_at, drop column if exists processed_at,
                   drop column if exists source_dataset_id, drop column if exists source_version, drop column if exists target_dataset_id, drop column if exists target_version`);
    this.addSql('alter table sync_groups drop column if exists initial_replication');
  }
}
