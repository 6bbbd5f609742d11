import test from 'ava';
import { Queue } from 'bullmq';
import { CHAOS_ADMIN_TOKEN, chaosInventory, chaosSeconds, checkInvariants, http, registerChaosSystem, spawnApi, spawnWorkers, chaosEnvPerFile, sleep, waitUntilFinal, type Accepted, type ChaosEnv } from '@zfs-sync/testkit/chaos';

let env: ChaosEnv;
chaosEnvPerFile(test, (e) => (env = e));
const SWEEP_SECONDS = 5;

async function schedulerIds(redisUrl: string): Promise<string[]> {
  const ids: string[] = [];
  for (const name of ['heartbeat-expiry', 'sync-sweep', 'inventory-sweep', 'report-sweep']) {
    const q = new Queue(name, { connection: { host: '127.0.0.1', port: Number(new URL(redisUrl).port) }, prefix: 'zfs-sync' });
    ids.push(...(await q.getJobSchedulers()).map((s) => s.key));
    await q.close();
  }
  return ids.sort();
}

async function metricValue(opsPort: number, name: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${opsPort}/metrics`);
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+(?:\\.\\d+)?)$`, 'm').exec(await res.text());
  return m ? Number(m[1]) : 0;
}

test.serial('row 3: Redis restarted empty — accepted reports are marked lost (never a silent 404), GET /reports says re-send, the metric counts them, job schedulers come back, and re-sent reports apply', async (t) => {
  const common = { ZFS_SYNC_REPORT_SWEEP_SECONDS: String(SWEEP_SECONDS), ZFS_SYNC_HEARTBEAT_SWEEP_SECONDS: '5', ZFS_SYNC_SYNC_SWEEP_SECONDS: '30' };
  const api = await spawnApi(env.env(common));
  let workers = await spawnWorkers(env.env(common));
  try {
    const before = await schedulerIds(env.redis.url);
    for (const id of ['heartbeat-expiry-sweep', 'inventory-sweep', 'sync-sweep']) t.true(before.includes(id), id);
    const sys = await registerChaosSystem(api.baseUrl, 'redis-wipe.test');
    // Reports accepted while no worker runs stay queued in Redis...
    workers.kill('SIGTERM');
    t.is((await workers.exited).code, 0);
    const accepted: Accepted[] = [];
    for (let i = 1; i <= 5; i++) {
      const res = await http(api.baseUrl, 'POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: chaosInventory(`wipe-${i}`, 1000 + i) });
      t.is(res.status, 202);
      accepted.push({ systemId: sys.id, reportId: `wipe-${i}`, generation: 1000 + i });
    }
    // ...and Redis restarts without its data.
    await env.redis.stop();
    await env.redis.start();
    workers = await spawnWorkers(env.env(common));
    const opsLine = await workers.waitForLine((l) => typeof l.port === 'number' && String(l.msg).includes('ops server'));
    const wiped = Date.now();

    // Within one sweep interval (plus the grace for reports being queued) each report says lost.
    const statuses: string[] = [];
    for (const a of accepted) {
      let last: any;
      for (;;) {
        last = await http(api.baseUrl, 'GET', `/reports/${a.reportId}`, { key: sys.api_key });
        if (last.status === 200 && last.body.status === 'lost') break;
        if (Date.now() - wiped > (SWEEP_SECONDS * 2 + 10) * 1000) break;
        await sleep(250);
      }
      statuses.push(`${last.status} ${last.body?.status}`);
      if (last.body?.status === 'lost') t.regex(last.body.error, /re-send/);
    }
    t.deepEqual(statuses, accepted.map(() => '200 lost'), 'every accepted report is reported lost, none vanished');
    t.log(`all lost reports noticed ${Date.now() - wiped} ms after the wipe`);
    t.is(await metricValue(opsLine.port as number, 'zfs_sync_reports_lost_total'), accepted.length);

    // The job schedulers: this worker re-created them at start; kill them again under a running
    // worker and they are back within one sweep interval.
    const fresh = await schedulerIds(env.redis.url);
    t.deepEqual(fresh, before);
    const flush = await http(api.baseUrl, 'GET', '/health/live');
    t.is(flush.status, 200);
    await env.redis.stop();
    await env.redis.start();
    const wipedAgain = Date.now();
    let ids: string[] = [];
    while (Date.now() - wipedAgain < (SWEEP_SECONDS + 5) * 1000) {
      ids = await schedulerIds(env.redis.url).catch(() => []);
      if (ids.length === before.length) break;
      await sleep(250);
    }
    t.deepEqual(ids, before, 'schedulers re-created by the running worker');
    t.log(`schedulers back ${Date.now() - wipedAgain} ms after the second wipe`);

    // The host re-sends (same ids): accepted again and applied.
    for (const a of accepted) {
      let res;
      for (let i = 0; i < 40; i++) {
        res = await http(api.baseUrl, 'POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: chaosInventory(a.reportId, a.generation) });
        if (res.status === 202) break;
        await sleep(250);
      }
      t.is(res!.status, 202);
    }
    t.deepEqual(await waitUntilFinal(env, accepted, 30_000), []);
    t.deepEqual(await checkInvariants(env, accepted), []);
    t.true(api.alive() && workers.alive());
  } finally {
    api.kill('SIGTERM');
    workers.kill('SIGTERM');
    await Promise.all([api.exited, workers.exited]);
  }
  void CHAOS_ADMIN_TOKEN;
});

function p99(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0;
}

test.serial('row 4: Redis frozen (SIGSTOP) under load — every request answers within the bound (p99 < 2.5 s), with 503 + Retry-After, and readiness says 503', async (t) => {
  const api = await spawnApi(env.env({ ZFS_SYNC_AUTH_CACHE_SECONDS: '60' }));
  const workers = await spawnWorkers(env.env({}));
  let stopLoad = async () => {};
  try {
    const systems = [];
    for (let i = 0; i < 3; i++) systems.push(await registerChaosSystem(api.baseUrl, `freeze-${i}.test`));
    // Warm the key cache, then freeze.
    for (const s of systems) t.is((await http(api.baseUrl, 'POST', `/systems/${s.id}/inventory`, { key: s.api_key, body: chaosInventory(`warm-${s.id.slice(0, 4)}`, 10) })).status, 202);
    env.redis.freeze();
    const frozenAt = Date.now();
    const { startLoad } = await import('@zfs-sync/testkit/chaos');
    const load = startLoad(api.baseUrl, systems, { pauseMs: 50, tag: 'freeze', firstGeneration: 2000, timeoutMs: 10_000 });
    stopLoad = load.stop;
    const ready: number[] = [];
    while (Date.now() - frozenAt < chaosSeconds(6, 20) * 1000) {
      ready.push((await http(api.baseUrl, 'GET', '/health/ready', { timeoutMs: 10_000 })).status);
      await sleep(500);
    }
    await load.stop();
    env.redis.thaw();
    const times = load.statuses.map((s) => s.ms);
    t.log(`${times.length} requests during the freeze, p99 ${p99(times)} ms, max ${Math.max(...times)} ms, statuses ${JSON.stringify([...new Set(load.statuses.map((s) => s.status))])}`);
    t.true(p99(times) < 2500, `p99 ${p99(times)} ms`);
    t.true(load.statuses.every((s) => s.status === 503 && s.retryAfter !== null), 'every request refused with 503 + Retry-After');
    t.true(ready.every((s) => s === 503), `readiness during the freeze: ${JSON.stringify(ready)}`);
    t.true(api.alive() && workers.alive());
  } finally {
    env.redis.thaw();
    await stopLoad();
    api.kill('SIGTERM');
    workers.kill('SIGTERM');
    await Promise.all([api.exited, workers.exited]);
  }
});

test.serial('row 5: Redis back after an outage — the API accepts again within 2 s, and readiness never says 200 while it refuses', async (t) => {
  const api = await spawnApi(env.env({ ZFS_SYNC_AUTH_CACHE_SECONDS: '60' }));
  const workers = await spawnWorkers(env.env({}));
  try {
    const sys = await registerChaosSystem(api.baseUrl, 'redis-back.test');
    t.is((await http(api.baseUrl, 'POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: chaosInventory('back-0', 10) })).status, 202);
    await env.redis.stop();
    await sleep(chaosSeconds(8, 20) * 1000);
    t.is((await http(api.baseUrl, 'POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: chaosInventory('back-x', 11) })).status, 503);
    await env.redis.start();
    const back = Date.now();
    let firstAccepted: number | null = null;
    const lies: string[] = [];
    let n = 0;
    while (Date.now() - back < 20_000) {
      const ready = await http(api.baseUrl, 'GET', '/health/ready', { timeoutMs: 5000 });
      const post = await http(api.baseUrl, 'POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: chaosInventory(`back-${++n}`, 100 + n), timeoutMs: 5000 });
      if (ready.status === 200 && post.status !== 202) lies.push(`${Date.now() - back} ms: ready 200, report ${post.status}`);
      if (post.status === 202 && firstAccepted === null) firstAccepted = Date.now();
      if (firstAccepted !== null && Date.now() - firstAccepted > 1000) break;
      await sleep(100);
    }
    t.not(firstAccepted, null);
    t.log(`accepting again ${firstAccepted! - back} ms after Redis returned`);
    t.true(firstAccepted! - back <= 2000, `accepting again only after ${firstAccepted! - back} ms`);
    t.deepEqual(lies, [], 'readiness said ready while reports were refused');
  } finally {
    api.kill('SIGTERM');
    workers.kill('SIGTERM');
    await Promise.all([api.exited, workers.exited]);
  }
});
