import test from 'ava';
import { startTestStack, type RunningWorkers, type TestStack } from '@zfs-sync/testkit/stack';
import {
  TEST_ADMIN_TOKEN,
  eventually,
  registerSystem,
  reportInventory,
  syntheticSnapshots,
  type RegisteredSystem,
  type TestApi,
  type TestEnvironment,
} from '@zfs-sync/testkit/stack';

let env: TestEnvironment;
let api: TestApi;
let workers: RunningWorkers;
const admin = TEST_ADMIN_TOKEN;
const UNKNOWN = '00000000-0000-4000-8000-000000000000';

const report = (sys: RegisteredSystem, datasets: Parameters<typeof reportInventory>[2]) => reportInventory(api, sys, datasets);


const iso = (epochSeconds: number) => new Date(epochSeconds * 1000).toISOString();
const brief = (states: any[]) => states.map((s) => `${s.dataset}|${s.system_id}|${s.status}|${s.source}`).sort();

/**
 * A hub with two spokes: `home/alice` (5 snapshots on the hub, all 5 on spoke A, 3 on spoke B)
 * and `vm` (on the hub only). Pool names differ on every host.
 */
interface Fleet {
  hub: RegisteredSystem;
  a: RegisteredSystem;
  b: RegisteredSystem;
  outsider: RegisteredSystem;
  groupId: string;
  alice: ReturnType<typeof syntheticSnapshots>;
  vm: ReturnType<typeof syntheticSnapshots>;
}
let fleet: Promise<Fleet>;

async function buildFleet(): Promise<Fleet> {
  const tag = `${process.pid}-${Date.now()}`;
  const hub = await registerSystem(api, `hub-${tag}.test`);
  const a = await registerSystem(api, `spoke-a-${tag}.test`);
  const b = await registerSystem(api, `spoke-b-${tag}.test`);
  const outsider = await registerSystem(api, `outsider-${tag}.test`);
  const alice = syntheticSnapshots(5, { seed: 11 });
  const vm = syntheticSnapshots(2, { seed: 12, prefix: 'daily' });
  await report(hub, [
    { pool: 'tank', dataset: 'home/alice', snapshots: alice },
    { pool: 'tank', dataset: 'vm', snapshots: vm },
  ]);
  await report(a, [{ pool: 'backup', dataset: 'home/alice', snapshots: alice }]);
  await report(b, [{ pool: 'archive', dataset: 'home/alice', snapshots: alice.slice(0, 3) }]);
  const group = await api.request('POST', '/sync-groups', { key: admin, body: { name: `states-${tag}`, directional: true, hub_system_id: hub.id, system_ids: [hub.id, a.id, b.id] } });
  if (group.status !== 201) throw new Error(group.text);
  const groupId = group.body.id as string;
  // Settled: four links (hub → each spoke, two datasets) and the four computed states.
  await eventually(
    () => api.request('GET', `/sync/groups/${groupId}/links`, { key: admin }).then((r) => r.body as any[]),
    (l) => l.length === 4,
  );
  await eventually(
    () => api.request('GET', `/sync/groups/${groupId}/states`, { key: admin }).then((r) => r.body as any[]),
    (s) => s.length === 4 && s.some((x) => x.system_id === b.id && x.status === 'out_of_sync'),
  );
  return { hub, a, b, outsider, groupId, alice, vm };
}

let stack: TestStack;
test.before(async () => {
  stack = await startTestStack();
  ({ env, api, workers } = stack);
  fleet = buildFleet();
  await fleet;
});
test.after.always(async () => {
  await stack?.stop();
});

// The read tests run first (serially), the write tests after them, so a report cannot race a read.

