import type { Redis } from 'ioredis';
import type { EventEnvelope } from '@zfs-sync/contracts';
import { eventStreamKey } from './keys.js';
import { LuaScript } from './lua.js';

/** An event as the relay writes it to the stream: its envelope and its log position. */
export interface StreamedEvent {
  envelope: EventEnvelope;
  seq: string;
}

/**
 * The relay's write to the Redis events stream (fields per `EventStreamEntry`: event_id, event,
 * seq; bounded with `MAXLEN ~`), exactly once per event id: for each event, in one atomic script, XADD it unless an
 * earlier relay attempt already did — that attempt's transaction then died before its commit —
 * and answer the position the event has on the stream (the earlier attempt's, or the one given).
 * The marks live in a hash (`<stream>:relaying`, id → seq) only until the relay's commit:
 * `forgetRelayed` drops them afterwards.
 */
const RELAY_ONCE = new LuaScript(`
local out = {}
for i = 2, #ARGV, 3 do
  local id, seq, ev = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local prev = redis.call('HGET', KEYS[2], id)
  if prev then
    out[#out + 1] = prev
  else
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'event_id', id, 'event', ev, 'seq', seq)
    redis.call('HSET', KEYS[2], id, seq)
    out[#out + 1] = seq
  end
end
return out`);

export const relayMarksKey = (prefix: string) => `${eventStreamKey(prefix)}:relaying`;

/** XADD each event once (see RELAY_ONCE); returns each event's position on the stream, in order. */
export async function appendToEventStreamOnce(redis: Redis, prefix: string, events: readonly StreamedEvent[], maxLength: number): Promise<string[]> {
  if (events.length === 0) return [];
  const args: string[] = [String(maxLength)];
  for (const e of events) args.push(e.envelope.id, e.seq, JSON.stringify(e.envelope));
  const out = (await RELAY_ONCE.run(redis, [eventStreamKey(prefix), relayMarksKey(prefix)], args)) as string[];
  return out.map(String);
}

/** After the relay's commit: the marks of these events are no longer needed. */
export async function forgetRelayed(redis: Redis, prefix: string, ids: readonly string[]): Promise<void> {
  if (ids.length) await redis.hdel(relayMarksKey(prefix), ...ids);
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
