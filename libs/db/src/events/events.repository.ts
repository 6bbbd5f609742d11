import type { EventEnvelope, EventType } from '@zfs-sync/contracts';
import type pg from 'pg';
import { withTransaction } from '../transaction.js';

/** An event with its log position (`seq`, a decimal string: bigint never passes through a JS number). */
export interface LoggedEvent extends EventEnvelope {
  seq: string;
}

interface EventRow {
  id: string;
  seq: string;
  type: EventType;
  occurred_at: Date;
  data: Record<string, unknown>;
}

const toLogged = (r: EventRow): LoggedEvent => ({ id: r.id, type: r.type, occurred_at: r.occurred_at.toISOString(), data: r.data, seq: String(r.seq) });

/** The envelope alone (the wire format of the stream, the log and a webhook body). */
export const envelopeOf = (e: LoggedEvent): EventEnvelope => ({ id: e.id, type: e.type, occurred_at: e.occurred_at, data: e.data });

/**
 * Move one batch of unrelayed events, oldest first, to the stream: under one transaction-scoped
 * lock (relays in many processes take turns), give each its log position `seq` in outbox order,
 * hand them to `publish` (the Redis XADD, which may answer the positions an earlier attempt
 * already used for some of them), and stamp them relayed — all in one transaction. If `publish`
 * throws or the process dies before the commit, nothing is stamped and the next relay (or the
 * periodic sweep) takes them again; the publisher de-duplicates by event id. Because positions are assigned under the lock and committed before the next relay can
 * assign any, a reader paging by `seq` never sees a later position before an earlier one.
 * Returns the events it moved.
 */
export async function relayOutboxBatch(pool: pg.Pool, limit: number, publish: (events: LoggedEvent[]) => Promise<string[] | void>): Promise<LoggedEvent[]> {
  return withTransaction(pool, async (client) => {
    await client.query(`select pg_advisory_xact_lock(hashtext('zfs-sync:events-relay'))`);
    const { rows } = await client.query<{ id: string; type: EventType; occurred_at: Date; data: Record<string, unknown> }>(
      `select id, type, occurred_at, data from events where seq is null order by outbox_no limit $1`,
      [limit],
    );
    if (rows.length === 0) return [];
    const seqs = (await client.query<{ seq: string }>(`select nextval('events_seq')::text as seq from generate_series(1, $1)`, [rows.length])).rows
      .map((r) => BigInt(r.seq))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      .map(String);
    const events = rows.map((r, i) => toLogged({ ...r, seq: seqs[i]! }));
    // The publisher may answer other positions: those an attempt that died before its commit
    // already put on the stream (never committed here, so still free, and below every new one).
    const actual = (await publish(events)) ?? seqs;
    for (const [i, e] of events.entries()) e.seq = actual[i]!;
    await client.query(`update events e set seq = t.seq, relayed_at = now() from unnest($1::uuid[], $2::bigint[]) as t(id, seq) where e.id = t.id`, [events.map((e) => e.id), events.map((e) => e.seq)]);
    return events;
  });
}

export interface EventPage {
  items: LoggedEvent[];
  /** Cursor for the next page (`after=`): the last item's seq, or the request's cursor when empty. */
  next_after: string | null;
}

/**
 * The event log after a position, oldest first, optionally only some types. Without a position:
 * the newest `limit` events (still oldest first), so a reader can start at the tail and follow
 * with `next_after`; `after=0` reads from the beginning.
 */
export async function listEvents(pool: Pick<pg.Pool, 'query'>, opts: { after?: string | null; types?: readonly string[] | null; limit: number }): Promise<EventPage> {
  const types = opts.types && opts.types.length ? opts.types : null;
  const { rows } =
    opts.after === undefined || opts.after === null
      ? await pool.query<EventRow>(
          `select * from (select id, seq::text as seq, seq as n, type, occurred_at, data from events
                           where seq is not null and ($1::text[] is null or type = any($1::text[]))
                           order by events.seq desc limit $2) newest
            order by n`,
          [types, opts.limit],
        )
      : await pool.query<EventRow>(
          `select id, seq::text as seq, type, occurred_at, data from events
            where seq is not null and seq > $1::bigint and ($2::text[] is null or type = any($2::text[]))
            order by events.seq limit $3`,
          [opts.after, types, opts.limit],
        );
  const items = rows.map(toLogged);
  return { items, next_after: items.length ? items[items.length - 1]!.seq : (opts.after ?? null) };
}

/** The newest log position (null: empty log): where a new live-stream client starts. */
export async function latestEventSeq(pool: Pick<pg.Pool, 'query'>): Promise<string | null> {
  const { rows } = await pool.query<{ seq: string | null }>(`select max(seq)::text as seq from events`);
  return rows[0]?.seq ?? null;
}

/** Retention: delete events older than `days`, in bounded batches; returns how many. */
export async function pruneEvents(pool: Pick<pg.Pool, 'query'>, days: number, batch = 10_000): Promise<number> {
  let total = 0;
  for (;;) {
    // Unrelayed events are kept whatever their age: the relay still owes them to the stream.
    const { rowCount } = await pool.query(
      `delete from events where id in (select id from events where occurred_at < now() - make_interval(days => $1) and seq is not null limit $2)`,
      [days, batch],
    );
    total += rowCount ?? 0;
    if ((rowCount ?? 0) < batch) return total;
  }
}

/** Flapping marks older than the longest window (a day) decide nothing any more. */
export async function pruneLinkEventMarks(pool: Pick<pg.Pool, 'query'>): Promise<number> {
  const { rowCount } = await pool.query(`delete from link_event_marks where emitted_at < now() - interval '1 day'`);
  return rowCount ?? 0;
}
