import test from 'ava';
import { CHAOS_ADMIN_TOKEN, chaosSeconds, checkInvariants, http, registerChaosSystem, spawnApi, spawnWorkers, chaosEnvPerFile, sleep, startLoad, waitUntilFinal, type ChaosEnv } from '@zfs-sync/testkit/chaos';

let env: ChaosEnv;
chaosEnvPerFile(test, (e) => (env = e));

test.serial('row 1 + row 2: PostgreSQL stopped under load — every process survives, the API answers 503 with Retry-After (never 500), readiness 503 and liveness 200, and within 5 s of its return everything works and every accepted report is applied', async (t) => {
  // No key cache: every request's host-key lookup needs PostgreSQL (row 2).
  const api = await spawnApi(env.env({ ZFS_SYNC_AUTH_CACHE_SECONDS: '0' }));
  const workers = await spawnWorkers(env.env({ ZFS_SYNC_WORKER_CONCURRENCY: '4' }));
  let stopLoad = async () => {};
  try {
    const systems = [];
    for (let i = 0; i < 4; i++) systems.push(await registerChaosSystem(api.baseUrl, `pg-outage-${i}.test`));
    const load = startLoad(api.baseUrl, systems, { pauseMs: 20 });
    stopLoad = load.stop;
    await sleep(2000);
    const acceptedBefore = load.accepted.length;
    t.true(acceptedBefore > 0, 'reports were accepted before the outage');

    await env.pg.stop('fast');
    const outageEnd = Date.now() + chaosSeconds(6, 20) * 1000;
    const probes: Array<{ ready: number; live: number; read: number; readRetryAfter: string | null }> = [];
    while (Date.now() < outageEnd) {
      const [ready, live, read] = await Promise.all([
        http(api.baseUrl, 'GET', '/health/ready', { timeoutMs: 10_000 }),
        http(api.baseUrl, 'GET', '/health/live', { timeoutMs: 10_000 }),
        http(api.baseUrl, 'GET', `/systems/${systems[0]!.id}`, { key: CHAOS_ADMIN_TOKEN, timeoutMs: 10_000 }),
      ]);
      probes.push({ ready: ready.status, live: live.status, read: read.status, readRetryAfter: read.headers.get('retry-after') });
      await sleep(500);
    }
    t.true(api.alive(), `the API survived the outage (${api.raw.slice(-3).join(' | ')})`);
    t.true(workers.alive(), `the workers survived the outage (${workers.raw.slice(-5).join(' | ')})`);
    t.true(probes.every((p) => p.ready === 503), `readiness said 503 throughout: ${JSON.stringify(probes.map((p) => p.ready))}`);
    t.true(probes.every((p) => p.live === 200), 'liveness stayed 200');
    t.true(probes.every((p) => p.read === 503 && p.readRetryAfter !== null), `a read needing the database: 503 with Retry-After: ${JSON.stringify(probes.slice(0, 3))}`);

    await env.pg.start();
    const back = Date.now();
    // Within 5 s of its return the API accepts again.
    let acceptedAgainAt: number | null = null;
    while (Date.now() - back < 15_000) {
      const recent = load.statuses.filter((s) => s.at > back && s.status === 202);
      if (recent.length > 0) {
        acceptedAgainAt = recent[0]!.at;
        break;
      }
      await sleep(100);
    }
    await sleep(1000);
    await load.stop();
    t.not(acceptedAgainAt, null, 'the API accepts reports again after PostgreSQL returned');
    t.true(acceptedAgainAt! - back <= 5000, `accepting again ${acceptedAgainAt! - back} ms after PostgreSQL returned`);

    const during = load.statuses.filter((s) => s.status !== 202);
    t.deepEqual([...new Set(during.map((s) => s.status))].filter((s) => s !== 503), [], `only 202 or 503 during the outage; saw ${JSON.stringify(during.filter((s) => s.status !== 503).slice(0, 3))}`);
    t.true(during.every((s) => s.retryAfter !== null), 'every 503 carries Retry-After');

    // Every accepted report is applied, soon (the workers retry in short steps while PostgreSQL is away).
    const open = await waitUntilFinal(env, load.accepted, 20_000);
    t.log(`${load.accepted.length} reports accepted (${load.statuses.filter((s) => s.status === 503).length} refused with 503 during the outage); accepting again ${acceptedAgainAt! - back} ms after PostgreSQL returned, all applied ${Date.now() - back} ms after it`);
    t.deepEqual(open, [], `${open.length} of ${load.accepted.length} accepted reports not applied`);
    t.deepEqual(await checkInvariants(env, load.accepted), []);
    t.true(workers.alive() && api.alive(), 'both processes still running');
  } finally {
    await stopLoad();
    api.kill('SIGTERM');
    workers.kill('SIGTERM');
    const [a, w] = await Promise.all([api.exited, workers.exited]);
    t.log(`exit: api ${a.code ?? a.signal}, workers ${w.code ?? w.signal}`);
  }
});
