import test from 'ava';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { EVENT_DATA_SCHEMAS, compile } from '@zfs-sync/contracts';
import { createLogger } from '@zfs-sync/logger';
import { eventStreamKey, Producer } from '@zfs-sync/queue';
import { pgQuery } from '@zfs-sync/testkit';
import { createTestEnvironment, eventually, spawnWorkerProcess, startTestApi, TEST_ADMIN_TOKEN, type TestApi, type TestEnvironment } from '@zfs-sync/testkit/stack';
import { createPgPool } from '@zfs-sync/db';
import { startWorkers, type RunningWorkers } from '../../start-workers.js';
import { FANOUT_GROUP, WebhookFanout } from '../webhook-fanout/webhook-fanout.processor.js';
import { TestReceiver, xaddEvent } from './test-receiver.js';

// Crashes: a delivery worker killed mid-request, and a fan-out consumer that read entries and
// died before acknowledging them. Nothing is lost, nothing is recorded twice.
let env: TestEnvironment;
let api: TestApi;
let rx: TestReceiver;
const running: RunningWorkers[] = [];

const overrides = { webhook_allowed_cidrs: ['127.0.0.1/32'], webhook_timeout_ms: 2000, webhook_retry_schedule: ['200ms'] };

test.before(async () => {
  env = await createTestEnvironment();
  api = await startTestApi(env.config(overrides));
  rx = await TestReceiver.start();
});
test.after.always(async () => {
  for (const w of running) await w.stop(5000);
  await api?.close();
  await rx?.close();
  await env?.teardown();
});

const admin = { key: TEST_ADMIN_TOKEN };

