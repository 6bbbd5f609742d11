import test from 'ava';
import { Registry } from 'prom-client';
import { SyncGroupsRepository, loadGroupContext, protectionDueForRefresh, recomputeGroupDataset } from '@zfs-sync/db';
import { pgQuery } from '@zfs-sync/testkit';
import { TEST_ADMIN_TOKEN, eventually, registerSystem, reportInventory, syntheticSnapshots, type TestApi } from '@zfs-sync/testkit/stack';
import { registerProtectionMetrics } from '../../metrics/protection.metrics.js';
import { startTestStack, type TestStack } from '@zfs-sync/testkit/stack';

let stack: TestStack;
let api: TestApi;
const admin = TEST_ADMIN_TOKEN;

test.before(async () => {
  stack = await startTestStack();
  api = stack.api;
});
test.after.always(async () => {
  await stack?.stop();
});

const protection = (query: string) => api.request('GET', `/protection?${query}`, { key: admin });

test('protection: least protected first, guid-exact copies, pools and sites; policy violations; a site change shows at once; the gauge counts', async (t) => {
  const hub = await registerSystem(api, undefined, { site: 'dc-a' });
  const a = await registerSystem(api, undefined, { site: 'dc-a' });
  const b = await registerSystem(api, undefined, { site: 'dc-b' });
  const c = await registerSystem(api); // no site
  t.is(hub.hostname && (await api.request('GET', `/systems/${hub.id}`, { key: admin })).body.site, 'dc-a');

  const snaps = syntheticSnapshots(4, { seed: 31 });
  const lonely = syntheticSnapshots(3, { seed: 32 });
  await reportInventory(api, hub, [
    { pool: 'tank', dataset: 'three', snapshots: snaps },
    { pool: 'tank', dataset: 'one', snapshots: lonely },
  ]);
  await reportInventory(api, a, [{ pool: 'backup', dataset: 'three', snapshots: snaps }]);
  // b holds the newest snapshot in two pools; c holds only an older one, and a same-named impostor.
  await reportInventory(api, b, [
    { pool: 'backup', dataset: 'three', snapshots: snaps },
    { pool: 'archive', dataset: 'three', snapshots: snaps.slice(2) },
  ]);
  await reportInventory(api, c, [{ pool: 'backup', dataset: 'three', snapshots: [...snaps.slice(0, 2), { ...snaps[3]!, guid: '42' }] }]);

  const group = await api.request('POST', '/sync-groups', {
    key: admin,
    body: { name: `prot-${hub.id}`, directional: true, hub_system_id: hub.id, system_ids: [hub.id, a.id, b.id, c.id], protection: { min_copies: 3, min_sites: 2 } },
  });
  t.is(group.status, 201, group.text);
  t.deepEqual(group.body.protection, { min_copies: 3, min_sites: 2 });

  const page = await eventually(
    () => protection(`sync_group_id=${group.body.id}`),
    (r) => r.body?.total === 2,
  );
  t.is(page.status, 200, page.text);
  const [first, second] = page.body.items;
  t.is(first.dataset, 'one');
  t.like(first, { violation: true, matched_by: 'guid', reference_system_id: hub.id, newest: { name: 'auto-2', copies: 1, pools: 1, sites: 1 } });
  t.deepEqual(first.newest.holders.map((h: any) => [h.system_id, h.pool, h.site]), [[hub.id, 'tank', 'dc-a']]);
  t.deepEqual(first.missing.map((m: any) => m.system_id).sort(), [a.id, b.id, c.id].sort());

  t.is(second.dataset, 'three');
  // hub, a, b (twice: backup and archive); c's auto-3 has another guid and does not count.
  t.like(second, { violation: false, newest: { name: 'auto-3', guid: snaps[3]!.guid, copies: 3, pools: 4, sites: 2 } });
  t.deepEqual(second.missing.map((m: any) => m.system_id), [c.id]);
  t.like(second.day_old, { name: 'auto-3', copies: 3 }); // the synthetic snapshots are years old

  const violations = await protection(`sync_group_id=${group.body.id}&only_violations=true`);
  t.deepEqual(violations.body.items.map((i: any) => i.dataset), ['one']);

  const registry = new Registry();
  registerProtectionMetrics(registry, stack.workers.deps.pool);
  t.regex(await registry.metrics(), /zfs_sync_protection_datasets\{state="violation"\} 1\n[\s\S]*\{state="ok"\} 1|zfs_sync_protection_datasets\{state="ok"\} 1\n[\s\S]*\{state="violation"\} 1/);

  // Sites are read live: with b moved to dc-a, "three" has one site only.
  t.is((await api.request('PUT', `/systems/${b.id}`, { key: admin, body: { site: 'dc-a' } })).status, 200);
  const moved = await protection(`sync_group_id=${group.body.id}&only_violations=true`);
  t.deepEqual(moved.body.items.map((i: any) => [i.dataset, i.newest.sites]), [['one', 1], ['three', 1]]);

  // Paging and bad input.
  const second_page = await protection(`sync_group_id=${group.body.id}&limit=1&offset=1`);
  t.like(second_page.body, { total: 2, limit: 1, offset: 1 });
  t.is(second_page.body.items[0].dataset, 'three');
  const bad = await protection('only_violations=maybe');
  t.is(bad.status, 400);
  t.is(bad.body.field, 'only_violations');
  t.is((await api.request('GET', '/protection', { key: a.api_key })).status, 403);
  t.is((await api.request('GET', '/protection')).status, 401);
  // min_sites above min_copies is refused and changes nothing.
  const refused = await api.request('PUT', `/sync-groups/${group.body.id}`, { key: admin, body: { protection: { min_copies: 1, min_sites: 2 } } });
  t.is(refused.status, 400);
  t.is(refused.body.field, 'protection');
});

