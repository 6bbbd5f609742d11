import test from 'ava';
import { pgQuery } from '@zfs-sync/testkit';
import { TEST_ADMIN_TOKEN, inventory, registerSystem, reportIdOf, startTestStack, waitForReport, type RegisteredSystem, type TestApi, type TestStack } from '@zfs-sync/testkit/stack';

/*
 * The read routes through the real API, with inventories applied by the real reconcile worker.
 *
 * Seed (dataset path DS on every system, under different pool names):
 *   A  tank/DS    daily 1 (guid 0), daily%2 (2^63), weekly (2^64−1), collide (111), only-a; bookmark bm-1;
 *      tank (root) root-snap; a snapshot "pruned" that a second report removes.
 *   B  backup/DS  daily 1 (0), renamed%2 (2^63: daily%2 renamed), weekly (2^64−1), collide (222: same
 *      name, other guid), only-b.
 *   C  tank/DS    through the original batch endpoint, no guids: daily 1, weekly, only-c.
 *   D  pool2/tank/DS — a dataset whose relative path is A's full name (the pool-prefix rule).
 */

let stack: TestStack;
let api: TestApi;
const admin = TEST_ADMIN_TOKEN;
let A: RegisteredSystem;
let B: RegisteredSystem;
let C: RegisteredSystem;
let D: RegisteredSystem;

const DS = 'data/alice 50%';
const T0 = 1_700_000_000;
const G63 = '9223372036854775808';
const G64 = '18446744073709551615';
const at = (offset: number) => new Date((T0 + offset) * 1000).toISOString();
const q = (params: Record<string, string | string[]>) => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const one of [v].flat()) s.append(k, one);
  return s.toString();
};

async function post(sys: RegisteredSystem, body: ReturnType<typeof inventory>) {
  const res = await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body });
  if (res.status !== 202) throw new Error(`inventory refused: ${res.status} ${res.text}`);
  const done = await waitForReport(api, sys.api_key, body.report_id);
  if (done.status !== 'applied') throw new Error(`report ${body.report_id}: ${JSON.stringify(done)}`);
}

const aSnapshots = [
  { name: 'daily 1', guid: '0', createtxg: '100', creation: T0, used: '4096', referenced: '1000', userrefs: 1 },
  { name: 'daily%2', guid: G63, createtxg: '101', creation: T0 + 60, used: G64, referenced: '1001' },
  { name: 'weekly', guid: G64, createtxg: G64, creation: T0 + 120, used: G64, referenced: '123' },
  { name: 'collide', guid: '111', createtxg: '103', creation: T0 + 180, used: '1', referenced: '1' },
  { name: 'only-a', guid: '333', createtxg: '104', creation: T0 + 240, used: '2', referenced: '2' },
];
const aRoot = { pool: 'tank', dataset: '', snapshots: [{ name: 'root-snap', guid: '444', createtxg: '99', creation: T0, used: '10', referenced: '10' }] };
const aBookmarks = [{ name: 'bm-1', guid: '0', createtxg: '100', creation: T0 }];

