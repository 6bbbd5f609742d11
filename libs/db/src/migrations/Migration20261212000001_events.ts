import { Migration } from '@mikro-orm/migrations';

/**
 * The event outbox (issue 10). A change and its events commit in one transaction (no change
 * without its event, no event without its change); the relay processor then moves unrelayed rows
 * to the Redis events stream.
 *
 * Two numbers: `outbox_no` is the insertion order (the relay's work order); `seq` is the event's
 * position in the log — the cursor of `GET /events?after=` and the SSE `Last-Event-ID`. The relay
 * assigns `seq` from `events_seq` under one lock, in the transaction that also stamps
 * `relayed_at`, so positions become visible strictly in order: a reader paging by `seq` can never
 * skip an event whose transaction committed late (which a number assigned at insert would allow).
 */
export class Migration20261212000001Events extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table events (
        id uuid primary key default gen_random_uuid(),
        outbox_no bigserial not null unique,
        seq bigint null unique,
        type text not null check (length(type) between 1 and 64),
        occurred_at timestamptz not null default now(),
        data jsonb not null default '{}'::jsonb,
        relayed_at timestamptz null
      )`);
    this.addSql(`create sequence events_seq as bigint`);
    // The relay's work list stays small however long the log grows.
    this.addSql(`create index events_unrelayed_idx on events (outbox_no) where seq is null`);
    // Filtering the log by type (`?types=`), in cursor order.
    this.addSql(`create index events_type_seq_idx on events (type, seq)`);
    // Retention prunes by age.
    this.addSql(`create index events_occurred_at_idx on events (occurred_at)`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists events');
    this.addSql('drop sequence if exists events_seq');
  }
}
