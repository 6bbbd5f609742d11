import test from 'ava';
import pg from 'pg';
import { checkInvariants, http, registerChaosSystem, spawnApi, spawnWorkers, chaosEnvPerFile, sleep, type ChaosEnv } from '@zfs-sync/testkit/chaos';
import { syntheticSnapshots } from '@zfs-sync/testkit/stack';

let env: ChaosEnv;
chaosEnvPerFile(test, (e) => (env = e));

/**
 * Moved here from reconcile.faults.test.ts, where it raced the worker (polling pg_stat_activity
 * for a COPY that could finish between two polls) and was flaky. Now deterministic: the test holds
 * the report's row lock, so the worker writes every snapshot row of its transaction and then
 * waits on its final status update — provably mid-apply — when it is killed.
 */
test.serial('row 6 + kill mid-apply: a reconcile worker killed (SIGKILL) mid-apply loses nothing — nothing half-applied is visible, and with the default settings another worker retries the job within 30 s and applies it exactly once', async (t) => {
  const api = await spawnApi(env.env({}));
  const sys = await registerChaosSystem(api.baseUrl, 'kill-mid-apply.test');
  const datasets = Array.from({ length: 10 }, (_, i) => ({ pool: 'tank', dataset: `vm/disk-${i}`, snapshots: syntheticSnapshots(2000, { seed: 100 + i }) }));
  // Accepted while no worker runs: the job waits in the queue, the report row in PostgreSQL.
  const res = await http(api.baseUrl, 'POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: { report_id: 'kill-1', generation: 1, complete: true, datasets } });
  t.is(res.status, 202);

  const holder = new pg.Client({ connectionString: env.databaseUrl });
  await holder.connect();
  await holder.query('begin');
  const locked = await holder.query(`select 1 from inventory_reports where system_id = $1 and report_id = 'kill-1' for update`, [sys.id]);
  t.is(locked.rowCount, 1, 'the API recorded the accepted report');

  let doomed = await spawnWorkers(env.env({ WORKER_PROCESSORS: 'reconcile' }));
  let killedAt = 0;
  let next;
  try {
    // The worker's transaction has merged every row and now waits for our lock on its report row.
    for (let i = 0; ; i++) {
      // (From another connection: inside a transaction pg_stat_activity is a frozen snapshot.)
      // The statement that marks the report applied (it also updates the system, in a CTE before it).
      const rows = await env.query(`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query ~* 'update inventory_reports set status = ''applied'''`);
      if (rows[0].n > 0) break;
      if (i > 600) throw new Error(`the worker never reached the end of its apply: ${doomed.lines.slice(-8).map((l) => JSON.stringify(l)).join('\n')} ${JSON.stringify(await env.query(`select state, wait_event_type, left(query, 80) as q from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`))}`);
      await sleep(100);
    }
    doomed.kill('SIGKILL');
    await doomed.exited;
    killedAt = Date.now();
    // Let the dead worker's backend go: its transaction was never committed and rolls back.
    await holder.query('rollback');
    t.deepEqual((await env.query(`select count(*)::int as n from snapshots where system_id = $1`, [sys.id]))[0], { n: 0 }, 'nothing half-applied is visible');
    t.is((await http(api.baseUrl, 'GET', '/reports/kill-1', { key: sys.api_key })).body.status, 'applying', 'the report says a worker took it up');

    // Another worker (default lock settings) takes the stalled job over and applies it.
    next = await spawnWorkers(env.env({ WORKER_PROCESSORS: 'reconcile' }));
    let report: any;
    for (;;) {
      report = (await http(api.baseUrl, 'GET', '/reports/kill-1', { key: sys.api_key })).body;
      if (report?.status === 'applied' || Date.now() - killedAt > 60_000) break;
      await sleep(200);
    }
    const retriedAfter = Date.now() - killedAt;
    t.log(`applied ${retriedAfter} ms after the kill`);
    t.is(report.status, 'applied');
    t.true(retriedAfter <= 30_000, `retried and applied ${retriedAfter} ms after the worker died`);
    t.deepEqual(report.counts, { added: 20_000, removed: 0, changed: 0, unchanged: 0 });
    const [rows] = await env.query(`select count(*)::int as n, count(distinct (dataset_id, name))::int as distinct_n from snapshots where system_id = $1`, [sys.id]);
    t.deepEqual(rows, { n: 20_000, distinct_n: 20_000 });
    t.deepEqual(await checkInvariants(env, [{ systemId: sys.id, reportId: 'kill-1', generation: 1 }], { liveCheck: false }), []);
  } finally {
    await holder.end().catch(() => {});
    doomed.kill('SIGKILL');
    next?.kill('SIGTERM');
    api.kill('SIGTERM');
    await Promise.all([api.exited, next?.exited]);
  }
});
