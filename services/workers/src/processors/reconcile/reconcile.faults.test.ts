import test from 'ava';
import { createLogger } from '@zfs-sync/logger';
import { pgQuery, startTcpProxy } from '@zfs-sync/testkit';
import { createTestEnvironment, inventory, registerSystem, startTestApi, syntheticSnapshots, waitForReport, type TestEnvironment } from '@zfs-sync/testkit/stack';
import { startWorkers } from '../../start-workers.js';
import { spawnWorkerProcess } from '@zfs-sync/testkit/stack';

let env: TestEnvironment;
test.before(async () => {
  env = await createTestEnvironment();
});
test.after.always(async () => {
  await env?.teardown();
});


test.serial('a reconcile worker killed mid-apply loses nothing: the transaction rolls back and the retried job applies exactly', async (t) => {
  const config = env.config({ job_lock_ms: 2000 });
  const api = await startTestApi(config);
  const sys = await registerSystem(api);
  // Big enough that applying takes a noticeable moment: 20 datasets × 5,000 snapshots.
  const datasets = Array.from({ length: 20 }, (_, i) => ({ pool: 'tank', dataset: `vm/disk-${i}`, snapshots: syntheticSnapshots(5000, { seed: 100 + i }) }));
  const child = spawnWorkerProcess(config, { ZFS_SYNC_LOG_LEVEL: 'warn', ZFS_SYNC_JOB_LOCK_MS: '2000', WORKER_PROCESSORS: 'reconcile' });
  try {
    const res = await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('kill-1', 1, datasets) });
    t.is(res.status, 202);
    // Wait until the worker is inside the apply (its staging COPY or merge is running), then kill -9.
    const dbName = env.db.name;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const { rows } = await pgQuery(env.db.url, `select count(*)::int as n from pg_stat_activity where datname = $1 and state = 'active' and pid <> pg_backend_pid() and query ~* 'stage_snapshots|insert into snapshots|copy '`, [dbName]);
      if (rows[0].n > 0) break;
      if (Date.now() > deadline) throw new Error('the worker never started applying');
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    // Nothing half-applied is visible.
    const partial = await pgQuery(env.db.url, 'select count(*)::int as n from snapshots where system_id = $1', [sys.id]);
    t.is(partial.rows[0].n, 0);
    // The report says a worker took it up, not that it applied.
    t.is((await api.request('GET', '/reports/kill-1', { key: sys.api_key })).body.status, 'applying');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  // A fresh worker takes the stalled job over once its lock expires and applies it exactly once.
  const workers = await startWorkers(config, createLogger('t', config));
  try {
    const report = await waitForReport(api, sys.api_key, 'kill-1', 60_000);
    t.is(report.status, 'applied');
    t.deepEqual(report.counts, { added: 100_000, removed: 0, changed: 0, unchanged: 0 });
    const { rows } = await pgQuery(env.db.url, 'select count(*)::int as n, count(distinct (dataset_id, name))::int as distinct_n from snapshots where system_id = $1', [sys.id]);
    t.deepEqual(rows[0], { n: 100_000, distinct_n: 100_000 });
  } finally {
    await workers.stop(5000);
    await api.close();
  }
});

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
