import type { Redis } from 'ioredis';
import { heartbeatFlushedKey, heartbeatMetaKey, lastSeenKey } from './keys.js';
import { LuaScript } from './lua.js';
import { RATE_LIMIT_LUA, decision, type RateDecision, type RateLimit } from './rate-limit.js';

/**
 * Heartbeats live in Redis first: the API records each one with one script call (no PostgreSQL
 * write), and the heartbeat-expiry sweep flushes them to PostgreSQL in one set-based UPDATE.
 * Times are Redis's clock (ms), for the API replicas and the sweepers alike, so no two clocks
 * are ever compared.
 *
 * The script returns what the API needs to decide whether PostgreSQL must hear of this heartbeat
 * now: the previous heartbeat (a system silent for about the timeout may be marked offline by a
 * sweep; bringing it back online is a transition, written through at once with its event) and the
 * hash of the metadata last written through (changed metadata is written through too).
 */
const RECORD_SOURCE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local prev = redis.call('ZSCORE', KEYS[1], ARGV[1])
local meta = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[1], 'GT', now, ARGV[1])
return {tostring(now), prev or '', meta or ''}
`;

/** Read every heartbeat newer than ARGV[1] (ms) and the Redis time of the read, atomically. */
const READ_SINCE = new LuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local since = redis.call('GET', KEYS[2]) or '0'
local entries = redis.call('ZRANGE', KEYS[1], tostring(tonumber(since) - tonumber(ARGV[1])), '+inf', 'BYSCORE', 'WITHSCORES')
return {tostring(now), entries}
`);

export interface RecordedHeartbeat {
  /** This heartbeat, ms (Redis clock). */
  at: number;
  /** The previous heartbeat, ms, or null (never, or Redis lost it). */
  previous: number | null;
  /** Hash of the metadata last written through to PostgreSQL, or null. */
  metaHash: string | null;
}

/** The same, counting the heartbeat against the caller's rate limit first (KEYS[3]); over it, nothing is recorded. */
const RECORD_LIMITED = new LuaScript(`${RATE_LIMIT_LUA(3, 2)}
if not rl_ok then return {'', '', '', rl_count, rl_left, 0} end
${RECORD_SOURCE.replace('return {tostring(now), prev or \'\', meta or \'\'}', "return {tostring(now), prev or '', meta or '', rl_count, rl_left, 1}")}`);
const RECORD = new LuaScript(RECORD_SOURCE);

/**
 * Record a heartbeat, in one round trip. With `limit`, the heartbeat is first counted against the
 * caller's rate limit in the same script; a refused one is not recorded (`limited`).
 */
export async function recordHeartbeat(redis: Redis, prefix: string, systemId: string): Promise<RecordedHeartbeat>;
export async function recordHeartbeat(redis: Redis, prefix: string, systemId: string, limit: RateLimit): Promise<RecordedHeartbeat | { limited: RateDecision & { allowed: false } }>;
export async function recordHeartbeat(redis: Redis, prefix: string, systemId: string, limit?: RateLimit): Promise<RecordedHeartbeat | { limited: RateDecision & { allowed: false } }> {
  if (limit) {
    const [at, prev, meta, count, left, ok] = (await RECORD_LIMITED.run(redis, [lastSeenKey(prefix), heartbeatMetaKey(prefix), limit.key], [systemId, String(limit.limit), String(limit.windowMs)])) as [string, string, string, number, number, number];
    const d = decision(count, left, ok);
    if (!d.allowed) return { limited: d };
    return { at: Number(at), previous: prev === '' ? null : Number(prev), metaHash: meta === '' ? null : meta };
  }
  const [at, prev, meta] = (await RECORD.run(redis, [lastSeenKey(prefix), heartbeatMetaKey(prefix)], [systemId])) as [string, string, string];
  return { at: Number(at), previous: prev === '' ? null : Number(prev), metaHash: meta === '' ? null : meta };
}

/** After metadata was written through to PostgreSQL. */
export async function rememberHeartbeatMeta(redis: Redis, prefix: string, systemId: string, metaHash: string): Promise<void> {
  await redis.hset(heartbeatMetaKey(prefix), systemId, metaHash);
}

/** The last heartbeat of each system that Redis holds (ms), for reads that must be current. */
export async function lastSeenOf(redis: Redis, prefix: string, systemIds: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (systemIds.length === 0) return out;
  const scores = await redis.zmscore(lastSeenKey(prefix), ...systemIds);
  scores.forEach((s, i) => {
    if (s !== null) out.set(systemIds[i]!, Number(s));
  });
  return out;
}

/**
 * Heartbeats recorded since the previous flush (with `overlapMs` of slack for sweeps that
 * raced), and the Redis time of the read: the sweep judges "silent for longer than the timeout"
 * against this time, never a later one, so a heartbeat it has not seen cannot be judged missing.
 */
export async function heartbeatsSinceLastFlush(redis: Redis, prefix: string, overlapMs: number): Promise<{ readAt: number; entries: Array<{ systemId: string; at: number }> }> {
  const [now, flat] = (await READ_SINCE.run(redis, [lastSeenKey(prefix), heartbeatFlushedKey(prefix)], [String(overlapMs)])) as [string, string[]];
  const entries: Array<{ systemId: string; at: number }> = [];
  for (let i = 0; i < flat.length; i += 2) entries.push({ systemId: flat[i]!, at: Number(flat[i + 1]) });
  return { readAt: Number(now), entries };
}

/** Record that heartbeats up to `readAt` are in PostgreSQL; forget systems that no longer exist. */
export async function markHeartbeatsFlushed(redis: Redis, prefix: string, readAt: number, goneSystemIds: string[]): Promise<void> {
  const multi = redis.multi().set(heartbeatFlushedKey(prefix), String(readAt));
  if (goneSystemIds.length) multi.zrem(lastSeenKey(prefix), ...goneSystemIds).hdel(heartbeatMetaKey(prefix), ...goneSystemIds);
  await multi.exec();
}

/** A deleted system's heartbeat state. */
export async function forgetHeartbeats(redis: Redis, prefix: string, systemId: string): Promise<void> {
  await redis.multi().zrem(lastSeenKey(prefix), systemId).hdel(heartbeatMetaKey(prefix), systemId).exec();
}