test.serial('states and status of a hub with one spoke in sync and one behind', async (t) => {
  const { hub, a, b, groupId } = await fleet;
  const states = (await api.request('GET', `/sync/groups/${groupId}/states`, { key: admin })).body as any[];
  t.deepEqual(brief(states), [
    `home/alice|${hub.id}|in_sync|computed`,
    `home/alice|${a.id}|in_sync|computed`,
    `home/alice|${b.id}|out_of_sync|computed`,
    `vm|${hub.id}|in_sync|computed`,
  ].sort());
  const bState = states.find((s) => s.system_id === b.id);
  t.deepEqual(Object.keys(bState).sort(), ['dataset', 'error_message', 'id', 'last_sync', 'source', 'status', 'sync_group_id', 'system_id', 'updated_at']);
  t.like(bState, { id: `${groupId}:home/alice:${b.id}`, sync_group_id: groupId, dataset: 'home/alice', error_message: null });
  t.is(bState.last_sync, bState.updated_at);
  t.false(Number.isNaN(Date.parse(bState.updated_at)));

  const status = await api.request('GET', `/sync/groups/${groupId}/status`, { key: admin });
  t.is(status.status, 200, status.text);
  const last = states.map((s) => s.updated_at).sort().at(-1);
  t.deepEqual(status.body, {
    sync_group_id: groupId,
    total_states: 4,
    status_breakdown: { in_sync: 3, out_of_sync: 1, syncing: 0, conflict: 0, error: 0 },
    in_sync_count: 3,
    out_of_sync_count: 1,
    syncing_count: 0,
    conflict_count: 0,
    error_count: 0,
    last_updated: last,
  });

  // GET /sync/states: filters, and a host sees its own states only.
  const all = await api.request('GET', `/sync/states?sync_group_id=${groupId}`, { key: admin });
  t.deepEqual(brief(all.body), brief(states));
  const behind = await api.request('GET', `/sync/states?sync_group_id=${groupId}&status=out_of_sync`, { key: admin });
  t.deepEqual(behind.body.map((s: any) => s.system_id), [b.id]);
  const vmOnly = await api.request('GET', `/sync/states?sync_group_id=${groupId}&dataset=vm`, { key: admin });
  t.deepEqual(brief(vmOnly.body), [`vm|${hub.id}|in_sync|computed`]);
  const own = await api.request('GET', `/sync/states?system_id=${hub.id}`, { key: hub.api_key });
  t.is(own.status, 200, own.text);
  t.deepEqual(brief(own.body), [`home/alice|${hub.id}|in_sync|computed`, `vm|${hub.id}|in_sync|computed`]);
  t.is((await api.request('GET', `/sync/states?system_id=${b.id}`, { key: hub.api_key })).status, 403);
  t.is((await api.request('GET', '/sync/states', { key: hub.api_key })).status, 403);
  t.is((await api.request('GET', `/sync/groups/${groupId}/states`, { key: hub.api_key })).status, 403);
  t.is((await api.request('GET', '/sync/states')).status, 401);
  for (const [query, field] of [['status=bogus', 'status'], ['sync_group_id=nope', 'sync_group_id'], ['system_id=nope', 'system_id'], ['colour=red', 'colour'], ['status=in_sync&status=error', 'status']]) {
    const res = await api.request('GET', `/sync/states?${query}`, { key: admin });
    t.is(res.status, 400, `${query}: ${res.text}`);
    t.is(res.body.field, field, query);
    t.regex(res.headers.get('content-type') ?? '', /application\/problem\+json/);
  }
});

