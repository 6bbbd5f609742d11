import test from 'ava';
import { pgQuery } from '@zfs-sync/testkit';
import { appliedGenerationKey } from '@zfs-sync/queue';
import {
  inventory,
  registerSystem,
  syntheticSnapshots,
  waitForReport,
  eventually,
  type TestApi,
  type TestEnvironment,
} from '@zfs-sync/testkit/stack';
import type { RunningWorkers } from '@zfs-sync/workers';
import { reportIdOf, startTestStack, type TestStack } from '@zfs-sync/testkit/stack';

let env: TestEnvironment;
let api: TestApi;
let workers: RunningWorkers;

let stack: TestStack;
test.before(async () => {
  stack = await startTestStack();
  ({ env, api, workers } = stack);
});
test.after.always(async () => {
  await stack?.stop();
});

type Row = { pool: string; path: string; kind: string; name: string; guid: string | null; createtxg: string | null; used: string | null; referenced: string | null; creation: Date };
async function rows(systemId: string): Promise<Row[]> {
  const { rows } = await pgQuery(
    env.db.url,
    `select d.pool, d.path, s.kind, s.name, s.guid::text, s.createtxg::text, s.used::text, s.referenced::text, s.creation
       from snapshots s join datasets d on d.id = s.dataset_id where d.system_id = $1 order by d.pool, d.path, s.kind, s.name`,
    [systemId],
  );
  return rows;
}
const names = async (systemId: string) => (await rows(systemId)).map((r) => `${r.pool}/${r.path}${r.kind === 'snapshot' ? '@' : '#'}${r.name}`);

test('original batch endpoint: upsert is idempotent, normalises names and pool prefixes, deletes nothing', async (t) => {
  const sys = await registerSystem(api);
  const batch = [
    { name: 'daily-1', pool: 'tank', dataset: 'home/alice', timestamp: '2024-01-01T00:00:00Z', size: 1024, system_id: sys.id },
    { name: 'tank/home/alice@daily-2', pool: 'tank', dataset: 'tank/home/alice', timestamp: '2024-01-02T00:00:00Z', size: '2048', system_id: sys.id },
    { name: 'root-snap', pool: 'tank', dataset: '', timestamp: '2024-01-02T00:00:00Z', system_id: sys.id },
  ];
  const first = await api.request('POST', '/snapshots/batch', { key: sys.api_key, body: batch });
  t.is(first.status, 202, first.text);
  t.is(first.body.length, 3);
  // The original's answer: every item as it will be stored (names normalised, uint64 as strings).
  const stored = (name: string, dataset: string, day: string, used: string | null) => ({ name, pool: 'tank', dataset, timestamp: `2024-01-0${day}T00:00:00.000Z`, size: used, used, referenced: null, guid: null, createtxg: null, extra_metadata: {}, system_id: sys.id });
  t.deepEqual(first.body, [stored('daily-1', 'home/alice', '1', '1024'), stored('daily-2', 'home/alice', '2', '2048'), stored('root-snap', '', '2', null)]);
  await waitForReport(api, sys.api_key, reportIdOf(first));
  const once = await rows(sys.id);
  const second = await api.request('POST', '/snapshots/batch', { key: sys.api_key, body: batch });
  const applied = await waitForReport(api, sys.api_key, reportIdOf(second));
  t.deepEqual(applied.counts, { added: 0, removed: 0, changed: 0, unchanged: 3 });
  t.deepEqual(await rows(sys.id), once);
  t.deepEqual(await names(sys.id), ['tank/@root-snap', 'tank/home/alice@daily-1', 'tank/home/alice@daily-2']);
  t.is(once.find((r) => r.name === 'daily-2')!.used, '2048');

  // A later chunk (as the original client sends 1,000 at a time) adds, never deletes.
  const more = await api.request('POST', '/snapshots/batch', { key: sys.api_key, body: [{ name: 'daily-3', pool: 'tank', dataset: 'home/alice', timestamp: '2024-01-03T00:00:00Z', system_id: sys.id }] });
  await waitForReport(api, sys.api_key, reportIdOf(more));
  t.is((await rows(sys.id)).length, 4);

  // The single-snapshot form answers 201 with the normalised snapshot.
  const one = await api.request('POST', '/snapshots', { key: sys.api_key, body: { name: 'tank/data@x', pool: 'tank', dataset: 'tank/data', timestamp: '2024-01-04T00:00:00Z', size: 5, system_id: sys.id } });
  t.is(one.status, 201, one.text);
  t.like(one.body, { name: 'x', pool: 'tank', dataset: 'data', size: '5', system_id: sys.id });
  await waitForReport(api, sys.api_key, one.body.report_id);
  t.true((await names(sys.id)).includes('tank/data@x'));
});

