import test from 'ava';
import { migrate } from '@zfs-sync/db';
import { CHAOS_ADMIN_TOKEN, http, registerChaosSystem, spawnApi, spawnWorkers, chaosEnvPerFile, sleep, type ChaosEnv } from '@zfs-sync/testkit/chaos';
import { syntheticSnapshots } from '@zfs-sync/testkit/stack';

let env: ChaosEnv;
chaosEnvPerFile(test, (e) => (env = e));

/** One incarnation of the database: a group first, then two hosts report; the link's verdict must follow. */
async function incarnation(t: { log: (m: string) => void }, n: number): Promise<string | undefined> {
  const api = await spawnApi(env.env({}));
  const workers = await spawnWorkers(env.env({}));
  try {
    const hub = await registerChaosSystem(api.baseUrl, `hub-${n}.test`);
    const spoke = await registerChaosSystem(api.baseUrl, `spoke-${n}.test`);
    const group = await http(api.baseUrl, 'POST', '/sync-groups', { key: CHAOS_ADMIN_TOKEN, body: { name: `g-${n}`, directional: true, hub_system_id: hub.id, system_ids: [hub.id, spoke.id] } });
    if (group.status !== 201) throw new Error(`group: ${group.status} ${JSON.stringify(group.body)}`);
    await sleep(500);
    // Same reports in the same order each time: the same dataset ids and content versions.
    for (const [sys, count, id] of [
      [hub, 3, 'h1'],
      [spoke, 2, 's1'],
    ] as const) {
      const res = await http(api.baseUrl, 'POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: { report_id: id, generation: 1, complete: true, datasets: [{ pool: 'tank', dataset: 'data', snapshots: syntheticSnapshots(count) }] } });
      if (res.status !== 202) throw new Error(`report: ${res.status}`);
    }
    let verdict: string | undefined;
    const started = Date.now();
    while (Date.now() - started < 20_000) {
      const links = await http(api.baseUrl, 'GET', `/sync/groups/${group.body.id}/links`, { key: CHAOS_ADMIN_TOKEN });
      verdict = links.body?.[0]?.verdict;
      if (verdict === 'behind') break;
      await sleep(250);
    }
    t.log(`incarnation ${n}: verdict ${verdict} after ${Date.now() - started} ms`);
    return verdict;
  } finally {
    api.kill('SIGTERM');
    workers.kill('SIGTERM');
    await Promise.all([api.exited, workers.exited]);
  }
}

test.serial('row 16: the database recreated while Redis keeps its queues — the new incarnation’s recompute jobs are not swallowed by the old one’s finished jobs', async (t) => {
  t.is(await incarnation(t, 1), 'behind');
  // The database is dropped and created again (or restored: its sequences rewind); Redis keeps everything.
  await env.query(`select 1`);
  const { Client } = (await import('pg')).default;
  const admin = new Client({ connectionString: env.pg.url('postgres') });
  await admin.connect();
  await admin.query('drop database zfs_sync_chaos with (force)');
  await admin.end();
  await migrate(env.databaseUrl);
  t.is(await incarnation(t, 2), 'behind', 'the verdict of the new incarnation is computed');
});