test.serial('analysis: pools, snapshot counts, newest snapshot, state and verdict per system', async (t) => {
  const { hub, a, b, groupId, alice, vm } = await fleet;
  const res = await api.request('GET', `/sync/groups/${groupId}/analysis`, { key: admin });
  t.is(res.status, 200, res.text);
  t.is(res.body.sync_group_id, groupId);
  t.is(res.body.dataset_count, 2);
  t.false(Number.isNaN(Date.parse(res.body.analysis_timestamp)));
  const latest = (s: (typeof alice)[number]) => ({ name: s.name, guid: s.guid, timestamp: iso(s.creation) });
  // Systems are listed by hostname: hub, spoke-a, spoke-b.
  t.deepEqual(res.body.datasets, [
    {
      dataset: 'home/alice',
      systems: [
        { system_id: hub.id, hostname: hub.hostname, present: true, pool: 'tank', snapshot_count: 5, latest_snapshot: latest(alice[4]!), status: 'in_sync', verdict: null },
        { system_id: a.id, hostname: a.hostname, present: true, pool: 'backup', snapshot_count: 5, latest_snapshot: latest(alice[4]!), status: 'in_sync', verdict: 'in_sync' },
        { system_id: b.id, hostname: b.hostname, present: true, pool: 'archive', snapshot_count: 3, latest_snapshot: latest(alice[2]!), status: 'out_of_sync', verdict: 'behind' },
      ],
    },
    {
      dataset: 'vm',
      systems: [
        { system_id: hub.id, hostname: hub.hostname, present: true, pool: 'tank', snapshot_count: 2, latest_snapshot: latest(vm[1]!), status: 'in_sync', verdict: null },
        { system_id: a.id, hostname: a.hostname, present: false, pool: null, snapshot_count: 0, latest_snapshot: null, status: 'unknown', verdict: 'not_seeded' },
        { system_id: b.id, hostname: b.hostname, present: false, pool: null, snapshot_count: 0, latest_snapshot: null, status: 'unknown', verdict: 'not_seeded' },
      ],
    },
  ]);
  t.is((await api.request('GET', `/sync/groups/${groupId}/analysis`, { key: a.api_key })).status, 403);
});

test.serial('unknown groups are 404, malformed ids 400', async (t) => {
  for (const path of ['states', 'status', 'analysis']) {
    const res = await api.request('GET', `/sync/groups/${UNKNOWN}/${path}`, { key: admin });
    t.is(res.status, 404, `${path}: ${res.text}`);
    t.regex(res.headers.get('content-type') ?? '', /application\/problem\+json/);
    const bad = await api.request('GET', `/sync/groups/not-a-uuid/${path}`, { key: admin });
    t.is(bad.status, 400, path);
    t.is(bad.body.field, 'id');
  }
  const { b } = await fleet;
  const post = await api.request('POST', `/sync/states?sync_group_id=${UNKNOWN}&dataset=home/alice&system_id=${b.id}&status=syncing`, { key: b.api_key });
  t.is(post.status, 404, post.text);
});

test.serial('POST /sync/states: query parameters (original) and a JSON body', async (t) => {
  const { hub, a, b, groupId } = await fleet;
  // The original form; the dataset as the original names it (pool/path) is read as the path.
  const q = new URLSearchParams({ sync_group_id: groupId, dataset: 'archive/home/alice', system_id: b.id, status: 'syncing', error_message: '' });
  const viaQuery = await api.request('POST', `/sync/states?${q}`, { key: b.api_key });
  t.is(viaQuery.status, 200, viaQuery.text);
  t.like(viaQuery.body, { id: `${groupId}:home/alice:${b.id}`, sync_group_id: groupId, dataset: 'home/alice', system_id: b.id, status: 'syncing', error_message: null, source: 'reported' });

  const viaBody = await api.request('POST', '/sync/states', { key: a.api_key, body: { sync_group_id: groupId, dataset: 'home/alice', system_id: a.id, status: 'error', error_message: 'cannot receive: out of space' } });
  t.is(viaBody.status, 200, viaBody.text);
  t.like(viaBody.body, { dataset: 'home/alice', system_id: a.id, status: 'error', error_message: 'cannot receive: out of space', source: 'reported' });

  // The admin may report for any member; a dataset no member holds is stored as given.
  const byAdmin = await api.request('POST', `/sync/states?sync_group_id=${groupId}&dataset=scratch&system_id=${hub.id}&status=conflict&error_message=by%20hand`, { key: admin });
  t.is(byAdmin.status, 200, byAdmin.text);
  t.like(byAdmin.body, { dataset: 'scratch', status: 'conflict', error_message: 'by hand', source: 'reported' });

  const status = (await api.request('GET', `/sync/groups/${groupId}/status`, { key: admin })).body;
  t.like(status, { total_states: 5, status_breakdown: { in_sync: 2, out_of_sync: 0, syncing: 1, conflict: 1, error: 1 }, in_sync_count: 2, syncing_count: 1, conflict_count: 1, error_count: 1 });
  t.is(status.last_updated, byAdmin.body.updated_at);
  const own = await api.request('GET', `/sync/states?system_id=${b.id}&sync_group_id=${groupId}`, { key: b.api_key });
  t.deepEqual(brief(own.body), [`home/alice|${b.id}|syncing|reported`]);
  // A hand-reported dataset shows in the analysis.
  const analysis = (await api.request('GET', `/sync/groups/${groupId}/analysis`, { key: admin })).body;
  t.deepEqual(analysis.datasets.map((d: any) => d.dataset), ['home/alice', 'scratch', 'vm']);
  t.like(analysis.datasets[1].systems[0], { system_id: hub.id, present: false, status: 'conflict', verdict: null });

  // The next inventory recomputes the dataset: the computed state replaces the reported one.
  await report(b, [{ pool: 'archive', dataset: 'home/alice', snapshots: (await fleet).alice }]);
  const after = await eventually(
    () => api.request('GET', `/sync/states?system_id=${b.id}&sync_group_id=${groupId}`, { key: b.api_key }).then((r) => r.body as any[]),
    (s) => s[0]?.source === 'computed',
  );
  t.deepEqual(brief(after), [`home/alice|${b.id}|in_sync|computed`]);
});