test('full inventory: listed datasets are replaced, complete inventories remove unlisted datasets', async (t) => {
  const sys = await registerSystem(api);
  const a = syntheticSnapshots(5, { seed: 11 });
  const r1 = await api.request('POST', `/systems/${sys.id}/inventory`, {
    key: sys.api_key,
    body: inventory('full-1', 1, [
      { pool: 'tank', dataset: 'a', snapshots: a, bookmarks: [{ name: 'bm', guid: a[0]!.guid, createtxg: a[0]!.createtxg, creation: a[0]!.creation }] },
      { pool: 'tank', dataset: 'b', snapshots: syntheticSnapshots(3, { seed: 12 }) },
    ]),
  });
  t.is(r1.status, 202, r1.text);
  t.like(await waitForReport(api, sys.api_key, 'full-1'), { status: 'applied', counts: { added: 9, removed: 0, changed: 0, unchanged: 0 } });

  // Next listing: a lost a-0 (pruned), a-5 is new, a-1's used changed; b is not listed (incomplete report): b stays.
  const a2 = syntheticSnapshots(5, { seed: 11, from: 1 }).map((s) => (s.name === 'auto-1' ? { ...s, used: '999' } : s));
  await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('full-2', 2, [{ pool: 'tank', dataset: 'a', snapshots: a2 }], { complete: false }) });
  t.like(await waitForReport(api, sys.api_key, 'full-2'), { status: 'applied', counts: { added: 1, removed: 2, changed: 1, unchanged: 3 } });
  const after = await names(sys.id);
  t.false(after.includes('tank/a@auto-0'));
  t.false(after.includes('tank/a#bm'));
  t.true(after.includes('tank/a@auto-5'));
  t.is(after.filter((n) => n.startsWith('tank/b@')).length, 3);

  // A complete inventory without b: b and its snapshots are gone, kept in history.
  await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('full-3', 3, [{ pool: 'tank', dataset: 'a', snapshots: a2 }]) });
  t.like(await waitForReport(api, sys.api_key, 'full-3'), { status: 'applied', counts: { added: 0, removed: 3, changed: 0, unchanged: 5 } });
  t.is((await names(sys.id)).filter((n) => n.startsWith('tank/b')).length, 0);
  const ds = (await pgQuery(env.db.url, `select path, gone_at from datasets where system_id = $1 order by path`, [sys.id])).rows;
  t.is(ds.find((d) => d.path === 'a').gone_at, null);
  t.truthy(ds.find((d) => d.path === 'b').gone_at);
  const gone = (await pgQuery(env.db.url, `select name from snapshots_gone where system_id = $1 order by name`, [sys.id])).rows.map((r) => r.name);
  t.deepEqual(gone, ['auto-0', 'auto-0', 'auto-1', 'auto-2', 'bm']);
});

test('a guid that changes under the same name is a new snapshot; the old one is recorded as gone', async (t) => {
  const sys = await registerSystem(api);
  const snap = { name: 'nightly', guid: '111', createtxg: '10', creation: 1_700_000_000 };
  await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('g-1', 1, [{ pool: 'p', dataset: 'd', snapshots: [snap] }]) });
  await waitForReport(api, sys.api_key, 'g-1');
  await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('g-2', 2, [{ pool: 'p', dataset: 'd', snapshots: [{ ...snap, guid: '222', createtxg: '20' }] }]) });
  t.like(await waitForReport(api, sys.api_key, 'g-2'), { counts: { added: 1, removed: 1, changed: 0 } });
  t.deepEqual((await rows(sys.id)).map((r) => r.guid), ['222']);
  t.deepEqual((await pgQuery(env.db.url, 'select guid::text from snapshots_gone where system_id = $1', [sys.id])).rows, [{ guid: '111' }]);
});