test.before(async () => {
  stack = await startTestStack();
  api = stack.api;
  [A, B, C, D] = await Promise.all([registerSystem(api), registerSystem(api), registerSystem(api), registerSystem(api)]);

  const pruned = { name: 'pruned', guid: '999', createtxg: '50', creation: T0 - 600, used: '7', referenced: '7' };
  await post(A, inventory(`a-1-${A.id}`, 1, [{ pool: 'tank', dataset: DS, snapshots: [pruned, ...aSnapshots], bookmarks: aBookmarks }, aRoot]));
  await post(A, inventory(`a-2-${A.id}`, 2, [{ pool: 'tank', dataset: DS, snapshots: aSnapshots, bookmarks: aBookmarks }, aRoot]));
  await post(
    B,
    inventory(`b-1-${B.id}`, 1, [
      {
        pool: 'backup',
        dataset: DS,
        snapshots: [
          { name: 'daily 1', guid: '0', createtxg: '5000', creation: T0 },
          { name: 'renamed%2', guid: G63, createtxg: '5001', creation: T0 + 60 },
          { name: 'weekly', guid: G64, createtxg: '5002', creation: T0 + 120 },
          { name: 'collide', guid: '222', createtxg: '5003', creation: T0 + 200 },
          { name: 'only-b', guid: '555', createtxg: '5004', creation: T0 + 300, used: '8192' },
        ],
      },
    ]),
  );
  const batch = ['daily 1', 'weekly', 'only-c'].map((name, i) => ({ name, pool: 'tank', dataset: `tank/${DS}`, timestamp: at(i === 2 ? 400 : i * 120), size: String(100 + i), system_id: C.id }));
  const c = await api.request('POST', '/snapshots/batch', { key: C.api_key, body: batch });
  if (c.status !== 202) throw new Error(`batch refused: ${c.status} ${c.text}`);
  await waitForReport(api, C.api_key, reportIdOf(c));
  await post(D, inventory(`d-1-${D.id}`, 1, [{ pool: 'pool2', dataset: `tank/${DS}`, snapshots: [{ name: 'd-only', guid: '777', createtxg: '1', creation: T0 + 500 }] }]));
});

test.after.always(async () => {
  await stack?.stop();
});

const get = (path: string, key: string | null = admin) => api.request('GET', path, { key });

test('list: the original shape, newest first, uint64s as exact decimal strings', async (t) => {
  const res = await get(`/snapshots/system/${A.id}`);
  t.is(res.status, 200, res.text);
  t.true(Array.isArray(res.body));
  t.is(res.headers.get('x-next-cursor'), null);
  t.is(res.headers.get('link'), null);
  const items = res.body as Array<Record<string, any>>;
  t.deepEqual(
    items.map((s) => `${s.kind}:${s.pool}/${s.dataset}:${s.name}`).sort(),
    ['bookmark:tank/data/alice 50%:bm-1', ...['daily 1', 'daily%2', 'weekly', 'collide', 'only-a'].map((n) => `snapshot:tank/data/alice 50%:${n}`), 'snapshot:tank/:root-snap'].sort(),
  );
  // creation desc, id desc.
  for (let i = 1; i < items.length; i++) {
    const [p, c] = [items[i - 1]!, items[i]!];
    t.true(p.timestamp > c.timestamp || (p.timestamp === c.timestamp && BigInt(p.id) > BigInt(c.id)), `${p.name} before ${c.name}`);
  }
  const weekly = items.find((s) => s.name === 'weekly')!;
  t.deepEqual(weekly, {
    id: weekly.id,
    name: 'weekly',
    pool: 'tank',
    dataset: DS,
    kind: 'snapshot',
    timestamp: at(120),
    size: G64,
    used: G64,
    referenced: '123',
    guid: G64,
    createtxg: G64,
    userrefs: null,
    system_id: A.id,
    first_seen: weekly.first_seen,
    last_seen: weekly.last_seen,
    created_at: weekly.first_seen,
    updated_at: weekly.last_seen,
    extra_metadata: {},
  });
  t.regex(weekly.id, /^\d+$/);
  t.true(Date.now() - Date.parse(weekly.first_seen) < 120_000);
  // The exact digits are in the wire text (no float ever touched them).
  t.true(res.text.includes(`"guid":"${G64}"`));
  t.true(res.text.includes(`"guid":"${G63}"`));
  t.true(res.text.includes(`"guid":"0"`));
  t.like(items.find((s) => s.name === 'daily 1'), { guid: '0', userrefs: 1, used: '4096', size: '4096' });
  t.like(items.find((s) => s.kind === 'bookmark'), { name: 'bm-1', guid: '0', createtxg: '100', used: null, size: null, referenced: null });
});