test.serial('POST /sync/states: 401, 403 for another system, 400s naming the field', async (t) => {
  const { hub, a, b, outsider, groupId } = await fleet;
  const good = { sync_group_id: groupId, dataset: 'home/alice', system_id: b.id, status: 'in_sync' };
  const qs = (o: Record<string, string>) => new URLSearchParams(o).toString();

  t.is((await api.request('POST', `/sync/states?${qs(good)}`)).status, 401);
  const other = await api.request('POST', `/sync/states?${qs(good)}`, { key: a.api_key });
  t.is(other.status, 403, other.text);
  t.regex(other.headers.get('content-type') ?? '', /application\/problem\+json/);
  t.is((await api.request('POST', '/sync/states', { key: hub.api_key, body: good })).status, 403);

  const cases: Array<[string, Record<string, unknown> | null, string]> = [
    [qs({ ...good, status: 'bogus' }), null, 'status'],
    [qs({ ...good, sync_group_id: 'not-a-uuid' }), null, 'sync_group_id'],
    [qs({ ...good, system_id: 'nope' }), null, 'system_id'],
    [qs({ sync_group_id: groupId, system_id: b.id, status: 'in_sync' }), null, 'dataset'],
    [qs({ ...good, dataset: 'home/alice@snap' }), null, 'dataset'],
    [qs({ ...good, colour: 'red' }), null, 'colour'],
    [`${qs(good)}&status=error`, null, 'status'],
    ['', { ...good, status: 'bogus' }, 'status'],
    ['', { ...good, extra: 1 }, 'extra'],
    ['', { ...good, error_message: 42 }, 'error_message'],
  ];
  for (const [query, body, field] of cases) {
    const res = await api.request('POST', `/sync/states${query ? `?${query}` : ''}`, { key: b.api_key, ...(body ? { body } : {}) });
    t.is(res.status, 400, `${query} ${JSON.stringify(body)}: ${res.text}`);
    t.is(res.body.field, field, `${query} ${JSON.stringify(body)}`);
    t.regex(res.headers.get('content-type') ?? '', /application\/problem\+json/);
  }
  // Both forms at once are refused.
  t.is((await api.request('POST', `/sync/states?${qs(good)}`, { key: b.api_key, body: good })).status, 400);
  // A system that is not a member of the group.
  const stranger = await api.request('POST', `/sync/states?${qs({ ...good, system_id: outsider.id })}`, { key: outsider.api_key });
  t.is(stranger.status, 400, stranger.text);
  t.is(stranger.body.field, 'system_id');
  // Nothing was stored by any refused report.
  const states = (await api.request('GET', `/sync/states?sync_group_id=${groupId}&system_id=${b.id}`, { key: admin })).body;
  t.deepEqual(brief(states), [`home/alice|${b.id}|in_sync|computed`]);
});