test('guids at 0, 2^63 and 2^64−1 and names with spaces and % round-trip exactly', async (t) => {
  const sys = await registerSystem(api);
  const snaps = [
    { name: 'zero', guid: '0', createtxg: '0', creation: 1_700_000_000, used: '0', referenced: '0' },
    { name: 'two to the 63', guid: '9223372036854775808', createtxg: '9223372036854775808', creation: 1_700_000_001 },
    { name: 'max%20uint', guid: '18446744073709551615', createtxg: '18446744073709551615', creation: 1_700_000_002, used: '18446744073709551615', referenced: '18446744073709551615' },
    { name: 'safe-number', guid: 9_007_199_254_740_991, createtxg: 42, creation: '2023-11-14T22:13:23Z' },
  ];
  const res = await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('exact-1', 1, [{ pool: 'tank', dataset: 'my data/100%', snapshots: snaps as never }]) });
  t.is(res.status, 202, res.text);
  await waitForReport(api, sys.api_key, 'exact-1');
  const stored = await rows(sys.id);
  const byName = new Map(stored.map((r) => [r.name, r]));
  t.is(byName.get('zero')!.guid, '0');
  t.is(byName.get('two to the 63')!.guid, '9223372036854775808');
  t.is(byName.get('max%20uint')!.guid, '18446744073709551615');
  t.is(byName.get('max%20uint')!.used, '18446744073709551615');
  t.is(byName.get('safe-number')!.guid, '9007199254740991');
  t.is(byName.get('safe-number')!.creation.toISOString(), '2023-11-14T22:13:23.000Z');
  t.is(stored[0]!.path, 'my data/100%');
});

test('zfs list TSV body (text/tab-separated-values) is accepted as an inventory', async (t) => {
  const sys = await registerSystem(api);
  const tsv = [
    'tank/home/alice@auto 1\t18446744073709551615\t100\t1700000000\t4096\t8192',
    'tank/home/alice#auto 1\t18446744073709551615\t100\t1700000000\t-\t-',
    'tank@root\t7\t5\t1700000100\t0\t0',
    '',
  ].join('\n');
  const res = await api.request('POST', `/systems/${sys.id}/inventory?report_id=tsv-1&generation=5&complete=true`, { key: sys.api_key, rawBody: tsv, headers: { 'content-type': 'text/tab-separated-values' } });
  t.is(res.status, 202, res.text);
  t.deepEqual(res.body.accepted, { datasets: 2, snapshots: 2, bookmarks: 1 });
  t.like(await waitForReport(api, sys.api_key, 'tsv-1'), { status: 'applied', counts: { added: 3 } });
  t.deepEqual(await names(sys.id), ['tank/@root', 'tank/home/alice#auto 1', 'tank/home/alice@auto 1']);

  const bad = await api.request('POST', `/systems/${sys.id}/inventory?report_id=tsv-2&generation=6`, { key: sys.api_key, rawBody: 'tank/x@a\tnot-a-guid\t1\t1700000000\t1\t1\n', headers: { 'content-type': 'text/tab-separated-values' } });
  t.is(bad.status, 400);
  t.is(bad.body.field, 'guid');
  t.regex(bad.body.detail, /line 1, column guid/);
});

test('chunked reports apply atomically once every chunk arrived, in any order, repeated', async (t) => {
  const sys = await registerSystem(api);
  const snaps = syntheticSnapshots(30, { seed: 3 });
  const chunk = (index: number) =>
    inventory('chunked-1', 1, [{ pool: 'tank', dataset: 'big', snapshots: snaps.slice(index * 10, index * 10 + 10) }], { chunk: { index, count: 3 } });
  for (const index of [2, 0, 0]) {
    const res = await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: chunk(index) });
    t.is(res.status, 202, res.text);
  }
  // Give the worker time to process what it has: nothing may show.
  await new Promise((r) => setTimeout(r, 700));
  t.is((await rows(sys.id)).length, 0);
  const pending = await api.request('GET', '/reports/chunked-1', { key: sys.api_key });
  t.like(pending.body, { status: 'queued', chunks: { received: 2, expected: 3 } });

  const last = await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: chunk(1) });
  t.is(last.status, 202);
  t.like(await waitForReport(api, sys.api_key, 'chunked-1'), { status: 'applied', counts: { added: 30, removed: 0 } });
  t.is((await rows(sys.id)).length, 30);

  // Same report id, same body again: same answer, no change; a different body: 409.
  const again = await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: chunk(1) });
  t.is(again.status, 202);
  t.true(again.body.duplicate);
  const different = await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: { ...chunk(1), complete: false } });
  t.is(different.status, 409);
  t.is(different.body.field, 'report_id');
  t.is((await rows(sys.id)).length, 30);
});

test('an older generation is superseded and changes nothing', async (t) => {
  const sys = await registerSystem(api);
  await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('gen-10', 10, [{ pool: 'tank', dataset: 'd', snapshots: syntheticSnapshots(2, { seed: 9 }) }]) });
  await waitForReport(api, sys.api_key, 'gen-10');
  // The worker caches the applied generation for the API just after its commit: wait for it, so
  // the API (not only the worker) answers `superseded`.
  const cached = await eventually(() => workers.deps.redis.get(appliedGenerationKey(env.config().queuePrefix, sys.id)), (v) => v === '10');
  t.is(cached, '10');
  const before = await rows(sys.id);
  const old = await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('gen-5', 5, [{ pool: 'tank', dataset: 'd', snapshots: [] }]) });
  t.is(old.status, 202);
  t.is(old.body.status, 'superseded');
  t.deepEqual(await rows(sys.id), before);
});

