import type { Redis } from 'ioredis';
import { LuaScript } from './lua.js';

/**
 * A fixed-window rate limit kept in Redis, so every API replica counts against the same number:
 * one script call per counted request (INCR, PEXPIRE on the first hit of a window), on Redis's
 * clock. The heartbeat route counts inside its own script instead (heartbeats.ts), so a heartbeat
 * stays one round trip.
 */
export interface RateLimit {
  /** The counter, without the window index (rateLimitKey). */
  key: string;
  /** Requests allowed per window. */
  limit: number;
  windowMs: number;
}

export type RateDecision = { allowed: true; count: number } | { allowed: false; count: number; retryAfterMs: number };

/**
 * The Lua fragment shared with the heartbeat script: counts KEYS[n] in the current window and
 * sets `rl_count`, `rl_left` (ms to the window's end) and `rl_ok`. ARGV[a] limit, ARGV[a+1] window.
 */
export const RATE_LIMIT_LUA = (keyIndex: number, argIndex: number) => `
local rl_t = redis.call('TIME')
local rl_now = tonumber(rl_t[1]) * 1000 + math.floor(tonumber(rl_t[2]) / 1000)
local rl_window = tonumber(ARGV[${argIndex + 1}])
local rl_index = math.floor(rl_now / rl_window)
local rl_key = KEYS[${keyIndex}] .. ':' .. rl_index
local rl_count = redis.call('INCR', rl_key)
if rl_count == 1 then redis.call('PEXPIRE', rl_key, rl_window + 1000) end
local rl_left = (rl_index + 1) * rl_window - rl_now
local rl_ok = rl_count <= tonumber(ARGV[${argIndex}])
`;

const TAKE = new LuaScript(`${RATE_LIMIT_LUA(1, 1)}
return {rl_count, rl_left, rl_ok and 1 or 0}`);

export function decision(count: number, leftMs: number, ok: number | boolean): RateDecision {
  return ok ? { allowed: true, count } : { allowed: false, count, retryAfterMs: Math.max(1, leftMs) };
}

/** Count one request against `limit`; Redis errors propagate (the caller decides to fail open). */
export async function takeRateLimit(redis: Redis, limit: RateLimit): Promise<RateDecision> {
  const [count, left, ok] = (await TAKE.run(redis, [limit.key], [String(limit.limit), String(limit.windowMs)])) as [number, number, number];
  return decision(count, left, ok);
}
