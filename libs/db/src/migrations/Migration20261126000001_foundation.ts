import { Migration } from '@mikro-orm/migrations';

/** Systems, their hashed API keys, and the generated operator credential. */
export class Migration20261126000001Foundation extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table systems (
        id uuid primary key default gen_random_uuid(),
        hostname text not null,
        platform text not null,
        ssh_hostname text null,
        ssh_user text null,
        ssh_port integer not null default 22 check (ssh_port between 1 and 65535),
        extra_metadata jsonb not null default '{}'::jsonb,
        connectivity_status text not null default 'unknown'
          check (connectivity_status in ('unknown', 'online', 'offline')),
        last_seen timestamptz null,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      )`);
    // Host names are case-insensitive: NAS1 and nas1 are the same machine.
    this.addSql(`create unique index systems_hostname_unique on systems (lower(hostname))`);
    this.addSql(`create index systems_expiry_idx on systems (connectivity_status, last_seen)`);
    this.addSql(`
      create table api_keys (
        id uuid primary key default gen_random_uuid(),
        system_id uuid not null references systems (id) on delete cascade,
        key_hash text not null,
        created_at timestamptz not null default now(),
        expires_at timestamptz null,
        last_used_at timestamptz null,
        constraint api_keys_key_hash_unique unique (key_hash),
        constraint api_keys_key_hash_is_sha256 check (key_hash ~ '^[0-9a-f]{64}$')
      )`);
    this.addSql(`create index api_keys_system_idx on api_keys (system_id)`);
    this.addSql(`
      create table operator_credentials (
        name text primary key,
        token_hash text not null check (token_hash ~ '^[0-9a-f]{64}$'),
        created_at timestamptz not null default now()
      )`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists operator_credentials');
    this.addSql('drop table if exists api_keys');
    this.addSql('drop table if exists systems');
  }
}
