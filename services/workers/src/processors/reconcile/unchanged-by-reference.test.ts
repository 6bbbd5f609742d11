import test from 'ava';
import { Redis } from 'ioredis';
import { Job, Queue } from 'bullmq';
import { JOBS, type ReconcilePayload } from '@zfs-sync/contracts';
import { createLogger } from '@zfs-sync/logger';
import { pgQuery } from '@zfs-sync/testkit';
import { inventory, registerSystem, syntheticSnapshots, waitForReport, type TestApi, type TestEnvironment } from '@zfs-sync/testkit/stack';
import { createTestEnvironment, startTestApi } from '@zfs-sync/testkit/stack';
import { startWorkers, type RunningWorkers } from '../../start-workers.js';

/**
 * Issue 9: an unchanged dataset of a re-sent inventory travels through the queue as a reference
 * (pool, dataset, hash, rows), not as rows; the worker checks each reference against PostgreSQL.
 * Workers are stopped while a report waits in the queue, so the test can read what was queued.
 */
let env: TestEnvironment;
let api: TestApi;
let workers: RunningWorkers | null = null;

test.before(async () => {
  env = await createTestEnvironment();
  api = await startTestApi(env.config());
});
test.after.always(async () => {
  await workers?.stop(5000);
  await api?.close();
  await env?.teardown();
});

/** Workers paused (finishing what they run) while a report waits in the queue to be read. */
const startWorkersNow = async () => {
  if (!workers) {
    const config = env.config();
    workers = await startWorkers({ ...config, workerProcessors: ['reconcile'] }, createLogger('workers-test', config));
  } else for (const w of workers.workers) w.resume();
};
const stopWorkers = async () => {
  await Promise.all(workers!.workers.map((w) => w.pause()));
};
const queuedPayload = async (systemId: string, reportId: string) => {
  // The job as BullMQ stores it in Redis (what every queued report costs there).
  const redis = new Redis(env.redisUrl);
  try {
    const id = workers!.deps.producer.jobIdOf('reconcile', { system_id: systemId, report_id: reportId, chunk_index: 0 } as ReconcilePayload);
    const raw = await redis.hget(`${env.prefix}:${JOBS.reconcile.queue}:${id}`, 'data');
    if (!raw) throw new Error(`no queued job for ${reportId}`);
    return { data: JSON.parse(raw) as ReconcilePayload, bytes: raw.length };
  } finally {
    redis.disconnect();
  }
};
/** The queued job of a report (BullMQ), to read or move its place in the queue. */
const withQueuedJob = async <T>(systemId: string, reportId: string, use: (job: Job) => Promise<T>): Promise<T> => {
  const queue = new Queue(JOBS.reconcile.queue, { connection: { url: env.redisUrl }, prefix: env.prefix });
  try {
    const id = workers!.deps.producer.jobIdOf('reconcile', { system_id: systemId, report_id: reportId, chunk_index: 0 } as ReconcilePayload);
    if (!id) throw new Error('reconcile jobs have no deterministic id');
    const job = await Job.fromId(queue, id);
    if (!job) throw new Error(`no queued job for ${reportId}`);
    return await use(job);
  } finally {
    await queue.close();
  }
};
const stored = async (systemId: string) =>
  (await pgQuery(env.db.url, `select d.path, s.name, s.guid::text from snapshots s join datasets d on d.id = s.dataset_id where d.system_id = $1 order by 1, 2`, [systemId])).rows.map((r) => `${r.path}@${r.name}/${r.guid}`);

