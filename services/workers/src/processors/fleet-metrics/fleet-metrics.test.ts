import test from 'ava';
import { QUEUE_NAMES } from '@zfs-sync/contracts';
import { TEST_ADMIN_TOKEN, eventually, registerSystem, reportInventory, startTestStack, syntheticSnapshots, type TestStack } from '@zfs-sync/testkit/stack';
import { createLogger } from '@zfs-sync/logger';
import { JOB_STATES, METRIC_CATALOG } from '@zfs-sync/runtime';
import { PROCESSORS, selectProcessors } from '../../registry.js';
import { startWorkers } from '../../start-workers.js';

let stack: TestStack;
test.before(async () => {
  // The queue processors in one process, the exporter in another: as deployed.
  stack = await startTestStack({ worker_processors: ['-fleet-metrics'] });
});
test.after.always(async () => {
  await stack?.stop();
});

type Sample = { name: string; labels: Record<string, string>; value: number };
function samples(text: string): Sample[] {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(l)!;
      return { name: m[1]!, labels: Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!])), value: Number(m[3]) };
    });
}
const pick = (all: Sample[], name: string, labels: Record<string, string> = {}) => all.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

test('WORKER_PROCESSORS: names run only those, -name runs all but those, mixing is refused', (t) => {
  t.deepEqual(selectProcessors([]).map((p) => p.name), PROCESSORS.map((p) => p.name));
  t.deepEqual(selectProcessors(['-fleet-metrics']).map((p) => p.name), PROCESSORS.map((p) => p.name).filter((n) => n !== 'fleet-metrics'));
  t.deepEqual(selectProcessors(['fleet-metrics']).map((p) => p.name), ['fleet-metrics']);
  t.throws(() => selectProcessors(['-nope']), { message: /unknown processor/ });
  t.throws(() => selectProcessors(['reconcile', '-fleet-metrics']), { message: /not both/ });
});

test('the exporter reports queue depth and fleet gauges; worker replicas report their own job counters and nothing polled', async (t) => {
  const { api, env, workers } = stack;
  const hub = await registerSystem(api);
  const spoke = await registerSystem(api);
  const snaps = syntheticSnapshots(4, { seed: 11 });
  await reportInventory(api, hub, [{ pool: 'tank', dataset: 'data', snapshots: snaps }]);
  await reportInventory(api, spoke, [{ pool: 'backup', dataset: 'data', snapshots: snaps.slice(0, 2) }]);
  await api.request('POST', `/systems/${hub.id}/heartbeat`, { key: hub.api_key });
  const group = await api.request('POST', '/sync-groups', { key: TEST_ADMIN_TOKEN, body: { name: 'metrics group', directional: true, hub_system_id: hub.id, system_ids: [hub.id, spoke.id] } });
  t.is(group.status, 201);
  await eventually(
    () => api.request('GET', `/sync/groups/${group.body.id}/links`, { key: TEST_ADMIN_TOKEN }).then((r) => r.body as unknown[]),
    (l) => l.length === 1,
  );

  // A queue worker replica: its own job and report counters, no queue or fleet polling.
  const own = samples(await workers.registry.metrics());
  t.true((pick(own, 'zfs_sync_jobs_processed_total', { queue: 'reconcile' })[0]?.value ?? 0) >= 2);
  t.is(pick(own, 'zfs_sync_reports_applied_total', { mode: 'inventory' })[0]?.value, 2);
  t.is(pick(own, 'zfs_sync_inventory_rows_applied_total', { change: 'added' })[0]?.value, 6);
  t.true(pick(own, 'zfs_sync_job_duration_seconds_count', { queue: 'reconcile', outcome: 'completed' }).length === 1);
  t.deepEqual(pick(own, 'zfs_sync_queue_jobs'), [], 'no queue polling outside the exporter');
  t.deepEqual(pick(own, 'zfs_sync_links'), []);

  // The one exporter.
  const exporter = await startWorkers(env.config({ worker_processors: ['fleet-metrics'], link_metrics: true }), createLogger('exporter-test', env.config()));
  try {
    t.is(exporter.workers.length, 0, 'the exporter takes no jobs');
    const all = samples(await exporter.registry.metrics());
    for (const queue of QUEUE_NAMES) for (const state of JOB_STATES) t.is(pick(all, 'zfs_sync_queue_jobs', { queue, state }).length, 1, `${queue}/${state}`);
    t.is(pick(all, 'zfs_sync_systems', { connectivity: 'online' })[0]?.value, 1);
    t.is(pick(all, 'zfs_sync_systems', { connectivity: 'unknown' })[0]?.value, 1);
    t.is(pick(all, 'zfs_sync_systems', { connectivity: 'offline' })[0]?.value, 0);
    t.is(pick(all, 'zfs_sync_links', { sync_group: 'metrics group', verdict: 'behind' })[0]?.value, 1);
    t.is(pick(all, 'zfs_sync_links', { sync_group: 'metrics group', verdict: 'in_sync' })[0]?.value, 0, 'empty verdicts are 0, not missing');
    t.is(pick(all, 'zfs_sync_link_max_lag_seconds', { sync_group: 'metrics group' })[0]?.value, 120);
    t.is(pick(all, 'zfs_sync_conflicts_open', { sync_group: 'metrics group', type: 'diverged' })[0]?.value, 0);
    t.is(pick(all, 'zfs_sync_conflict_oldest_open_age_seconds', { sync_group: 'metrics group' })[0]?.value, 0);
    t.deepEqual(pick(all, 'zfs_sync_link_lag_seconds').map((s) => s.labels), [{ service: 'workers', sync_group: 'metrics group', dataset: 'data', source: hub.hostname, target: spoke.hostname, verdict: 'behind' }]);
    t.deepEqual(pick(all, 'zfs_sync_exporter_errors_total').filter((s) => s.value > 0), []);
    t.is(pick(all, 'zfs_sync_events_unrelayed_oldest_age_seconds').length, 1, 'the relay backlog gauge');

    // Every zfs_sync_ family is in the catalog with exactly its documented labels.
    const catalog = new Map<string, (typeof METRIC_CATALOG)[number]>(METRIC_CATALOG.map((m) => [m.name, m]));
    for (const s of [...own, ...all]) {
      t.true(s.name.startsWith('zfs_sync_'), s.name);
      const family = catalog.get(s.name.replace(/_(bucket|sum|count)$/, ''));
      if (!family) continue;
      t.not(family.process, 'api', s.name);
      for (const label of Object.keys(s.labels)) t.true([...Object.keys(family.labels), 'service', 'le'].includes(label), `${s.name}: ${label}`);
    }
  } finally {
    await exporter.stop(5000);
  }
});
