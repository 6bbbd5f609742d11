/**
 * Webhook benchmark (issue 10): a burst of events on the events stream (as the relay appends
 * them), fanned out to several endpoints on a loopback receiver by the real webhook-fanout and
 * webhook-delivery processors (one process). Measures event → receipt latency (p50/p99) and
 * deliveries per second; with --slow 1 one more endpoint holds every request for 5 s, to show
 * the healthy endpoints' latency does not depend on it.
 *
 *   npm run bench:webhooks                                  # 500 events × 4 endpoints
 *   npm run bench:webhooks -- --events 200 --endpoints 2 --slow 1
 *
 * Runs on a throwaway database and queue prefix, removed at the end.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { WebhooksRepository, createPgPool } from '@zfs-sync/db';
import { newWebhookSecret } from '@zfs-sync/domain';
import { createLogger } from '@zfs-sync/logger';
import { eventStreamKey } from '@zfs-sync/queue';
import { createTestEnvironment } from '@zfs-sync/testkit/stack';
import { startWorkers } from '@zfs-sync/workers';
import { fmtNum, summary, table } from './ingest/stats.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} must be a non-negative integer`);
  return v;
}
const EVENTS = arg('events', 500);
const ENDPOINTS = arg('endpoints', 4);
const SLOW = arg('slow', 0);
const log = (msg: string) => process.stderr.write(`${msg}\n`);

const sent = new Map<string, number>();
const latencies: number[] = [];
let slowHeld = 0;
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (req.url?.startsWith('/slow')) {
      slowHeld++;
      setTimeout(() => res.writeHead(200).end(), 5000);
      return;
    }
    const at = sent.get(String(req.headers['webhook-id']));
    if (at !== undefined) latencies.push(performance.now() - at);
    res.writeHead(204).end();
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as AddressInfo).port;

const env = await createTestEnvironment();
const config = env.config({ worker_processors: ['webhook-fanout', 'webhook-delivery'], webhook_allowed_cidrs: ['127.0.0.1/32'], webhook_timeout_ms: 10_000 });
const pool = createPgPool(env.db.url);
const repo = new WebhooksRepository(pool);
for (let i = 0; i < ENDPOINTS; i++) await repo.create({ url: `http://127.0.0.1:${port}/ok-${i}`, description: null, event_types: ['*'], sync_group_ids: null, enabled: true, secret: newWebhookSecret() });
for (let i = 0; i < SLOW; i++) await repo.create({ url: `http://127.0.0.1:${port}/slow-${i}`, description: null, event_types: ['*'], sync_group_ids: null, enabled: true, secret: newWebhookSecret() });
const workers = await startWorkers(config, createLogger('bench', config));
const redis = new Redis(env.redisUrl);
try {
  log(`${EVENTS} events × ${ENDPOINTS} endpoints${SLOW ? ` (+ ${SLOW} slow)` : ''}, delivery concurrency ${config.webhookDeliveryConcurrency}`);
  const t0 = performance.now();
  for (let i = 0; i < EVENTS; i++) {
    const event = { id: randomUUID(), type: 'inventory.applied', occurred_at: new Date().toISOString(), data: { i } };
    sent.set(event.id, performance.now());
    await redis.xadd(eventStreamKey(env.prefix), '*', 'event_id', event.id, 'event', JSON.stringify(event));
  }
  const want = EVENTS * ENDPOINTS;
  const deadline = Date.now() + 300_000;
  while (latencies.length < want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const seconds = (performance.now() - t0) / 1000;
  const s = summary(latencies);
  console.log(
    table(
      ['deliveries', 'seconds', 'per second', 'p50 ms', 'p99 ms', 'max ms', 'slow requests held'],
      [[`${latencies.length}/${want}`, fmtNum(seconds, 2), fmtNum(latencies.length / seconds, 0), fmtNum(s.p50), fmtNum(s.p99), fmtNum(s.max), String(slowHeld)]],
    ),
  );
} finally {
  redis.disconnect();
  await workers.stop(5000);
  await pool.end();
  server.closeAllConnections();
  server.close();
  await env.teardown();
}