test('list filters: pool, kind, dataset with or without the pool prefix', async (t) => {
  const names = async (params: Record<string, string>) => {
    const res = await get(`/snapshots/system/${A.id}?${q(params)}`);
    t.is(res.status, 200, res.text);
    return (res.body as Array<{ name: string }>).map((s) => s.name).sort();
  };
  const all = ['collide', 'daily 1', 'daily%2', 'only-a', 'weekly'];
  t.deepEqual(await names({ dataset: DS, kind: 'snapshot' }), all);
  t.deepEqual(await names({ dataset: `tank/${DS}`, kind: 'snapshot' }), all);
  t.deepEqual(await names({ dataset: DS, kind: 'bookmark' }), ['bm-1']);
  t.deepEqual(await names({ dataset: 'tank' }), ['root-snap']); // the pool's root, by its full name
  t.deepEqual(await names({ pool: 'tank', dataset: '' }), ['bm-1', 'root-snap', ...all].sort()); // empty dataset: no filter
  t.deepEqual(await names({ pool: 'backup' }), []);
  t.deepEqual(await names({ dataset: `backup/${DS}` }), []);
  // B holds DS under another pool name.
  const b = await get(`/snapshots/system/${B.id}?${q({ dataset: `backup/${DS}` })}`);
  t.is(b.body.length, 5);
});

test('list pagination: three pages with limit 2, no duplicates or gaps; Link and X-Next-Cursor', async (t) => {
  const full = (await get(`/snapshots/system/${A.id}?kind=snapshot&limit=1000`)).body.map((s: { id: string }) => s.id);
  t.is(full.length, 6);
  const pages: string[][] = [];
  let path: string | null = `/snapshots/system/${A.id}?${q({ kind: 'snapshot', limit: '2', dataset: '' })}`;
  let viaCursor: string | null = null;
  while (path !== null) {
    const res = await get(path);
    t.is(res.status, 200, res.text);
    pages.push(res.body.map((s: { id: string }) => s.id));
    const cursor = res.headers.get('x-next-cursor');
    const link = res.headers.get('link');
    if (cursor === null) {
      t.is(link, null);
      path = null;
    } else {
      const m = /^<\/api\/v1(\/snapshots\/system\/[^>]+)>; rel="next"$/.exec(link ?? '');
      t.truthy(m, link ?? 'no Link');
      t.is(new URL(m![1]!, 'http://x').searchParams.get('cursor'), cursor);
      t.is(new URL(m![1]!, 'http://x').searchParams.get('kind'), 'snapshot');
      path = m![1]!;
      viaCursor ??= cursor;
    }
  }
  t.deepEqual(pages.map((p) => p.length), [2, 2, 2]);
  t.deepEqual(pages.flat(), full);
  // The cursor alone (built by hand) gives the same second page; skip (the original's offset) too.
  const second = await get(`/snapshots/system/${A.id}?kind=snapshot&limit=2&cursor=${viaCursor}`);
  t.deepEqual(second.body.map((s: { id: string }) => s.id), pages[1]);
  const skipped = await get(`/snapshots/system/${A.id}?kind=snapshot&limit=2&skip=2`);
  t.deepEqual(skipped.body.map((s: { id: string }) => s.id), pages[1]);
});

