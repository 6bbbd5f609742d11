/**
 * The events relay (issue 10): how fast a backlog drains from the PostgreSQL outbox to the Redis
 * stream, and the delay from a commit to the event being on the stream (the NOTIFY path).
 * Run: node --import tsx bench/events-relay.bench.ts (real PostgreSQL and Redis, a throwaway
 * database and prefix).
 */
import { appendEvents, createPgPool, withTransaction } from '@zfs-sync/db';
import { createLogger } from '@zfs-sync/logger';
import { producerConnection } from '@zfs-sync/queue';
import { createTestEnvironment } from '@zfs-sync/testkit/stack';
import { Redis } from 'ioredis';
import { startEventsRelay } from '../services/workers/src/processors/events-relay/events-relay.processor.js';

const env = await createTestEnvironment();
const pool = createPgPool(env.db.url, 8);
const redis = new Redis(producerConnection(env.redisUrl));
const config = env.config({ events_relay_poll_ms: 60000 });
const N = 20000;
// 1) backlog drain
for (let i = 0; i < N / 500; i++) await withTransaction(pool, (c) => appendEvents(c, Array.from({ length: 500 }, (_, j) => ({ type: 'inventory.applied' as const, data: { i, j, counts: { added: 1 } } }))));
const relay = startEventsRelay({ config, logger: createLogger('bench', config), pool, redis });
const t0 = Date.now();
await relay.drain();
for (;;) {
  const n = Number((await pool.query('select count(*) from events where seq is null')).rows[0].count);
  if (n === 0) break;
  await new Promise((r) => setTimeout(r, 20));
}
const drainMs = Date.now() - t0;
console.log(`backlog of ${N} events relayed in ${drainMs} ms (${Math.round(N / (drainMs / 1000))} events/s)`);
// 2) commit → stream latency, one event at a time, 200 samples
const lat: number[] = [];
const tail = new Redis(env.redisUrl);
let last = (await tail.xrevrange(`${env.prefix}:events`, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
for (let i = 0; i < 200; i++) {
  await withTransaction(pool, (c) => appendEvents(c, [{ type: 'system.online', data: { i } }]));
  const committed = performance.now();
  const r: any = await tail.xread('BLOCK', 2000, 'STREAMS', `${env.prefix}:events`, last);
  last = r[0][1].at(-1)[0];
  lat.push(performance.now() - committed);
}
lat.sort((a, b) => a - b);
console.log(`commit → on the stream: p50 ${lat[100]!.toFixed(1)} ms, p99 ${lat[197]!.toFixed(1)} ms, max ${lat[199]!.toFixed(1)} ms`);
await relay.stop();
tail.disconnect();
redis.disconnect();
await pool.end();
await env.teardown();