test('the worker re-checks generations: out-of-order reports never regress state', async (t) => {
  const sys = await registerSystem(api);
  // Both reach the queue (the API's cache knows no generation yet); whichever applies last must not win if older.
  await Promise.all([
    api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('race-new', 200, [{ pool: 'tank', dataset: 'd', snapshots: syntheticSnapshots(3, { seed: 5 }) }]) }),
    api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('race-old', 100, [{ pool: 'tank', dataset: 'd', snapshots: syntheticSnapshots(1, { seed: 6 }) }]) }),
  ]);
  const newer = await waitForReport(api, sys.api_key, 'race-new');
  const older = await waitForReport(api, sys.api_key, 'race-old');
  t.is(newer.status, 'applied');
  t.true(['applied', 'superseded'].includes(older.status));
  t.deepEqual((await rows(sys.id)).map((r) => r.name), ['auto-0', 'auto-1', 'auto-2']);
  const gen = (await pgQuery(env.db.url, 'select inventory_generation::text from systems where id = $1', [sys.id])).rows[0].inventory_generation;
  t.is(gen, '200');
});

test('each changed dataset produces one recompute-links job; an unchanged re-report produces none', async (t) => {
  const sys = await registerSystem(api);
  const datasets = [
    { pool: 'tank', dataset: 'x', snapshots: syntheticSnapshots(4, { seed: 21 }) },
    { pool: 'tank', dataset: 'y', snapshots: syntheticSnapshots(4, { seed: 22 }) },
  ];
  const queue = workers.deps.producer.queue('recompute-links');
  const jobsFor = async () => (await queue.getJobs(['completed', 'waiting', 'active', 'delayed', 'failed'])).filter((j) => j.data.system_id === sys.id);
  await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('rc-1', 1, datasets) });
  await waitForReport(api, sys.api_key, 'rc-1');
  t.deepEqual((await jobsFor()).map((j) => j.data.dataset).sort(), ['x', 'y']);
  // Unchanged listing: skipped by content hash, no new job.
  await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('rc-2', 2, datasets) });
  t.like(await waitForReport(api, sys.api_key, 'rc-2'), { counts: { added: 0, removed: 0, changed: 0, unchanged: 8 } });
  t.is((await jobsFor()).length, 2);
  // Only y changes: one more job, for y's new version.
  await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('rc-3', 3, [datasets[0]!, { ...datasets[1]!, snapshots: datasets[1]!.snapshots.slice(1) }]) });
  await waitForReport(api, sys.api_key, 'rc-3');
  const jobs = await jobsFor();
  t.is(jobs.length, 3);
  t.deepEqual(jobs.filter((j) => j.data.dataset === 'y').map((j) => j.data.version).sort(), ['2', '3']);
});

// ---- bad input: the right 4xx, naming the item and field, and nothing stored or queued ----

