import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { EventEnvelope, EventType } from '@zfs-sync/contracts';
import type pg from 'pg';

/**
 * The event outbox (issue 10). `appendEvents` writes events into the `events` table inside the
 * caller's transaction: they commit with the change that caused them, or vanish with it. A
 * NOTIFY on `EVENTS_NOTIFY_CHANNEL` (delivered only at commit) wakes the relay at once; its
 * periodic sweep picks up anything a missed notification left behind.
 *
 * `seq`, the log's cursor, is not assigned here: the relay assigns it, in order, under one lock,
 * when it moves events to the Redis stream. A number assigned at insert would become visible in
 * commit order, not number order, and a reader paging by it could skip an event whose transaction
 * committed late. Until relayed an event has `seq` null and is not in the log yet (sub-second).
 */

/** PostgreSQL NOTIFY channel the outbox signals on commit. */
export const EVENTS_NOTIFY_CHANNEL = 'zfs_sync_events';

/** Something that runs SQL in the caller's transaction: a pg client (or pool) or a MikroORM EntityManager inside `transactional`. */
export type SqlExecutor = Pick<pg.ClientBase, 'query'> | EntityManager;

export interface NewEvent<T extends EventType = EventType> {
  type: T;
  data: Record<string, unknown>;
  /** Defaults to the transaction's time (`now()`). */
  occurred_at?: Date | string;
}

const isEntityManager = (x: SqlExecutor): x is EntityManager => typeof (x as EntityManager).getConnection === 'function';

/** Run `sql` (written with `$1…` placeholders) on either kind of executor, in its transaction. */
export async function runSql<R extends Record<string, unknown> = Record<string, unknown>>(executor: SqlExecutor, sql: string, params: unknown[]): Promise<R[]> {
  if (isEntityManager(executor)) {
    // MikroORM's execute goes through knex: `?` placeholders, and it joins the em's open transaction.
    const knexSql = sql.replace(/\$\d+/g, '?');
    const ordered = [...sql.matchAll(/\$(\d+)/g)].map((m) => params[Number(m[1]) - 1]);
    return (await executor.execute(knexSql, ordered, 'all')) as R[];
  }
  return (await executor.query(sql, params)).rows as R[];
}

/**
 * Append events in the caller's transaction. Returns their envelopes (ids assigned here, so a
 * caller can log or return them). Order within one call is preserved in the log.
 */
export async function appendEvents(executor: SqlExecutor, events: readonly NewEvent[]): Promise<EventEnvelope[]> {
  if (events.length === 0) return [];
  const ids = events.map(() => randomUUID());
  const rows = await runSql<{ id: string; occurred_at: Date }>(
    executor,
    // One JSON parameter (both executors bind it alike); `with ordinality … order by` makes
    // outbox_no (the relay's order) follow the caller's order. The NOTIFY rides in the same
    // statement (one round trip less in every writer's transaction); a CTE calling a volatile
    // function is evaluated exactly once.
    `with inserted as (
       insert into events (id, type, occurred_at, data)
       select (e->>'id')::uuid, e->>'type', coalesce((e->>'occurred_at')::timestamptz, now()), e->'data'
         from jsonb_array_elements($1::jsonb) with ordinality as t(e, ord)
        order by t.ord
       returning id, occurred_at
     ), notified as (select pg_notify($2, ''))
     select i.id, i.occurred_at from inserted i, notified`,
    [
      JSON.stringify(
        events.map((e, i) => ({
          id: ids[i],
          type: e.type,
          occurred_at: e.occurred_at === undefined ? null : e.occurred_at instanceof Date ? e.occurred_at.toISOString() : e.occurred_at,
          data: e.data,
        })),
      ),
      EVENTS_NOTIFY_CHANNEL,
    ],
  );
  const at = new Map(rows.map((r) => [r.id, new Date(r.occurred_at).toISOString()]));
  return events.map((e, i) => ({ id: ids[i]!, type: e.type, occurred_at: at.get(ids[i]!)!, data: e.data }));
}
