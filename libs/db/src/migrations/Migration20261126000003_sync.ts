import { Migration } from '@mikro-orm/migrations';

/**
 * The sync engine's state: groups and members (with their replication policy), the computed link
 * of every (group, dataset, source, target), the plans handed to executing hosts with their
 * lease / backoff feedback loop, conflicts, and a transition log (from → to, when, why) that
 * later becomes events and webhooks.
 */
export class Migration20261126000003Sync extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table sync_groups (
        id uuid primary key default gen_random_uuid(),
        name text not null,
        description text null,
        enabled boolean not null default true,
        sync_interval_seconds integer not null default 3600,
        directional boolean not null default false,
        hub_system_id uuid null references systems (id) on delete restrict,
        extra_metadata jsonb not null default '{}'::jsonb,
        transfer_mode text not null default 'push' check (transfer_mode in ('push', 'pull')),
        snapshot_pattern text null,
        min_snapshot_age_seconds integer not null default 0,
        max_lag_seconds integer not null default 259200,
        datasets jsonb not null default '{"include":[],"exclude":[]}'::jsonb,
        target_pools jsonb not null default '{}'::jsonb,
        send_options jsonb not null default '{"compressed":true,"raw":false}'::jsonb,
        receive_options jsonb not null default '{"resumable":true,"unmounted":false}'::jsonb,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        constraint sync_groups_hub_when_directional check (not directional or hub_system_id is not null)
      )`);
    this.addSql(`create unique index sync_groups_name_unique on sync_groups (lower(name))`);
    this.addSql(`
      create table sync_group_members (
        group_id uuid not null references sync_groups (id) on delete cascade,
        system_id uuid not null references systems (id) on delete cascade,
        added_at timestamptz not null default now(),
        primary key (group_id, system_id)
      )`);
    this.addSql(`create index sync_group_members_system_idx on sync_group_members (system_id)`);
    this.addSql(`
      create table sync_instructions (
        id uuid primary key default gen_random_uuid(),
        group_id uuid not null references sync_groups (id) on delete cascade,
        dataset text not null,
        source_system_id uuid not null references systems (id) on delete cascade,
        target_system_id uuid not null references systems (id) on delete cascade,
        executor_system_id uuid not null references systems (id) on delete cascade,
        kind text not null check (kind in ('transfer', 'remedy')),
        strategy text null,
        plan jsonb not null,
        ending_guid text null,
        status text not null check (status in ('pending', 'offered', 'started', 'succeeded', 'failed', 'completed', 'superseded')),
        lease_expires_at timestamptz null,
        next_attempt_at timestamptz null,
        attempts integer not null default 0,
        consecutive_failures integer not null default 0,
        bytes_transferred numeric(20,0) null,
        last_error text null,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        started_at timestamptz null,
        finished_at timestamptz null
      )`);
    this.addSql(`create index sync_instructions_executor_idx on sync_instructions (executor_system_id, status)`);
    this.addSql(`create index sync_instructions_target_idx on sync_instructions (target_system_id, status)`);
    // At most one live plan per link: a new plan supersedes the previous one.
    this.addSql(`create unique index sync_instructions_one_live_per_link on sync_instructions (group_id, dataset, source_system_id, target_system_id)
                   where status in ('pending', 'offered', 'started', 'succeeded', 'failed')`);
    this.addSql(`
      create table conflicts (
        id uuid primary key default gen_random_uuid(),
        group_id uuid not null references sync_groups (id) on delete cascade,
        dataset text not null,
        type text not null check (type in ('diverged', 'no_common_base', 'name_collision')),
        severity text not null,
        source_system_id uuid not null references systems (id) on delete cascade,
        target_system_id uuid not null references systems (id) on delete cascade,
        details jsonb not null,
        status text not null check (status in ('open', 'resolved', 'ignored')),
        detected_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        resolved_at timestamptz null,
        resolution jsonb null
      )`);
    this.addSql(`create unique index conflicts_one_open_per_link on conflicts (group_id, dataset, source_system_id, target_system_id, type) where status <> 'resolved'`);
    this.addSql(`create index conflicts_group_idx on conflicts (group_id, status)`);
    this.addSql(`
      create table sync_links (
        group_id uuid not null references sync_groups (id) on delete cascade,
        dataset text not null,
        source_system_id uuid not null references systems (id) on delete cascade,
        target_system_id uuid not null references systems (id) on delete cascade,
        verdict text not null check (verdict in ('in_sync', 'behind', 'out_of_sync', 'diverged', 'no_common_base', 'not_seeded', 'syncing', 'error')),
        computed_verdict text not null,
        lag_seconds bigint null,
        base jsonb null,
        source_only_count integer not null default 0,
        target_only_count integer not null default 0,
        name_collision boolean not null default false,
        matched_by text not null default 'guid',
        explanation text not null,
        details jsonb not null,
        instruction_id uuid null references sync_instructions (id) on delete set null,
        conflict_id uuid null references conflicts (id) on delete set null,
        updated_at timestamptz not null default now(),
        primary key (group_id, dataset, source_system_id, target_system_id)
      )`);
    this.addSql(`create index sync_links_source_idx on sync_links (source_system_id)`);
    this.addSql(`create index sync_links_target_idx on sync_links (target_system_id)`);
    this.addSql(`
      create table link_transitions (
        id bigint generated always as identity primary key,
        group_id uuid not null references sync_groups (id) on delete cascade,
        dataset text not null,
        source_system_id uuid not null,
        target_system_id uuid not null,
        from_verdict text null,
        to_verdict text null,
        reason text not null,
        at timestamptz not null default now()
      )`);
    this.addSql(`create index link_transitions_group_idx on link_transitions (group_id, at desc)`);
    this.addSql(`
      create table sync_states (
        group_id uuid not null references sync_groups (id) on delete cascade,
        dataset text not null,
        system_id uuid not null references systems (id) on delete cascade,
        status text not null check (status in ('in_sync', 'out_of_sync', 'syncing', 'conflict', 'error')),
        error_message text null,
        source text not null check (source in ('computed', 'reported')),
        updated_at timestamptz not null default now(),
        primary key (group_id, dataset, system_id)
      )`);
  }

  override async down(): Promise<void> {
    for (const t of ['sync_states', 'link_transitions', 'sync_links', 'conflicts', 'sync_instructions', 'sync_group_members', 'sync_groups']) this.addSql(`drop table if exists ${t}`);
  }
}
