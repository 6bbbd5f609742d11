import type { Redis } from 'ioredis';
import type { EventEnvelope, EventStreamEntry } from '@zfs-sync/contracts';
import { eventStreamKey } from './keys.js';

/** An event as the relay writes it to the stream: its envelope and its log position. */
export interface StreamedEvent {
  envelope: EventEnvelope;
  seq: string;
}

/**
 * Append events to the Redis events stream in one round trip (the relay): fields per
 * `EventStreamEntry`, the stream bounded with `MAXLEN ~` (PostgreSQL keeps the record).
 */
export async function appendToEventStream(redis: Redis, prefix: string, events: readonly StreamedEvent[], maxLength: number): Promise<void> {
  if (events.length === 0) return;
  const key = eventStreamKey(prefix);
  const pipeline = redis.pipeline();
  for (const e of events) {
    const entry: Required<EventStreamEntry> = { event_id: e.envelope.id, event: JSON.stringify(e.envelope), seq: e.seq };
    pipeline.xadd(key, 'MAXLEN', '~', String(maxLength), '*', 'event_id', entry.event_id, 'event', entry.event, 'seq', entry.seq);
  }
  const results = (await pipeline.exec()) ?? [];
  const failed = results.find(([err]) => err);
  if (failed) throw failed[0];
}

/** One entry read back from the stream. */
export interface StreamRead {
  /** The Redis stream entry id (where the next XREAD continues). */
  streamId: string;
  envelope: EventEnvelope;
  seq: string | null;
}

function parseFields(fields: string[]): { envelope: EventEnvelope; seq: string | null } | null {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i]!, fields[i + 1]!);
  const raw = map.get('event');
  if (!raw) return null;
  try {
    return { envelope: JSON.parse(raw) as EventEnvelope, seq: map.get('seq') ?? null };
  } catch {
    return null;
  }
}

/**
 * Block up to `blockMs` for entries after `afterId` (`$` = only new ones). Use a dedicated
 * connection: a blocking read holds it.
 */
export async function readEventStream(redis: Redis, prefix: string, afterId: string, blockMs: number, count = 500): Promise<StreamRead[]> {
  const reply = (await redis.xread('COUNT', count, 'BLOCK', blockMs, 'STREAMS', eventStreamKey(prefix), afterId)) as Array<[string, Array<[string, string[]]>]> | null;
  if (!reply) return [];
  const out: StreamRead[] = [];
  for (const [, entries] of reply) {
    for (const [streamId, fields] of entries) {
      const parsed = parseFields(fields);
      if (parsed) out.push({ streamId, ...parsed });
    }
  }
  return out;
}

/** The id of the stream's newest entry ('0-0' when empty): where a tail starts without missing what comes next. */
export async function lastEventStreamId(redis: Redis, prefix: string): Promise<string> {
  const entries = (await redis.xrevrange(eventStreamKey(prefix), '+', '-', 'COUNT', 1)) as Array<[string, string[]]>;
  return entries[0]?.[0] ?? '0-0';
}

/** The newest `count` entries, oldest first (a tail priming its memory). */
export async function readRecentEvents(redis: Redis, prefix: string, count: number): Promise<StreamRead[]> {
  const entries = (await redis.xrevrange(eventStreamKey(prefix), '+', '-', 'COUNT', count)) as Array<[string, string[]]>;
  const out: StreamRead[] = [];
  for (const [streamId, fields] of entries.reverse()) {
    const parsed = parseFields(fields);
    if (parsed) out.push({ streamId, ...parsed });
  }
  return out;
}
