import { Migration } from '@mikro-orm/migrations';

/**
 * Snapshot inventory. `snapshots` holds what each host has now (one row per system, pool,
 * dataset, kind and name); a row that disappears — or whose guid changes under the same name —
 * moves to `snapshots_gone`, so "when did this appear / disappear on this host" stays answerable
 * without the live table growing with every pruned snapshot. guid, createtxg and sizes are
 * unsigned 64-bit: numeric(20,0), never bigint.
 */
export class Migration20261126000002Inventory extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table systems add column inventory_generation bigint not null default 0`);
    this.addSql(`alter table systems add column last_inventory_at timestamptz null`);
    this.addSql(`
      create table datasets (
        id bigint generated always as identity primary key,
        system_id uuid not null references systems (id) on delete cascade,
        pool text not null,
        path text not null,
        receive_resume_token text null,
        content_hash text null,
        content_version bigint not null default 1,
        first_seen timestamptz not null default now(),
        last_seen timestamptz not null default now(),
        gone_at timestamptz null,
        constraint datasets_system_pool_path_unique unique (system_id, pool, path)
      )`);
    // Datasets are matched across hosts by their path relative to the pool (pool names differ).
    this.addSql(`create index datasets_path_idx on datasets (path) where gone_at is null`);
    this.addSql(`
      create table snapshots (
        id bigint generated always as identity primary key,
        dataset_id bigint not null references datasets (id) on delete cascade,
        system_id uuid not null,
        kind text not null check (kind in ('snapshot', 'bookmark')),
        name text not null,
        guid numeric(20,0) null check (guid between 0 and 18446744073709551615),
        createtxg numeric(20,0) null check (createtxg between 0 and 18446744073709551615),
        creation timestamptz not null,
        used numeric(20,0) null check (used between 0 and 18446744073709551615),
        referenced numeric(20,0) null check (referenced between 0 and 18446744073709551615),
        userrefs integer null,
        first_seen timestamptz not null default now(),
        last_seen timestamptz not null default now(),
        report_id text null,
        constraint snapshots_identity_unique unique (dataset_id, kind, name)
      )`);
    this.addSql(`create index snapshots_system_newest_idx on snapshots (system_id, creation desc, id desc)`);
    this.addSql(`
      create table snapshots_gone (
        id bigint primary key,
        dataset_id bigint not null references datasets (id) on delete cascade,
        system_id uuid not null,
        kind text not null,
        name text not null,
        guid numeric(20,0) null,
        createtxg numeric(20,0) null,
        creation timestamptz not null,
        used numeric(20,0) null,
        referenced numeric(20,0) null,
        userrefs integer null,
        first_seen timestamptz not null,
        last_seen timestamptz not null,
        gone_at timestamptz not null default now(),
        gone_report_id text null
      )`);
    this.addSql(`create index snapshots_gone_system_idx on snapshots_gone (system_id, gone_at desc)`);
    this.addSql(`create index snapshots_gone_dataset_idx on snapshots_gone (dataset_id)`);
    this.addSql(`
      create table inventory_reports (
        system_id uuid not null references systems (id) on delete cascade,
        report_id text not null,
        mode text not null check (mode in ('inventory', 'batch')),
        generation bigint null,
        complete boolean not null,
        chunk_count integer not null,
        status text not null check (status in ('queued', 'applying', 'applied', 'superseded', 'failed')),
        received_at timestamptz not null,
        applied_at timestamptz null,
        counts jsonb not null default '{"added":0,"removed":0,"changed":0,"unchanged":0}'::jsonb,
        error text null,
        -- The recompute jobs this report produced, so a retry after commit can enqueue them again.
        recompute jsonb not null default '[]'::jsonb,
        primary key (system_id, report_id)
      )`);
    this.addSql(`create index inventory_reports_report_idx on inventory_reports (report_id)`);
    this.addSql(`
      create table inventory_report_chunks (
        system_id uuid not null references systems (id) on delete cascade,
        report_id text not null,
        chunk_index integer not null,
        chunk_count integer not null,
        body_hash text not null,
        payload jsonb not null,
        received_at timestamptz not null default now(),
        primary key (system_id, report_id, chunk_index)
      )`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists inventory_report_chunks');
    this.addSql('drop table if exists inventory_reports');
    this.addSql('drop table if exists snapshots_gone');
    this.addSql('drop table if exists snapshots');
    this.addSql('drop table if exists datasets');
    this.addSql('alter table systems drop column if exists last_inventory_at');
    this.addSql('alter table systems drop column if exists inventory_generation');
  }
}
