import test from 'ava';
import { Redis } from 'ioredis';
import { chaosInventory, chaosSeconds, checkInvariants, http, registerChaosSystem, spawnApi, spawnWorkers, chaosEnvPerFile, waitUntilFinal, type Accepted, type ChaosEnv, type ChaosSystem } from '@zfs-sync/testkit/chaos';
import { syntheticSnapshots } from '@zfs-sync/testkit/stack';

let env: ChaosEnv;
chaosEnvPerFile(test, (e) => (env = e));

function shuffle<T>(xs: T[], seed: number): T[] {
  const a = [...xs];
  let s = seed;
  for (let i = a.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

test.serial('out-of-order and duplicate reports from 20 hosts, worker concurrency 8: nothing lost, nothing applied twice, generations never go backwards', async (t) => {
  const api = await spawnApi(env.env({}));
  const workers = await spawnWorkers(env.env({ ZFS_SYNC_WORKER_CONCURRENCY: '8' }));
  try {
    const systems: ChaosSystem[] = [];
    for (let i = 0; i < 20; i++) systems.push(await registerChaosSystem(api.baseUrl, `ooo-${i}.test`));
    const generations = chaosSeconds(6, 15);
    const accepted: Accepted[] = [];
    const answers: Record<string, number> = {};
    await Promise.all(
      systems.map(async (sys, i) => {
        // Each generation sent twice (the second time concurrently with the next), in a shuffled order.
        const order = shuffle(Array.from({ length: generations }, (_, g) => 100 + g), i + 1);
        for (const g of order) {
          const send = () => http(api.baseUrl, 'POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: chaosInventory(`ooo-${g}`, g) });
          const [a, b] = await Promise.all([send(), send()]);
          for (const r of [a, b]) {
            const key = `${r.status} ${r.body?.status ?? ''}`;
            answers[key] = (answers[key] ?? 0) + 1;
            if (r.status === 202 && r.body.status === 'queued') accepted.push({ systemId: sys.id, reportId: `ooo-${g}`, generation: g });
          }
        }
      }),
    );
    t.log(`answers: ${JSON.stringify(answers)}`);
    t.true(Object.keys(answers).every((k) => k.startsWith('202') || k.startsWith('409')), 'only 202 (queued / superseded) or 409 (a concurrent duplicate)');
    const unique = [...new Map(accepted.map((a) => [`${a.systemId}/${a.reportId}`, a])).values()];
    t.deepEqual(await waitUntilFinal(env, unique, 60_000), []);
    t.deepEqual(await checkInvariants(env, unique), []);
    // The newest generation each host sent is what it shows, whatever the order.
    const gens = await env.query<{ g: string }>(`select distinct inventory_generation::text as g from systems where id = any($1::uuid[])`, [systems.map((s) => s.id)]);
    t.deepEqual(gens.map((g) => g.g), [String(100 + generations - 1)]);
  } finally {
    api.kill('SIGTERM');
    workers.kill('SIGTERM');
    await Promise.all([api.exited, workers.exited]);
  }
});

test.serial('row 14: bounded Redis — after ingesting many rows, Redis memory returns to within 20 MiB of where it started', async (t) => {
  const api = await spawnApi(env.env({}));
  const workers = await spawnWorkers(env.env({ ZFS_SYNC_WORKER_CONCURRENCY: '4' }));
  const redis = new Redis(env.redis.url);
  const used = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
  try {
    const sys = await registerChaosSystem(api.baseUrl, 'memory.test');
    const before = await used();
    const reports = chaosSeconds(20, 100);
    const rows = chaosSeconds(2500, 10_000);
    const accepted: Accepted[] = [];
    for (let g = 1; g <= reports; g++) {
      // Every report a full, different inventory (nothing travels by reference).
      const body = { report_id: `mem-${g}`, generation: g, complete: true, datasets: [{ pool: 'tank', dataset: `d${g % 3}`, snapshots: syntheticSnapshots(rows, { seed: g, prefix: `g${g}` }) }] };
      const res = await http(api.baseUrl, 'POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body });
      t.is(res.status, 202);
      accepted.push({ systemId: sys.id, reportId: `mem-${g}`, generation: g });
    }
    t.deepEqual(await waitUntilFinal(env, accepted, 120_000), []);
    await new Promise((r) => setTimeout(r, 1000));
    const after = await used();
    t.log(`${reports * rows} rows ingested; Redis used_memory ${(before / 2 ** 20).toFixed(1)} MiB → ${(after / 2 ** 20).toFixed(1)} MiB`);
    t.true(after - before < 20 * 2 ** 20, `Redis grew by ${((after - before) / 2 ** 20).toFixed(1)} MiB`);
  } finally {
    redis.disconnect();
    api.kill('SIGTERM');
    workers.kill('SIGTERM');
    await Promise.all([api.exited, workers.exited]);
  }
});
