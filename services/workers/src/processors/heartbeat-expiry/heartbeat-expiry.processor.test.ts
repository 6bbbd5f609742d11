import test from 'ava';
import { createLogger } from '@zfs-sync/logger';
import { pgQuery } from '@zfs-sync/testkit';
import { TEST_ADMIN_TOKEN, createTestEnvironment, startTestApi, type TestApi, type TestEnvironment } from '@zfs-sync/testkit/stack';
import { startWorkers, type RunningWorkers } from '../../start-workers.js';
import { spawnWorkerProcess } from '@zfs-sync/testkit/stack';

let env: TestEnvironment;
let api: TestApi;

test.before(async () => {
  env = await createTestEnvironment();
  api = await startTestApi(env.config({ heartbeat_timeout_seconds: 2 }));
});
test.after.always(async () => {
  await api?.close();
  await env?.teardown();
});

const status = async (id: string) => (await pgQuery(env.db.url, 'select connectivity_status from systems where id = $1', [id])).rows[0].connectivity_status as string;

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (await check()) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}

test.serial('a silent system goes offline within timeout + one sweep, with two worker replicas running', async (t) => {
  const config = env.config({ heartbeat_timeout_seconds: 2, heartbeat_sweep_seconds: 1 });
  const logger = createLogger('workers-test', config);
  const sys = (await api.request('POST', '/systems', { key: TEST_ADMIN_TOKEN, body: { hostname: 'expiry-1.example', platform: 'linux' } })).body;
  const other = (await api.request('POST', '/systems', { key: TEST_ADMIN_TOKEN, body: { hostname: 'expiry-2.example', platform: 'linux' } })).body;
  const replicas: RunningWorkers[] = [await startWorkers(config, logger), await startWorkers(config, logger)];
  try {
    t.is((await api.request('POST', `/systems/${sys.id}/heartbeat`, { key: sys.api_key })).status, 200);
    t.is(await status(sys.id), 'online');
    // Keep `other` alive while `sys` falls silent.
    const keepAlive = setInterval(() => void api.request('POST', `/systems/${other.id}/heartbeat`, { key: other.api_key }), 300);
    try {
      const elapsed = await waitFor(async () => (await status(sys.id)) === 'offline', 2000 + 1000 + 2500);
      t.log(`offline after ${elapsed} ms (timeout 2000 ms + sweep 1000 ms)`);
      t.is(await status(other.id), 'online');
    } finally {
      clearInterval(keepAlive);
    }
    // A heartbeat brings it back.
    await api.request('POST', `/systems/${sys.id}/heartbeat`, { key: sys.api_key });
    t.is(await status(sys.id), 'online');
    // Two replicas swept every second meanwhile: one event per transition (issue 10).
    const events = async (type: string) => (await pgQuery(env.db.url, `select count(*)::int as n from events where type = $1 and data->>'system_id' = $2`, [type, sys.id])).rows[0].n as number;
    t.is(await events('system.offline'), 1);
    t.is(await events('system.online'), 2, 'unknown → online at the first heartbeat, offline → online now');
    // One scheduler despite two replicas registering it.
    const queue = replicas[0]!.deps.producer.queue('heartbeat-expiry');
    t.is((await queue.getJobSchedulers()).length, 1);
  } finally {
    await Promise.all(replicas.map((r) => r.stop(5000)));
  }
});

test.serial('the worker process serves probes and queue metrics, and stops cleanly on SIGTERM within its shutdown bound', async (t) => {
  const config = env.config();
  const child = spawnWorkerProcess(config, { ZFS_SYNC_SHUTDOWN_TIMEOUT_MS: '5000' }, 'pipe');
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  await waitFor(async () => out.includes('workers ready'), 30_000);
  // Its ops server answers probes and exports queue depth for autoscaling.
  const port = Number(/"port":(\d+),"msg":"ops server/.exec(out)?.[1]);
  t.true(port > 0, out);
  t.is((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
  const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
  t.is(ready.status, 200);
  t.deepEqual(((await ready.json()) as { checks: unknown }).checks, { postgres: 'ok', redis: 'ok' });
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  for (const queue of ['reconcile', 'recompute-links', 'heartbeat-expiry']) t.true(metrics.includes(`zfs_sync_queue_jobs{queue="${queue}",state="waiting"`), queue);
  t.true(metrics.includes('zfs_sync_job_duration_seconds'));
  const sentAt = Date.now();
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const took = Date.now() - sentAt;
  t.log(`exited ${code} after ${took} ms`);
  t.is(code, 0, out);
  t.true(took < 5000);
  t.regex(out, /"clean":true/);
});