test('get one snapshot by id; 404 and 400', async (t) => {
  const list = (await get(`/snapshots/system/${B.id}`)).body as Array<{ id: string; name: string }>;
  const renamed = list.find((s) => s.name === 'renamed%2')!;
  const one = await get(`/snapshots/${renamed.id}`, B.api_key);
  t.is(one.status, 200, one.text);
  t.like(one.body, { id: renamed.id, name: 'renamed%2', pool: 'backup', dataset: DS, guid: G63, createtxg: '5001', used: null, system_id: B.id, timestamp: at(60) });
  const missing = await get('/snapshots/999999999999');
  t.is(missing.status, 404);
  t.is(missing.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  for (const bad of ['abc', '12a', '99999999999999999999', '-1']) {
    const res = await get(`/snapshots/${bad}`);
    t.is(res.status, 400, bad);
    t.is(res.body.field, 'id', bad);
  }
  // A gone snapshot is not served.
  const goneId = (await pgQuery(stack.env.db.url, `select id::text from snapshots_gone where system_id = $1 and name = 'pruned'`, [A.id])).rows[0].id;
  t.is((await get(`/snapshots/${goneId}`)).status, 404);
});

test('differences: guid matches across pools and renames; same name with another guid differs', async (t) => {
  const res = await get(`/snapshots/differences?${q({ system_id_1: A.id, system_id_2: B.id, dataset: DS })}`);
  t.is(res.status, 200, res.text);
  const { comparison_timestamp, ...body } = res.body;
  t.true(Math.abs(Date.parse(comparison_timestamp) - Date.now()) < 60_000);
  t.deepEqual(body, {
    system_1: A.id,
    system_2: B.id,
    dataset: DS,
    only_in_system_1: ['collide', 'only-a'],
    only_in_system_2: ['collide', 'only-b'],
    in_both: ['daily 1', 'daily%2', 'weekly'],
    matches: [
      { system_1_name: 'daily 1', system_2_name: 'daily 1', guid: '0', match: 'guid' },
      { system_1_name: 'daily%2', system_2_name: 'renamed%2', guid: G63, match: 'guid' },
      { system_1_name: 'weekly', system_2_name: 'weekly', guid: G64, match: 'guid' },
    ],
  });
  // The pool-prefixed name of either side resolves to the same path.
  for (const dataset of [`tank/${DS}`, `backup/${DS}`]) {
    const again = await get(`/snapshots/differences?${q({ system_id_1: A.id, system_id_2: B.id, dataset })}`);
    t.like(again.body, { dataset: DS, in_both: body.in_both, only_in_system_1: body.only_in_system_1 });
  }
});

test('differences: without guids on one side, snapshots match by name', async (t) => {
  const res = await get(`/snapshots/differences?${q({ system_id_1: A.id, system_id_2: C.id, dataset: DS })}`);
  t.is(res.status, 200, res.text);
  t.like(res.body, {
    only_in_system_1: ['collide', 'daily%2', 'only-a'],
    only_in_system_2: ['only-c'],
    in_both: ['daily 1', 'weekly'],
    matches: [
      { system_1_name: 'daily 1', system_2_name: 'daily 1', guid: null, match: 'name' },
      { system_1_name: 'weekly', system_2_name: 'weekly', guid: null, match: 'name' },
    ],
  });
});

test('the literal relative path wins over the pool-prefixed reading', async (t) => {
  // D has a dataset at the relative path "tank/DS": that is what "tank/DS" means once D is involved.
  const res = await get(`/snapshots/differences?${q({ system_id_1: A.id, system_id_2: D.id, dataset: `tank/${DS}` })}`);
  t.is(res.status, 200, res.text);
  t.like(res.body, { dataset: `tank/${DS}`, only_in_system_1: [], only_in_system_2: ['d-only'], in_both: [] });
  // Without D, "tank/DS" is A's pool plus DS.
  const gaps = await get(`/snapshots/gaps?${q({ dataset: `tank/${DS}`, system_ids: [A.id, B.id] })}`);
  t.is(gaps.body.gaps[0].dataset, DS);
  // All systems (admin, no system_ids): D has the literal path, so only D takes part.
  const all = await get(`/snapshots/compare-dataset?${q({ dataset: `tank/${DS}` })}`);
  t.is(all.status, 200, all.text);
  t.like(all.body, { dataset: `tank/${DS}`, common_snapshots: ['d-only'], unique_snapshots: { [D.id]: ['d-only'] } });
  t.deepEqual(Object.keys(all.body.unique_snapshots), [D.id]);
});

test('compare-dataset over three systems', async (t) => {
  const res = await get(`/snapshots/compare-dataset?${q({ dataset: DS, system_ids: [A.id, B.id, C.id] })}`);
  t.is(res.status, 200, res.text);
  const { comparison_timestamp, ...body } = res.body;
  t.truthy(comparison_timestamp);
  t.deepEqual(body, {
    dataset: DS,
    common_snapshots: ['daily 1', 'weekly'],
    unique_snapshots: { [A.id]: ['collide', 'only-a'], [B.id]: ['collide', 'only-b'], [C.id]: ['only-c'] },
    missing_snapshots: {
      [A.id]: ['collide', 'only-b', 'only-c'],
      [B.id]: ['collide', 'only-a', 'only-c'],
      [C.id]: ['collide', 'daily%2', 'only-a', 'only-b', 'renamed%2'],
    },
    latest_snapshots: {
      [A.id]: { name: 'only-a', timestamp: at(240), size: '2' },
      [B.id]: { name: 'only-b', timestamp: at(300), size: '8192' },
      [C.id]: { name: 'only-c', timestamp: at(400), size: '102' },
    },
  });
  // Omitting system_ids (admin) compares every system that has the dataset: A, B and C here.
  const all = await get(`/snapshots/compare-dataset?${q({ dataset: DS })}`);
  t.deepEqual(Object.keys(all.body.unique_snapshots).sort(), [A.id, B.id, C.id].sort());
  t.deepEqual(all.body.common_snapshots, ['daily 1', 'weekly']);
});

test('gaps: one per missing snapshot, grouped by guid, with the systems that hold it', async (t) => {
  const expected = [
    { system_id: A.id, missing_snapshot: 'collide', guid: '222', available_on_systems: [B.id], dataset: DS },
    { system_id: A.id, missing_snapshot: 'only-b', guid: '555', available_on_systems: [B.id], dataset: DS },
    { system_id: A.id, missing_snapshot: 'only-c', guid: null, available_on_systems: [C.id], dataset: DS },
    { system_id: B.id, missing_snapshot: 'collide', guid: '111', available_on_systems: [A.id], dataset: DS },
    { system_id: B.id, missing_snapshot: 'only-a', guid: '333', available_on_systems: [A.id], dataset: DS },
    { system_id: B.id, missing_snapshot: 'only-c', guid: null, available_on_systems: [C.id], dataset: DS },
    { system_id: C.id, missing_snapshot: 'collide', guid: '111', available_on_systems: [A.id], dataset: DS },
    { system_id: C.id, missing_snapshot: 'collide', guid: '222', available_on_systems: [B.id], dataset: DS },
    { system_id: C.id, missing_snapshot: 'daily%2', guid: G63, available_on_systems: [A.id, B.id], dataset: DS },
    { system_id: C.id, missing_snapshot: 'only-a', guid: '333', available_on_systems: [A.id], dataset: DS },
    { system_id: C.id, missing_snapshot: 'only-b', guid: '555', available_on_systems: [B.id], dataset: DS },
  ];
  const res = await get(`/snapshots/gaps?${q({ dataset: DS, system_ids: [A.id, B.id, C.id] })}`);
  t.is(res.status, 200, res.text);
  t.deepEqual(res.body, { gaps: expected, count: expected.length });
  // Omitted system_ids: the same gaps. Systems then come in id order, so a renamed snapshot is
  // shown under the name of whichever holder comes first.
  const all = await get(`/snapshots/gaps?${q({ dataset: DS })}`);
  const key = (g: { system_id: string; missing_snapshot: string; guid: string | null; available_on_systems: string[] }) =>
    `${g.system_id} ${g.guid ?? g.missing_snapshot} ${[...g.available_on_systems].sort().join(',')}`;
  t.deepEqual(all.body.gaps.map(key).sort(), expected.map(key).sort());
  t.is(all.body.count, expected.length);
  t.true(['daily%2', 'renamed%2'].includes(all.body.gaps.find((g: { guid: string }) => g.guid === G63).missing_snapshot));
});

test('history: appeared and disappeared events, newest first', async (t) => {
  const res = await get(`/snapshots/history/${A.id}`);
  t.is(res.status, 200, res.text);
  t.like(res.body, { system_id: A.id, days: 7, count: 9 });
  const h = res.body.history as Array<Record<string, any>>;
  t.like(h[0], { event: 'disappeared', name: 'pruned', pool: 'tank', dataset: DS, kind: 'snapshot', guid: '999', timestamp: at(-600) });
  t.is(h[0]!.at, h[0]!.gone_at);
  t.deepEqual(h.filter((e) => e.event === 'disappeared').map((e) => e.name), ['pruned']);
  t.deepEqual(h.filter((e) => e.event === 'appeared').map((e) => e.name).sort(), ['bm-1', 'collide', 'daily 1', 'daily%2', 'only-a', 'pruned', 'root-snap', 'weekly']);
  t.like(h.find((e) => e.event === 'appeared' && e.name === 'pruned'), { gone_at: h[0]!.gone_at });
  t.like(h.find((e) => e.name === 'weekly'), { guid: G64, gone_at: null });
  for (let i = 1; i < h.length; i++) t.true(h[i - 1]!.at >= h[i]!.at);
  const two = await get(`/snapshots/history/${A.id}?days=1&limit=2`);
  t.deepEqual(two.body.history.map((e: { event: string; name: string }) => `${e.event} ${e.name}`), h.slice(0, 2).map((e) => `${e.event} ${e.name}`));
  const filtered = await get(`/snapshots/history/${A.id}?${q({ dataset: 'tank' })}`);
  t.deepEqual(filtered.body.history.map((e: { name: string }) => e.name), ['root-snap']);
});

test('statistics: counts, numeric sums beyond 2^64, per pool', async (t) => {
  const res = await get(`/snapshots/statistics/${A.id}?days=30`);
  t.is(res.status, 200, res.text);
  const used = (4096n + 2n * BigInt(G64) + 1n + 2n + 10n).toString();
  t.deepEqual(res.body, {
    system_id: A.id,
    total_snapshots: 6,
    total_bookmarks: 1,
    total_datasets: 2,
    total_used: used,
    oldest_snapshot: at(0),
    newest_snapshot: at(240),
    appeared_last_days: 8,
    disappeared_last_days: 1,
    per_pool: { tank: { datasets: 2, snapshots: 6, bookmarks: 1, used } },
    days: 30,
    period_days: 30,
    total_size: used,
  });
  const d = await get(`/snapshots/statistics/${D.id}`, D.api_key);
  t.like(d.body, { total_snapshots: 1, total_used: '0', days: 30, per_pool: { pool2: { datasets: 1, snapshots: 1, bookmarks: 0, used: '0' } } });
});

test('the days window: events older than the window are left out', async (t) => {
  const sys = await registerSystem(api);
  const snaps = [
    { name: 'keep', guid: '1', createtxg: '1', creation: T0 },
    { name: 'old', guid: '2', createtxg: '2', creation: T0 + 1 },
  ];
  await post(sys, inventory(`w-1-${sys.id}`, 1, [{ pool: 'p', dataset: 'x', snapshots: snaps }]));
  await post(sys, inventory(`w-2-${sys.id}`, 2, [{ pool: 'p', dataset: 'x', snapshots: [snaps[0]!] }]));
  // Move the whole history of this system 10 days back.
  await pgQuery(stack.env.db.url, `update snapshots set first_seen = first_seen - interval '10 days' where system_id = $1`, [sys.id]);
  await pgQuery(stack.env.db.url, `update snapshots_gone set first_seen = first_seen - interval '10 days', gone_at = gone_at - interval '10 days' where system_id = $1`, [sys.id]);
  t.is((await get(`/snapshots/history/${sys.id}?days=9`, sys.api_key)).body.count, 0);
  t.is((await get(`/snapshots/history/${sys.id}?days=11`, sys.api_key)).body.count, 3);
  t.like((await get(`/snapshots/statistics/${sys.id}?days=9`)).body, { appeared_last_days: 0, disappeared_last_days: 0, total_snapshots: 1 });
  t.like((await get(`/snapshots/statistics/${sys.id}?days=11`)).body, { appeared_last_days: 2, disappeared_last_days: 1 });
});

test('delete (admin only) removes datasets, snapshots and their history; the system stays', async (t) => {
  const sys = await registerSystem(api);
  const snaps = [
    { name: 'a', guid: '1', createtxg: '1', creation: T0 },
    { name: 'b', guid: '2', createtxg: '2', creation: T0 + 1 },
  ];
  await post(sys, inventory(`x-1-${sys.id}`, 1, [{ pool: 'p', dataset: 'scratch', snapshots: snaps, bookmarks: [{ name: 'bm', guid: '1', createtxg: '1', creation: T0 }] }]));
  await post(sys, inventory(`x-2-${sys.id}`, 2, [{ pool: 'p', dataset: 'scratch', snapshots: [snaps[0]!], bookmarks: [{ name: 'bm', guid: '1', createtxg: '1', creation: T0 }] }]));

  t.is((await api.request('DELETE', `/snapshots/system/${sys.id}`, { key: sys.api_key })).status, 403);
  t.is((await api.request('DELETE', `/snapshots/system/${sys.id}`)).status, 401);
  const del = await api.request('DELETE', `/snapshots/system/${sys.id}`, { key: admin });
  t.is(del.status, 200, del.text);
  t.like(del.body, { system_id: sys.id, hostname: sys.hostname, deleted_snapshots: 2, deleted_datasets: 1, deleted_history: 1, deleted_count: 2 });
  for (const table of ['datasets', 'snapshots', 'snapshots_gone']) {
    t.is((await pgQuery(stack.env.db.url, `select count(*)::int as n from ${table} where system_id = $1`, [sys.id])).rows[0].n, 0, table);
  }
  t.deepEqual((await get(`/snapshots/system/${sys.id}`)).body, []);
  t.is((await get(`/systems/${sys.id}`)).status, 200);
  t.is((await api.request('DELETE', `/snapshots/system/${crypto.randomUUID()}`, { key: admin })).status, 404);
  // Other systems are untouched, and the host can report again.
  t.is((await get(`/snapshots/system/${A.id}`)).body.length, 7);
  await post(sys, inventory(`x-3-${sys.id}`, 3, [{ pool: 'p', dataset: 'scratch', snapshots: snaps }]));
  t.is((await get(`/snapshots/system/${sys.id}`, sys.api_key)).body.length, 2);
});

test('a host key reads only its own system: 403 for others and for comparisons involving others', async (t) => {
  const aId = (await get(`/snapshots/system/${A.id}`)).body[0].id;
  const forbidden = [
    `/snapshots/system/${A.id}`,
    `/snapshots/${aId}`,
    `/snapshots/history/${A.id}`,
    `/snapshots/statistics/${A.id}`,
    `/snapshots/differences?${q({ system_id_1: A.id, system_id_2: B.id, dataset: DS })}`,
    `/snapshots/differences?${q({ system_id_1: B.id, system_id_2: A.id, dataset: DS })}`,
    `/snapshots/gaps?${q({ dataset: DS, system_ids: [B.id, A.id] })}`,
    `/snapshots/gaps?${q({ dataset: DS })}`,
    `/snapshots/compare-dataset?${q({ dataset: DS, system_ids: [A.id] })}`,
    `/snapshots/compare-dataset?${q({ dataset: DS })}`,
  ];
  for (const path of forbidden) {
    const res = await get(path, B.api_key);
    t.is(res.status, 403, path);
    t.is(res.headers.get('content-type'), 'application/problem+json; charset=utf-8', path);
    t.false(res.text.includes('only-a'), path);
  }
  for (const path of forbidden.slice(0, 4)) t.is((await get(path, null)).status, 401, path);
  // Its own data, alone, is fine.
  t.is((await get(`/snapshots/system/${B.id}`, B.api_key)).status, 200);
  t.is((await get(`/snapshots/statistics/${B.id}`, B.api_key)).status, 200);
  const own = await get(`/snapshots/compare-dataset?${q({ dataset: DS, system_ids: [B.id] })}`, B.api_key);
  t.is(own.status, 200, own.text);
  t.deepEqual(own.body.unique_snapshots, { [B.id]: ['collide', 'daily 1', 'only-b', 'renamed%2', 'weekly'] });
});

test('bad parameters: 400 problem+json naming the field; unknown systems 404', async (t) => {
  const cases: Array<[string, string]> = [
    [`/snapshots/system/${A.id}?limit=0`, 'limit'],
    [`/snapshots/system/${A.id}?limit=1001`, 'limit'],
    [`/snapshots/system/${A.id}?limit=ten`, 'limit'],
    [`/snapshots/system/${A.id}?limit=1&limit=2`, 'limit'],
    [`/snapshots/system/${A.id}?kind=volume`, 'kind'],
    [`/snapshots/system/${A.id}?cursor=bm90LWEtY3Vyc29y`, 'cursor'],
    [`/snapshots/system/${A.id}?cursor=${Buffer.from('2024-02-30T00:00:00.000000Z|1').toString('base64url')}`, 'cursor'],
    [`/snapshots/system/${A.id}?dataset=a;rm`, 'dataset'],
    [`/snapshots/system/${A.id}?pool=9tank`, 'pool'],
    [`/snapshots/system/${A.id}?skip=-1`, 'skip'],
    [`/snapshots/system/${A.id}?offset=5`, 'offset'],
    ['/snapshots/system/not-a-uuid', 'system_id'],
    [`/snapshots/history/${A.id}?days=0`, 'days'],
    [`/snapshots/history/${A.id}?days=3651`, 'days'],
    [`/snapshots/history/${A.id}?limit=1001`, 'limit'],
    [`/snapshots/statistics/${A.id}?days=1.5`, 'days'],
    ['/snapshots/statistics/123', 'system_id'],
    ['/snapshots/differences', 'system_id_1'],
    [`/snapshots/differences?${q({ system_id_1: A.id, system_id_2: 'x', dataset: DS })}`, 'system_id_2'],
    [`/snapshots/differences?${q({ system_id_1: A.id, system_id_2: A.id, dataset: DS })}`, 'system_id_2'],
    [`/snapshots/differences?${q({ system_id_1: A.id, system_id_2: B.id })}`, 'dataset'],
    ['/snapshots/gaps', 'dataset'],
    [`/snapshots/gaps?${q({ dataset: DS, system_ids: [A.id, 'nope'] })}`, 'system_ids'],
    [`/snapshots/gaps?${q({ dataset: DS, system_id: A.id })}`, 'system_id'],
    [`/snapshots/compare-dataset?${q({ dataset: 'a//b', system_ids: [A.id] })}`, 'dataset'],
  ];
  for (const [path, field] of cases) {
    const res = await get(path);
    t.is(res.status, 400, `${path}: ${res.text}`);
    t.is(res.headers.get('content-type'), 'application/problem+json; charset=utf-8', path);
    t.like(res.body, { status: 400, field }, path);
  }
  const ghost = crypto.randomUUID();
  for (const path of [
    `/snapshots/system/${ghost}`,
    `/snapshots/history/${ghost}`,
    `/snapshots/statistics/${ghost}`,
    `/snapshots/differences?${q({ system_id_1: A.id, system_id_2: ghost, dataset: DS })}`,
    `/snapshots/gaps?${q({ dataset: DS, system_ids: [ghost] })}`,
  ]) {
    t.is((await get(path)).status, 404, path);
  }
});
