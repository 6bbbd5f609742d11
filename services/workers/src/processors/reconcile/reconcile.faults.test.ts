import test from 'ava';
import { startTcpProxy } from '@zfs-sync/testkit';
import { createTestEnvironment, inventory, registerSystem, startTestApi, syntheticSnapshots, type TestEnvironment } from '@zfs-sync/testkit/stack';

let env: TestEnvironment;
test.before(async () => {
  env = await createTestEnvironment();
});
test.after.always(async () => {
  await env?.teardown();
});


// 'a reconcile worker killed mid-apply' moved to the chaos suite (infra/tests/chaos/worker-kill.chaos.test.ts),
// where it runs on private servers and no longer races the worker.

test.serial('Redis unreachable: the API answers 503 at once and accepts nothing', async (t) => {
  const redisUrl = new URL(env.redisUrl);
  const proxy = await startTcpProxy(redisUrl.hostname, Number(redisUrl.port || 6379));
  const config = env.config({ redis_url: proxy.url(env.redisUrl) });
  const api = await startTestApi(config);
  try {
    const sys = await registerSystem(api);
    proxy.cut();
    const started = Date.now();
    const res = await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('down-1', 1, [{ pool: 'tank', dataset: 'd', snapshots: syntheticSnapshots(3) }]) });
    t.true(Date.now() - started < 3000, `answered in ${Date.now() - started} ms`);
    t.is(res.status, 503);
    t.is(res.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    const batch = await api.request('POST', '/snapshots/batch', { key: sys.api_key, body: [{ name: 'a', pool: 'tank', dataset: 'd', timestamp: '2024-01-01T00:00:00Z', system_id: sys.id }] });
    t.is(batch.status, 503);
    proxy.restore();
    // Once Redis is back, the same report is accepted as new (nothing was half-accepted).
    let again;
    for (let i = 0; i < 50; i++) {
      again = await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('down-1', 1, [{ pool: 'tank', dataset: 'd', snapshots: syntheticSnapshots(3) }]) });
      if (again.status === 202) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    t.is(again!.status, 202);
    t.false(again!.body.duplicate);
  } finally {
    await api.close();
    await proxy.close();
  }
});