test.serial('a re-sent inventory queues only the changed dataset; the others go by reference and are counted unchanged', async (t) => {
  await startWorkersNow();
  const sys = await registerSystem(api);
  const a = syntheticSnapshots(300, { seed: 11 });
  const b = syntheticSnapshots(300, { seed: 12 });
  const first = await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('ref-1', 1, [{ pool: 'tank', dataset: 'a', snapshots: a }, { pool: 'tank', dataset: 'b', snapshots: b }]) });
  t.is(first.status, 202, first.text);
  t.is((await waitForReport(api, sys.api_key, 'ref-1')).status, 'applied');
  await stopWorkers();

  // Dataset b gains a snapshot; a is as before.
  const b2 = [...b, ...syntheticSnapshots(1, { seed: 12, from: 300 })];
  const again = await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('ref-2', 2, [{ pool: 'tank', dataset: 'a', snapshots: a }, { pool: 'tank', dataset: 'b', snapshots: b2 }]) });
  t.is(again.status, 202, again.text);
  const { data, bytes } = await queuedPayload(sys.id, 'ref-2');
  t.deepEqual(data.datasets.map((d) => d.dataset), ['b'], 'only the changed dataset carries rows');
  t.deepEqual(data.unchanged?.map((u) => ({ dataset: u.dataset, rows: u.rows })), [{ dataset: 'a', rows: 300 }]);
  t.log(`queued payload ${bytes} bytes for 601 rows`);

  await startWorkersNow();
  const applied = await waitForReport(api, sys.api_key, 'ref-2');
  t.is(applied.status, 'applied');
  t.deepEqual(applied.counts, { added: 1, removed: 0, changed: 0, unchanged: 600 });
  t.is((await stored(sys.id)).length, 601);

  // All unchanged: nothing but references.
  const third = await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('ref-3', 3, [{ pool: 'tank', dataset: 'a', snapshots: a }, { pool: 'tank', dataset: 'b', snapshots: b2 }]) });
  t.is(third.status, 202);
  const done = await waitForReport(api, sys.api_key, 'ref-3');
  t.deepEqual(done.counts, { added: 0, removed: 0, changed: 0, unchanged: 601 });
  // A complete inventory by reference still removes datasets it no longer lists.
  const fourth = await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('ref-4', 4, [{ pool: 'tank', dataset: 'a', snapshots: a }]) });
  t.is(fourth.status, 202);
  t.like(await waitForReport(api, sys.api_key, 'ref-4'), { status: 'applied', counts: { added: 0, removed: 301, changed: 0, unchanged: 300 } });
  t.is((await stored(sys.id)).length, 300);
});

test.serial('a reference that overtakes the report it refers to waits for it (retry) and the final state is the newest report', async (t) => {
  await startWorkersNow();
  const sys = await registerSystem(api);
  const a = syntheticSnapshots(200, { seed: 21 });
  await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('over-1', 1, [{ pool: 'tank', dataset: 'a', snapshots: a }]) });
  t.is((await waitForReport(api, sys.api_key, 'over-1')).status, 'applied');
  await stopWorkers();
  // Report 2 changes the dataset (rows queued); report 3 repeats report 2 (a reference to
  // content PostgreSQL does not hold until report 2 applies). Both are the same size, so the
  // test moves report 2 behind report 3 (as another worker process could overtake it).
  const a2 = [...a, ...syntheticSnapshots(5, { seed: 21, from: 200 })];
  t.is((await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('over-2', 2, [{ pool: 'tank', dataset: 'a', snapshots: a2 }]) })).status, 202);
  t.is((await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('over-3', 3, [{ pool: 'tank', dataset: 'a', snapshots: a2 }]) })).status, 202);
  t.is((await queuedPayload(sys.id, 'over-3')).data.datasets.length, 0);
  await withQueuedJob(sys.id, 'over-2', (job) => job.changePriority({ priority: 1_000 }));
  await startWorkersNow();
  const r3 = await waitForReport(api, sys.api_key, 'over-3', 60_000);
  const r2 = await waitForReport(api, sys.api_key, 'over-2', 60_000);
  t.is(r3.status, 'applied', JSON.stringify(r3));
  // Report 2 applied first, or was superseded by report 3 after it (same content either way).
  t.true(['applied', 'superseded'].includes(r2.status));
  t.is((await stored(sys.id)).length, 205);
});

