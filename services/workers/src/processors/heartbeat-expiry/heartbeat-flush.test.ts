import test from 'ava';
import { createLogger } from '@zfs-sync/logger';
import { pgQuery } from '@zfs-sync/testkit';
import { TEST_ADMIN_TOKEN, createTestEnvironment, startTestApi, type TestApi, type TestEnvironment } from '@zfs-sync/testkit/stack';
import { startWorkers, type RunningWorkers } from '../../start-workers.js';
import { sweepHeartbeats } from './heartbeat-expiry.processor.js';

/**
 * The heartbeat path of issue 9: heartbeats are recorded in Redis, PostgreSQL hears of them in
 * one UPDATE per sweep — except a transition back to online and changed metadata, written at
 * once — and two API processes share key changes through Redis.
 */
let env: TestEnvironment;
let apiA: TestApi;
let apiB: TestApi;
let workers: RunningWorkers;

test.before(async () => {
  env = await createTestEnvironment();
  // Two API processes on one database and Redis prefix, as two replicas; long auth cache TTL,
  // so only the invalidation can make a changed key take effect quickly.
  const config = env.config({ heartbeat_timeout_seconds: 4, heartbeat_sweep_seconds: 3600, auth_cache_seconds: 300 });
  apiA = await startTestApi(config);
  apiB = await startTestApi(config);
  // Only for its connections: the sweep is called by the test itself (the schedule is hourly).
  workers = await startWorkers({ ...config, workerProcessors: ['heartbeat-expiry'] }, createLogger('workers-test', config));
});
test.after.always(async () => {
  await workers?.stop(5000);
  await apiA?.close();
  await apiB?.close();
  await env?.teardown();
});

const register = async (name: string) => (await apiA.request('POST', '/systems', { key: TEST_ADMIN_TOKEN, body: { hostname: `${name}.hb.test`, platform: 'linux' } })).body as { id: string; api_key: string };
const dbRow = async (id: string) => (await pgQuery(env.db.url, 'select last_seen, connectivity_status, extra_metadata from systems where id = $1', [id])).rows[0] as { last_seen: Date | null; connectivity_status: string; extra_metadata: Record<string, unknown> };
const sweep = () => sweepHeartbeats(workers.deps);

test.serial('a routine heartbeat costs no PostgreSQL write; reads show it at once; the sweep writes it', async (t) => {
  const sys = await register('routine');
  const first = await apiA.request('POST', `/systems/${sys.id}/heartbeat`, { key: sys.api_key, body: { agent_version: '1.0' } });
  t.is(first.status, 200);
  // The first heartbeat is a transition (unknown → online): written through at once.
  const afterFirst = await dbRow(sys.id);
  t.is(afterFirst.connectivity_status, 'online');
  t.is(afterFirst.extra_metadata.agent_version, '1.0');
  await new Promise((r) => setTimeout(r, 50));
  const second = await apiB.request('POST', `/systems/${sys.id}/heartbeat`, { key: sys.api_key, body: { agent_version: '1.0' } });
  t.is(second.status, 200);
  t.true(Date.parse(second.body.last_seen) > Date.parse(first.body.last_seen));
  // PostgreSQL still holds the first one…
  t.is((await dbRow(sys.id)).last_seen!.getTime(), afterFirst.last_seen!.getTime());
  // …but every read shows the newest.
  const read = await apiA.request('GET', `/systems/${sys.id}`, { key: sys.api_key });
  t.is(read.body.last_seen, second.body.last_seen);
  const health = await apiB.request('GET', `/systems/${sys.id}/health`, { key: sys.api_key });
  t.is(health.body.last_seen, second.body.last_seen);
  t.is(health.body.status, 'online');
  // One sweep writes it (one UPDATE for every system).
  const expired = await sweep();
  t.is(expired.length, 0);
  t.is((await dbRow(sys.id)).last_seen!.toISOString(), second.body.last_seen);
});

test.serial('changed metadata is written through at once', async (t) => {
  const sys = await register('meta');
  await apiA.request('POST', `/systems/${sys.id}/heartbeat`, { key: sys.api_key, body: { agent_version: '1.0' } });
  await apiA.request('POST', `/systems/${sys.id}/heartbeat`, { key: sys.api_key, body: { agent_version: '1.1', metadata: { pools: 2 } } });
  t.like((await dbRow(sys.id)).extra_metadata, { agent_version: '1.1', pools: 2 });
});

test.serial('online/offline transitions stay exact: silent past the timeout → offline at the sweep; the next heartbeat → online at once', async (t) => {
  const sys = await register('transition');
  const alive = await register('alive');
  await apiA.request('POST', `/systems/${sys.id}/heartbeat`, { key: sys.api_key });
  await apiA.request('POST', `/systems/${alive.id}/heartbeat`, { key: alive.api_key });
  // `alive` keeps heartbeating through Redis only (never written through) while `sys` is silent.
  const end = Date.now() + 4500;
  while (Date.now() < end) {
    t.is((await apiB.request('POST', `/systems/${alive.id}/heartbeat`, { key: alive.api_key })).status, 200);
    await new Promise((r) => setTimeout(r, 250));
  }
  const expired = (await sweep()).map((s) => s.id);
  t.true(expired.includes(sys.id));
  t.false(expired.includes(alive.id));
  t.is((await dbRow(sys.id)).connectivity_status, 'offline');
  t.is((await dbRow(alive.id)).connectivity_status, 'online', 'heartbeats recorded only in Redis keep a system online');
  // A second sweep changes nothing (one transition, one offline).
  t.false((await sweep()).some((s) => s.id === sys.id));
  const back = await apiB.request('POST', `/systems/${sys.id}/heartbeat`, { key: sys.api_key });
  t.is(back.status, 200);
  t.is((await dbRow(sys.id)).connectivity_status, 'online', 'the transition back is written at once');
});

test.serial('a key rotated or a system deleted through one API process stops working at once in the other', async (t) => {
  const sys = await register('rotate');
  // Both processes have the key cached.
  t.is((await apiA.request('POST', `/systems/${sys.id}/heartbeat`, { key: sys.api_key })).status, 200);
  t.is((await apiB.request('POST', `/systems/${sys.id}/heartbeat`, { key: sys.api_key })).status, 200);
  const rotated = await apiA.request('POST', `/systems/${sys.id}/api-key/rotate`, { key: sys.api_key });
  t.is(rotated.status, 200);
  t.is((await apiA.request('POST', `/systems/${sys.id}/heartbeat`, { key: sys.api_key })).status, 401);
  // The other process hears of it through Redis pub/sub (milliseconds, not the 300 s TTL).
  const refusedAt = Date.now();
  let status = 0;
  while (Date.now() - refusedAt < 2000) {
    status = (await apiB.request('POST', `/systems/${sys.id}/heartbeat`, { key: sys.api_key })).status;
    if (status === 401) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  t.is(status, 401, 'the old key is refused by the other process');
  t.is((await apiB.request('POST', `/systems/${sys.id}/heartbeat`, { key: rotated.body.api_key })).status, 200);

  t.is((await apiB.request('DELETE', `/systems/${sys.id}`, { key: TEST_ADMIN_TOKEN })).status, 204);
  const deletedAt = Date.now();
  while (Date.now() - deletedAt < 2000) {
    status = (await apiA.request('POST', `/systems/${sys.id}/heartbeat`, { key: rotated.body.api_key })).status;
    if (status === 401) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  t.is(status, 401, 'a deleted system\'s key is refused by the other process');
});