test('protection: the day-old snapshot moves with the clock; the sweep refreshes exactly the stale rows', async (t) => {
  const hub = await registerSystem(api);
  const spoke = await registerSystem(api);
  const now = Math.floor(Date.now() / 1000);
  const snaps = [
    { name: 'old', guid: '1001', createtxg: '10', creation: now - 3 * 86_400 },
    { name: 'recent', guid: '1002', createtxg: '11', creation: now - 3600 },
  ];
  await reportInventory(api, hub, [{ pool: 'tank', dataset: 'clock', snapshots: snaps }]);
  await reportInventory(api, spoke, [{ pool: 'tank', dataset: 'clock', snapshots: snaps.slice(0, 1) }]);
  const group = await api.request('POST', '/sync-groups', { key: admin, body: { name: `clock-${hub.id}`, directional: true, hub_system_id: hub.id, system_ids: [hub.id, spoke.id] } });
  const row = await eventually(
    () => protection(`sync_group_id=${group.body.id}`).then((r) => r.body.items[0]),
    (r) => r !== undefined,
  );
  t.like(row, { dataset: 'clock', violation: false, policy: null, newest: { name: 'recent', copies: 1 }, day_old: { name: 'old', copies: 2 } });
  const {
    rows: [stored],
  } = await pgQuery(stack.env.db.url, 'select extract(epoch from refresh_at)::bigint as at from dataset_protection where group_id = $1', [group.body.id]);
  t.is(Number(stored.at), now - 3600 + 86_400);

  // The sweep asks for exactly the rows the clock made stale, and a recompute at that time moves them.
  const pool = stack.workers.deps.pool;
  t.deepEqual(await protectionDueForRefresh(pool, 500, new Date((now + 3600) * 1000)), [], 'nothing is stale yet');
  const later = new Date((now + 86_400) * 1000);
  t.deepEqual(await protectionDueForRefresh(pool, 500, later), [{ group_id: group.body.id, dataset: 'clock', reason: 'a snapshot turned a day old (protection)' }]);
  const ctx = (await loadGroupContext(new SyncGroupsRepository(pool), group.body.id))!;
  await recomputeGroupDataset(pool, ctx, group.body.id, 'clock', { now: later, backoff: { baseSeconds: 60, maxSeconds: 3600 } });
  t.deepEqual(await protectionDueForRefresh(pool, 500, later), []);
  const after = (await protection(`sync_group_id=${group.body.id}`)).body.items[0];
  t.like(after, { day_old: { name: 'recent', copies: 1 } });
});