test.serial('a small host\'s report is served before a large host\'s re-report, even when the large one changed little and went by reference', async (t) => {
  await startWorkersNow();
  const large = await registerSystem(api);
  const small = await registerSystem(api);
  const big = syntheticSnapshots(3_000, { seed: 31 });
  const few = syntheticSnapshots(10, { seed: 32 });
  await api.request('POST', `/systems/${large.id}/inventory`, { key: large.api_key, body: inventory('large-1', 1, [{ pool: 'tank', dataset: 'big', snapshots: big }, { pool: 'tank', dataset: 'few', snapshots: few }]) });
  t.is((await waitForReport(api, large.api_key, 'large-1', 60_000)).status, 'applied');
  await stopWorkers();

  // The large host re-reports: one new snapshot, 3,010 rows by reference. Then the small host
  // reports 20 new snapshots, its first inventory.
  const few2 = [...few, ...syntheticSnapshots(1, { seed: 32, from: 10 })];
  t.is((await api.request('POST', `/systems/${large.id}/inventory`, { key: large.api_key, body: inventory('large-2', 2, [{ pool: 'tank', dataset: 'big', snapshots: big }, { pool: 'tank', dataset: 'few', snapshots: few2 }]) })).status, 202);
  t.is((await api.request('POST', `/systems/${small.id}/inventory`, { key: small.api_key, body: inventory('small-1', 1, [{ pool: 'tank', dataset: 'data', snapshots: syntheticSnapshots(20, { seed: 33 }) }]) })).status, 202);
  t.is((await queuedPayload(large.id, 'large-2')).data.datasets.length, 1, 'the large re-report carries one dataset of rows');

  // BullMQ serves the lower priority number first; equal numbers in arrival order.
  const largePriority = await withQueuedJob(large.id, 'large-2', async (job) => job.priority);
  const smallPriority = await withQueuedJob(small.id, 'small-1', async (job) => job.priority);
  t.true(smallPriority < largePriority, `small host ${smallPriority}, large host ${largePriority}`);

  await startWorkersNow();
  t.is((await waitForReport(api, small.api_key, 'small-1', 60_000)).status, 'applied');
  t.like(await waitForReport(api, large.api_key, 'large-2', 60_000), { status: 'applied', counts: { added: 1, removed: 0, changed: 0, unchanged: 3_010 } });
});

