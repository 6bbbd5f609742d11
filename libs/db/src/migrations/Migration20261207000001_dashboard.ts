import { Migration } from '@mikro-orm/migrations';

/**
 * What the operators' dashboard and the protection view read:
 * - `systems.site`: where a host stands (a room, a building, a city); copies in two sites survive
 *   the loss of one. Optional; set at registration, by PUT or by the agent's config.
 * - `sync_groups.protection`: the group's `{min_copies, min_sites}` policy (e.g. 3 and 2 for the
 *   3-2-1 rule); null means no policy.
 * - `dataset_protection`: per (group, dataset), written by the recompute processor under its
 *   (group, dataset) lock — the newest eligible snapshot and the newest one older than 24 h, each
 *   with the (system, pool) places that hold it, matched by guid. Sites are joined at read time,
 *   so moving a host to another site shows at once.
 * - `sync_link_lag_samples`: a link's lag over time, for the link page's chart. A trigger on
 *   `sync_links` appends a sample whenever a link's lag or verdict changes, inside the writer's own
 *   transaction (so the history can never disagree with the link), and prunes that link's samples
 *   older than 30 days.
 */
export class Migration20261207000001Dashboard extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table systems add column site text null check (site is null or (length(site) between 1 and 64))`);
    this.addSql(`create index systems_site_idx on systems (site) where site is not null`);
    // Paging and searching the systems table at thousands of hosts.
    this.addSql(`create index systems_hostname_sort_idx on systems (lower(hostname), id)`);
    this.addSql(`alter table sync_groups add column protection jsonb null`);
    this.addSql(`
      create table dataset_protection (
        group_id uuid not null references sync_groups (id) on delete cascade,
        dataset text not null,
        reference_system_id uuid null references systems (id) on delete set null,
        matched_by text not null default 'guid' check (matched_by in ('guid', 'name')),
        newest jsonb null,
        newest_holders jsonb not null default '[]'::jsonb,
        newest_copies integer not null default 0,
        day_old jsonb null,
        day_old_holders jsonb not null default '[]'::jsonb,
        day_old_copies integer not null default 0,
        refresh_at timestamptz null,
        computed_at timestamptz not null default now(),
        primary key (group_id, dataset)
      )`);
    this.addSql(`create index dataset_protection_refresh_idx on dataset_protection (refresh_at) where refresh_at is not null`);
    this.addSql(`create index dataset_protection_order_idx on dataset_protection (newest_copies, group_id, dataset)`);
    this.addSql(`
      create table sync_link_lag_samples (
        id bigint generated always as identity primary key,
        group_id uuid not null references sync_groups (id) on delete cascade,
        dataset text not null,
        source_system_id uuid not null,
        target_system_id uuid not null,
        at timestamptz not null default now(),
        lag_seconds bigint null,
        verdict text not null
      )`);
    this.addSql(`create index sync_link_lag_samples_link_idx on sync_link_lag_samples (group_id, dataset, source_system_id, target_system_id, at desc)`);
    this.addSql(`
      create function record_link_lag_sample() returns trigger language plpgsql as $$
      begin
        if tg_op = 'INSERT' or new.lag_seconds is distinct from old.lag_seconds or new.verdict is distinct from old.verdict then
          insert into sync_link_lag_samples (group_id, dataset, source_system_id, target_system_id, lag_seconds, verdict)
          values (new.group_id, new.dataset, new.source_system_id, new.target_system_id, new.lag_seconds, new.verdict);
          delete from sync_link_lag_samples
           where group_id = new.group_id and dataset = new.dataset and source_system_id = new.source_system_id
             and target_system_id = new.target_system_id and at < now() - interval '30 days';
        end if;
        return null;
      end $$`);
    this.addSql(`create trigger sync_links_lag_history after insert or update on sync_links for each row execute function record_link_lag_sample()`);
    // The links views filter by verdict and page by group at 20,000 links.
    this.addSql(`create index sync_links_verdict_idx on sync_links (verdict)`);
  }

  override async down(): Promise<void> {
    this.addSql('drop index if exists sync_links_verdict_idx');
    this.addSql('drop trigger if exists sync_links_lag_history on sync_links');
    this.addSql('drop function if exists record_link_lag_sample()');
    this.addSql('drop table if exists sync_link_lag_samples');
    this.addSql('drop table if exists dataset_protection');
    this.addSql('alter table sync_groups drop column if exists protection');
    this.addSql('drop index if exists systems_hostname_sort_idx');
    this.addSql('drop index if exists systems_site_idx');
    this.addSql('alter table systems drop column if exists site');
  }
}