test.serial('bad inventory input is refused with problem+json naming the item and field; nothing is stored', async (t) => {
  const sys = await registerSystem(api);
  const other = await registerSystem(api);
  const good = { name: 'ok', guid: '1', createtxg: '1', creation: 1_700_000_000 };
  const ds = (snap: Record<string, unknown>, extra: Record<string, unknown> = {}) => inventory('bad', 1, [{ pool: 'tank', dataset: 'd', snapshots: [good, snap] as never, ...extra }]);
  const cases: Array<{ name: string; body: unknown; status: number; field: string }> = [
    { name: 'snapshot name with a quote', body: ds({ ...good, name: "it's" }), status: 400, field: 'datasets[0].snapshots[1].name' },
    { name: 'snapshot name with a slash', body: ds({ ...good, name: 'a/b' }), status: 400, field: 'datasets[0].snapshots[1].name' },
    { name: 'pool starting with a digit', body: inventory('bad', 1, [{ pool: '1tank', dataset: 'd', snapshots: [good] }]), status: 400, field: 'datasets[0].pool' },
    { name: 'dataset with an empty component', body: inventory('bad', 1, [{ pool: 'tank', dataset: 'a//b', snapshots: [good] }]), status: 400, field: 'datasets[0].dataset' },
    { name: 'guid negative', body: ds({ ...good, name: 'n', guid: '-1' }), status: 400, field: 'datasets[0].snapshots[1].guid' },
    { name: 'guid with a leading zero', body: ds({ ...good, name: 'n', guid: '01' }), status: 400, field: 'datasets[0].snapshots[1].guid' },
    { name: 'guid 2^64', body: ds({ ...good, name: 'n', guid: '18446744073709551616' }), status: 400, field: 'datasets[0].snapshots[1].guid' },
    { name: 'guid as a number above 2^53 (precision lost)', body: ds({ ...good, name: 'n', guid: 18446744073709551615 }), status: 400, field: 'datasets[0].snapshots[1].guid' },
    { name: 'createtxg as a float', body: ds({ ...good, name: 'n', createtxg: 1.5 }), status: 400, field: 'datasets[0].snapshots[1].createtxg' },
    { name: 'unparseable creation', body: ds({ ...good, name: 'n', creation: 'yesterday' }), status: 400, field: 'datasets[0].snapshots[1].creation' },
    { name: 'unknown snapshot field', body: ds({ ...good, name: 'n', colour: 'red' }), status: 400, field: 'datasets[0].snapshots[1].colour' },
    { name: 'unknown top-level field', body: { ...ds(good), system_id: other.id }, status: 400, field: 'system_id' },
    { name: 'same snapshot twice', body: ds(good), status: 400, field: 'datasets[0].snapshots[1].name' },
    { name: 'chunk index past the count', body: { ...ds({ ...good, name: 'n' }), chunk: { index: 3, count: 3 } }, status: 400, field: 'chunk.index' },
    { name: 'report id with a colon', body: { ...ds({ ...good, name: 'n' }), report_id: 'a:b' }, status: 400, field: 'report_id' },
  ];
  const queue = workers.deps.producer.queue('reconcile');
  const countJobs = async () => Object.values(await queue.getJobCounts()).reduce((a, b) => a + b, 0);
  const jobsBefore = await countJobs();
  for (const c of cases) {
    const res = await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: c.body });
    t.is(res.status, c.status, `${c.name}: ${res.text}`);
    t.is(res.headers.get('content-type'), 'application/problem+json; charset=utf-8', c.name);
    t.is(res.body.field, c.field, `${c.name}: ${res.text}`);
    t.true(res.body.detail.startsWith(c.field), `${c.name}: ${res.body.detail}`);
  }
  // Reporting for another system: 403, by path and by batch item.
  const cross = await api.request('POST', `/systems/${other.id}/inventory`, { key: sys.api_key, body: ds({ ...good, name: 'n' }) });
  t.is(cross.status, 403);
  const crossBatch = await api.request('POST', '/snapshots/batch', {
    key: sys.api_key,
    body: [
      { name: 'a', pool: 'tank', dataset: 'd', timestamp: '2024-01-01T00:00:00Z', system_id: sys.id },
      { name: 'b', pool: 'tank', dataset: 'd', timestamp: '2024-01-01T00:00:00Z', system_id: other.id },
    ],
  });
  t.is(crossBatch.status, 403);
  t.is(crossBatch.body.field, '[1].system_id');
  // Batch: item limit, bad timestamp, bad full name.
  const tooMany = Array.from({ length: 50_001 }, (_, i) => ({ name: `s${i}`, pool: 'tank', dataset: 'd', timestamp: '2024-01-01T00:00:00Z', system_id: sys.id }));
  const limit = await api.request('POST', '/snapshots/batch', { key: sys.api_key, body: tooMany });
  t.is(limit.status, 400);
  t.regex(limit.body.detail, /50000/);
  const badTime = await api.request('POST', '/snapshots/batch', { key: sys.api_key, body: [{ name: 'a', pool: 'tank', dataset: 'd', timestamp: 'not a time', system_id: sys.id }] });
  t.is(badTime.status, 400);
  t.is(badTime.body.field, '[0].timestamp');
  const badName = await api.request('POST', '/snapshots/batch', { key: sys.api_key, body: [{ name: 'other/ds@a', pool: 'tank', dataset: 'd', timestamp: '2024-01-01T00:00:00Z', system_id: sys.id }] });
  t.is(badName.status, 400);
  t.is(badName.body.field, '[0].name');
  // Over the body limit: 413.
  const huge = await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, rawBody: `{"pad":"${'x'.repeat(70 * 1024 * 1024)}"}`, headers: { 'content-type': 'application/json' } });
  t.is(huge.status, 413);
  t.is(await countJobs(), jobsBefore, 'nothing was queued');
  t.is((await rows(sys.id)).length, 0);
  t.is((await rows(other.id)).length, 0);
});