/** The API's count of inventory bodies recognised as the system's previous one (not parsed). */
const recognisedBodies = async () => {
  const text = await (await fetch(`${api.baseUrl.replace(/\/api\/v1$/, '')}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('zfs_sync_inventory_bodies_recognised_total'));
  return line ? Number(line.split(' ').pop()) : 0;
};

test.serial('an inventory re-sent byte for byte under a new report_id and generation is recognised unparsed: queued as references, answered and applied like a parsed one', async (t) => {
  await startWorkersNow();
  const sys = await registerSystem(api);
  const a = syntheticSnapshots(120, { seed: 41 });
  const b = syntheticSnapshots(30, { seed: 42 });
  const datasets = [{ pool: 'tank', dataset: 'a', snapshots: a }, { pool: 'tank', dataset: 'b', snapshots: b, receive_resume_token: null }];
  const first = await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('same-1', 1, datasets) });
  t.is(first.status, 202, first.text);
  t.is((await waitForReport(api, sys.api_key, 'same-1')).status, 'applied');
  await stopWorkers();

  const before = await recognisedBodies();
  const again = await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('same-2', 2, datasets) });
  t.is(again.status, 202, again.text);
  t.is(await recognisedBodies(), before + 1, 'the body was recognised');
  t.like(again.body, { report_id: 'same-2', status: 'queued', duplicate: false, accepted: { datasets: 2, snapshots: 150, bookmarks: 0 } });
  const { data } = await queuedPayload(sys.id, 'same-2');
  t.is(data.generation, 2);
  t.deepEqual(data.datasets, []);
  t.deepEqual(data.unchanged?.map((u) => [u.dataset, u.rows, u.receive_resume_token]), [['a', 120, undefined], ['b', 30, null]]);

  // The same request again is an idempotent replay; an older generation is superseded.
  t.like((await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('same-2', 2, datasets) })).body, { duplicate: true });
  t.like((await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('same-0', 0, datasets) })).body, { status: 'superseded' });
  // A report_id the schema refuses is refused as before, naming the field.
  const bad = await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('not ok', 3, datasets) });
  t.is(bad.status, 400);
  t.is(bad.body.field, 'report_id');

  await startWorkersNow();
  t.like(await waitForReport(api, sys.api_key, 'same-2'), { status: 'applied', counts: { added: 0, removed: 0, changed: 0, unchanged: 150 } });
  t.is((await stored(sys.id)).length, 150);

  // One snapshot more: not the same body, so it is parsed and the new snapshot applied.
  const grown = [{ ...datasets[0]!, snapshots: [...a, ...syntheticSnapshots(1, { seed: 41, from: 120 })] }, datasets[1]!];
  const counted = await recognisedBodies();
  t.is((await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('same-4', 4, grown) })).status, 202);
  t.like(await waitForReport(api, sys.api_key, 'same-4'), { status: 'applied', counts: { added: 1, removed: 0, changed: 0, unchanged: 150 } });
  t.is(await recognisedBodies(), counted);
  // …and that body, re-sent, is the one recognised now.
  t.is((await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('same-5', 5, grown) })).status, 202);
  t.is(await recognisedBodies(), counted + 1);
  t.like(await waitForReport(api, sys.api_key, 'same-5'), { status: 'applied', counts: { added: 0, removed: 0, changed: 0, unchanged: 151 } });
});

test.serial('after a batch report changed the system, an identical inventory body is parsed and applied in full (the remembered body is forgotten)', async (t) => {
  await startWorkersNow();
  const sys = await registerSystem(api);
  const datasets = [{ pool: 'tank', dataset: 'data', snapshots: syntheticSnapshots(20, { seed: 51 }) }];
  t.is((await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('fb-1', 1, datasets) })).status, 202);
  t.is((await waitForReport(api, sys.api_key, 'fb-1')).status, 'applied');
  const batch = await api.request('POST', '/snapshots/batch', { key: sys.api_key, body: [{ name: 'extra', pool: 'tank', dataset: 'data', timestamp: 1_700_000_000, system_id: sys.id, guid: '999', createtxg: '1' }] });
  t.is(batch.status, 202, batch.text);
  await waitForReport(api, sys.api_key, batch.headers.get('location')!.split('/').pop()!);
  t.is((await stored(sys.id)).length, 21);

  const before = await recognisedBodies();
  t.is((await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('fb-2', 2, datasets) })).status, 202);
  t.is(await recognisedBodies(), before, 'not recognised');
  t.like(await waitForReport(api, sys.api_key, 'fb-2'), { status: 'applied', counts: { added: 0, removed: 1, changed: 0, unchanged: 20 } });
  t.is((await stored(sys.id)).length, 20);
});

test.serial('a body that names report_id twice (once escaped) is read as JSON.parse reads it: the last one counts, and a changed first one is a different body, not a new report', async (t) => {
  await startWorkersNow();
  const sys = await registerSystem(api);
  const snaps = JSON.stringify(syntheticSnapshots(5, { seed: 61 }));
  const raw = (first: string, generation: number) => `{"report_id":"${first}","generation":${generation},"complete":true,"datasets":[{"pool":"tank","dataset":"d","snapshots":${snaps}}],"report\\u005fid":"esc-x"}`;
  const one = await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, rawBody: raw('esc-1', 1), headers: { 'content-type': 'application/json' } });
  t.is(one.status, 202, one.text);
  t.is(one.body.report_id, 'esc-x');
  t.is((await waitForReport(api, sys.api_key, 'esc-x')).status, 'applied');
  const two = await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, rawBody: raw('esc-2', 1), headers: { 'content-type': 'application/json' } });
  t.is(two.status, 409, two.text);
  t.is(two.body.field, 'report_id');
  t.is((await api.request('GET', '/reports/esc-2', { key: sys.api_key })).status, 404);
});