test.serial('a delivery worker killed mid-request loses no delivery: another takes the attempt over, same webhook-id', async (t) => {
  const config = env.config({ ...overrides, worker_processors: ['webhook-fanout'] });
  running.push(await startWorkers(config, createLogger('fanout', config)));
  const ep = (await api.request('POST', '/webhooks', { ...admin, body: { url: rx.url('/crash'), event_types: ['*'] } })).body;
  const child = spawnWorkerProcess(config, { WORKER_PROCESSORS: 'webhook-delivery', ZFS_SYNC_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32', ZFS_SYNC_WEBHOOK_TIMEOUT_MS: '2000' });
  const exited = once(child, 'exit');
  // The first request is held unanswered; the worker making it is killed.
  let first = true;
  rx.on('/crash', (_r, res) => {
    if (first) {
      first = false;
      child.kill('SIGKILL');
      return;
    }
    res.writeHead(200).end('ok');
  });
  const event = await xaddEvent(env.redisUrl, env.prefix, 'sync.failed', {});
  await eventually(async () => rx.at('/crash'), (r) => r.length >= 1, 60_000);
  await exited;
  t.is(rx.at('/crash').length, 1);
  const survivor = await startWorkers(env.config({ ...overrides, worker_processors: ['webhook-delivery'] }), createLogger('delivery', config));
  running.push(survivor);
  const log = await eventually(async () => (await api.request('GET', `/webhooks/${ep.id}/deliveries`, admin)).body as any[], (ds) => ds[0]?.status === 'succeeded', 60_000);
  t.is(log[0].status, 'succeeded');
  t.deepEqual(rx.at('/crash').map((r) => r.headers['webhook-id']), [event.id, event.id]);
  // The killed attempt never finished, so it was never recorded: one attempt, the one that succeeded.
  t.deepEqual(log[0].attempts.map((a: any) => [a.attempt, a.status_code]), [[1, 200]]);
});

test.serial('an endpoint failing continuously for webhook_disable_after_seconds is disabled, counted and its deliveries given up', async (t) => {
  for (const w of running.splice(0)) await w.stop(5000);
  const config = env.config({ ...overrides, webhook_disable_after_seconds: 1, webhook_retry_schedule: Array(20).fill('200ms') });
  const workers = await startWorkers(config, createLogger('disable', config));
  running.push(workers);
  const ep = (await api.request('POST', '/webhooks', { ...admin, body: { url: rx.url('/broken'), event_types: ['*'] } })).body;
  rx.on('/broken', (_r, res) => void res.writeHead(500).end());
  await xaddEvent(env.redisUrl, env.prefix, 'sync.failed', {});
  const e = await eventually(async () => (await api.request('GET', `/webhooks/${ep.id}`, admin)).body, (b) => b.enabled === false, 30_000);
  t.false(e.enabled);
  t.regex(e.disabled_reason, /failed continuously/);
  t.truthy(e.failing_since);
  t.regex(await workers.registry.metrics(), /zfs_sync_webhook_endpoints_disabled_total\{[^}]*\} 1\n/);
  const log = (await api.request('GET', `/webhooks/${ep.id}/deliveries`, admin)).body;
  t.is(log[0].status, 'dead');
  t.true(log[0].attempts.length >= 2);
  // The outbox records it once, in the transaction that disabled the endpoint.
  const events = (await pgQuery(env.db.url, `select type, data from events where type = 'webhook.endpoint_disabled'`)).rows;
  t.is(events.length, 1);
  t.is(events[0].data.endpoint_id, ep.id);
  t.regex(events[0].data.reason, /failed continuously/);
  t.true(compile(EVENT_DATA_SCHEMAS['webhook.endpoint_disabled'])(events[0].data).ok, 'matches its documented schema');
  // Enabled again by the operator: the failure streak starts over.
  const again = await api.request('PATCH', `/webhooks/${ep.id}`, { ...admin, body: { enabled: true } });
  t.true(again.body.enabled);
  t.is(again.body.failing_since, null);
  t.is(again.body.disabled_reason, null);
  await api.request('DELETE', `/webhooks/${ep.id}`, admin);
});

test.serial('entries a dead fan-out consumer read are claimed by another, and re-reading creates nothing twice', async (t) => {
  // No other fan-out runs: this test plays the consumers itself.
  for (const w of running.splice(0)) await w.stop(5000);
  const ep = (await api.request('POST', '/webhooks', { ...admin, body: { url: rx.url('/claimed'), event_types: ['conflict.opened'] } })).body;
  const config = env.config(overrides);
  const pool = createPgPool(env.db.url);
  const producer = new Producer(env.redisUrl, env.prefix);
  const redis = new Redis(env.redisUrl);
  try {
    const fanout = new WebhookFanout({ config, pool, producer, logger: createLogger('t', config) }, redis);
    await fanout.ensureGroup();
    const a = await xaddEvent(env.redisUrl, env.prefix, 'conflict.opened', {});
    const b = await xaddEvent(env.redisUrl, env.prefix, 'conflict.opened', {});
    // A consumer reads both entries and dies before it acknowledges them.
    const read = (await redis.xreadgroup('GROUP', FANOUT_GROUP, 'dead-consumer', 'COUNT', 10, 'STREAMS', eventStreamKey(env.prefix), '>')) as any[];
    const entries = read[0][1];
    t.true(entries.length >= 2);
    t.is(((await redis.xpending(eventStreamKey(env.prefix), FANOUT_GROUP)) as any[])[0] >= 2, true);
    // The survivor takes them over (idle time 0 here; CLAIM_IDLE_MS in production).
    await fanout.claimStale(0);
    t.is(((await redis.xpending(eventStreamKey(env.prefix), FANOUT_GROUP)) as any[])[0], 0);
    const count = async () => Number((await pgQuery(env.db.url, 'select count(*) from webhook_deliveries where endpoint_id = $1', [ep.id])).rows[0].count);
    t.is(await count(), 2);
    // Handling the same entries again (a consumer that died after recording but before XACK) adds nothing.
    await fanout.handle(entries);
    t.is(await count(), 2);
    const ids = (await pgQuery(env.db.url, 'select event_id from webhook_deliveries where endpoint_id = $1 order by created_at', [ep.id])).rows.map((r: any) => r.event_id).sort();
    t.deepEqual(ids, [a.id, b.id].sort());
    // An entry that is no envelope, and one PostgreSQL refuses (a NUL in jsonb), are acknowledged
    // and skipped; the good entry next to them is delivered.
    await redis.xadd(eventStreamKey(env.prefix), '*', 'event_id', 'x', 'event', 'not json');
    await xaddEvent(env.redisUrl, env.prefix, 'conflict.opened', { note: 'nul\u0000here' });
    const good = await xaddEvent(env.redisUrl, env.prefix, 'conflict.opened', {});
    await fanout.readOnce(100);
    t.is(((await redis.xpending(eventStreamKey(env.prefix), FANOUT_GROUP)) as any[])[0], 0);
    t.is(await count(), 3);
    t.is((await pgQuery(env.db.url, 'select count(*) from webhook_deliveries where event_id = $1 and endpoint_id = $2', [good.id, ep.id])).rows[0].count, '1');
  } finally {
    redis.disconnect();
    await producer.close();
    await pool.end();
  }
});
