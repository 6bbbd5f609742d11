import test from 'ava';
import { startTcpProxy, type TcpProxy } from '@zfs-sync/testkit';
import { createTestEnvironment, startTestApi, type TestApi, type TestEnvironment } from '@zfs-sync/testkit/stack';

let env: TestEnvironment;
let api: TestApi;
let pgProxy: TcpProxy;
let redisProxy: TcpProxy;

test.before(async () => {
  env = await createTestEnvironment();
  const pgUrl = new URL(env.db.url);
  const redisUrl = new URL(env.redisUrl);
  pgProxy = await startTcpProxy(pgUrl.hostname, Number(pgUrl.port || 5432));
  redisProxy = await startTcpProxy(redisUrl.hostname, Number(redisUrl.port || 6379));
  api = await startTestApi(env.config({ database_url: pgProxy.url(env.db.url), redis_url: redisProxy.url(env.redisUrl) }));
});

test.after.always(async () => {
  await api?.close();
  await pgProxy?.close();
  await redisProxy?.close();
  await env?.teardown();
});

async function eventually(fn: () => Promise<boolean>, ms = 8000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

test.serial('ready while both dependencies answer', async (t) => {
  const res = await api.request('GET', '/health/ready');
  t.is(res.status, 200);
  t.deepEqual(res.body.checks, { postgres: 'ok', redis: 'ok' });
});

test.serial('503 naming Redis when Redis is unreachable, and back when it returns', async (t) => {
  redisProxy.cut();
  const started = Date.now();
  const res = await api.request('GET', '/health/ready');
  t.true(Date.now() - started < 3000, 'answers quickly instead of hanging');
  t.is(res.status, 503);
  t.is(res.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  t.regex(res.body.detail, /redis/);
  t.not(res.body.checks.redis, 'ok');
  t.is(res.body.checks.postgres, 'ok');
  // Liveness is the process alone: still alive.
  t.is((await api.request('GET', '/health/live')).status, 200);
  redisProxy.restore();
  t.true(await eventually(async () => (await api.request('GET', '/health/ready')).status === 200));
});

test.serial('503 naming PostgreSQL when PostgreSQL is unreachable, and back when it returns', async (t) => {
  pgProxy.cut();
  const res = await api.request('GET', '/health/ready');
  t.is(res.status, 503);
  t.regex(res.body.detail, /postgres/);
  t.not(res.body.checks.postgres, 'ok');
  t.is(res.body.checks.redis, 'ok');
  pgProxy.restore();
  t.true(await eventually(async () => (await api.request('GET', '/health/ready')).status === 200));
});

test.serial('row 12: public readiness and 503 bodies name the failing component, never an address or a driver message', async (t) => {
  const leaks = /127\.0\.0\.1|localhost|:\d{4,5}\b|ECONN|ETIMEDOUT|EPIPE|getaddrinfo|Connection is closed|connect |terminated|socket|stream/i;
  redisProxy.cut();
  const ready = await api.request('GET', '/health/ready');
  t.is(ready.status, 503);
  t.regex(ready.text, /redis/);
  t.notRegex(ready.text, leaks, ready.text);
  // A route that needs Redis: a 503 naming the queue, no more.
  const sys = await api.request('POST', '/systems', { key: 'zs_admin_test-admin-token-for-integration-tests-only-0000', body: { hostname: `h-${Date.now()}.test`, platform: 'linux' } });
  const inv = await api.request('POST', `/systems/${sys.body?.id}/inventory`, {
    key: 'zs_admin_test-admin-token-for-integration-tests-only-0000',
    body: { report_id: `r-${Date.now()}`, generation: 1, complete: false, datasets: [] },
  });
  t.is(inv.status, 503, inv.text);
  t.notRegex(inv.text, leaks, inv.text);
  redisProxy.restore();
  t.true(await eventually(async () => (await api.request('GET', '/health/ready')).status === 200));
  pgProxy.cut();
  const pgDown = await api.request('GET', '/health/ready');
  t.is(pgDown.status, 503);
  t.regex(pgDown.text, /postgres/);
  t.notRegex(pgDown.text, leaks, pgDown.text);
  pgProxy.restore();
  t.true(await eventually(async () => (await api.request('GET', '/health/ready')).status === 200));
});
