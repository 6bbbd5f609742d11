import type { RedisOptions } from 'bullmq';

/**
 * Connection *options* (never a shared ioredis instance): BullMQ then owns and closes its
 * sockets, so processes and tests exit cleanly.
 */
export function redisOptionsFromUrl(url: string): RedisOptions {
  const u = new URL(url);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    db: Number.isInteger(db) ? db : 0,
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/**
 * Reconnect in short steps: BullMQ's own default backs off exponentially up to 20 s, so after an
 * outage the API kept refusing reports for ~15 s while Redis (and readiness) were already back.
 */
export const reconnectStep = (times: number) => Math.min(100 * times, 500);

/** Every Redis command on a request path answers within this (a frozen Redis → a fast 503): with the rate limiter's 0.5 s budget before it, a request is refused within ~2 s. */
export const REQUEST_COMMAND_TIMEOUT_MS = 1500;

/** For Workers: blocking commands must wait for Redis to come back, never give up. */
export function workerConnection(url: string): RedisOptions {
  return { ...redisOptionsFromUrl(url), maxRetriesPerRequest: null, retryStrategy: reconnectStep };
}

/**
 * For producers on the request path: with the offline queue off, a command fails at once when
 * Redis is unreachable, and within `commandTimeout` when it is frozen (SIGSTOP, a stalled
 * failover), so the API answers 503 instead of holding the request open.
 */
export function producerConnection(url: string): RedisOptions {
  return { ...redisOptionsFromUrl(url), enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: REQUEST_COMMAND_TIMEOUT_MS, retryStrategy: reconnectStep };
}

/**
 * Resolve once the client is connected, or after `ms` either way: a process starts even when
 * Redis is down (readiness says so), but with Redis up its first commands are not refused
 * because the connection was still being made.
 */
export function whenConnected(client: { status: string; once: (event: 'ready', cb: () => void) => unknown }, ms = 3000): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    client.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
