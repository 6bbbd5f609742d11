import { Migration } from '@mikro-orm/migrations';

/**
 * Webhooks (issue 10): endpoints, one delivery per (endpoint, event), one row per attempt.
 *
 * The signing secret must be usable to sign, so it is stored as it is (like any credential the
 * service itself must present); the API shows it once, logs never carry it. During a rotation the
 * previous secret keeps signing until previous_secret_expires_at.
 */
export class Migration20261213000001Webhooks extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table webhook_endpoints (
        id uuid primary key default gen_random_uuid(),
        url text not null,
        description text,
        event_types text[] not null default '{*}',
        sync_group_ids uuid[],
        enabled boolean not null default true,
        secret text not null,
        previous_secret text,
        previous_secret_expires_at timestamptz,
        failing_since timestamptz,
        disabled_reason text,
        disabled_at timestamptz,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      )`);
    this.addSql(`
      create table webhook_deliveries (
        id uuid primary key default gen_random_uuid(),
        endpoint_id uuid not null references webhook_endpoints (id) on delete cascade,
        event_id uuid not null,
        event_type text not null,
        event jsonb not null,
        status text not null default 'pending' check (status in ('pending', 'failed', 'succeeded', 'dead')),
        attempt_count integer not null default 0,
        next_attempt_at timestamptz,
        last_status_code integer,
        last_duration_ms integer,
        last_error text,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        unique (endpoint_id, event_id)
      )`);
    this.addSql('create index webhook_deliveries_endpoint_created on webhook_deliveries (endpoint_id, created_at desc)');
    this.addSql('create index webhook_deliveries_created on webhook_deliveries (created_at)');
    this.addSql(`
      create table webhook_attempts (
        delivery_id uuid not null references webhook_deliveries (id) on delete cascade,
        attempt integer not null,
        started_at timestamptz not null,
        duration_ms integer not null,
        status_code integer,
        error text,
        response_body text,
        next_attempt_at timestamptz,
        primary key (delivery_id, attempt)
      )`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists webhook_attempts');
    this.addSql('drop table if exists webhook_deliveries');
    this.addSql('drop table if exists webhook_endpoints');
  }
}
