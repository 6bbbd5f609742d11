import test from 'ava';
import { pgQuery } from '@zfs-sync/testkit';
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
import type { RunningWorkers } from '@zfs-sync/workers';
import { startTestStack, type TestStack } from '@zfs-sync/testkit/stack';

let env: TestEnvironment;
let api: TestApi;
let workers: RunningWorkers;
const admin = TEST_ADMIN_TOKEN;

let stack: TestStack;
test.before(async () => {
  stack = await startTestStack();
  ({ env, api, workers } = stack);
});
test.after.always(async () => {
  await stack?.stop();
});

const report = (sys: RegisteredSystem, datasets: Parameters<typeof reportInventory>[2]) => reportInventory(api, sys, datasets);


const links = (groupId: string) => api.request('GET', `/sync/groups/${groupId}/links`, { key: admin }).then((r) => r.body as any[]);

test('hub → spoke: report → instruction → status → next inventory → in_sync', async (t) => {
  const hub = await registerSystem(api, undefined, { ssh_hostname: 'hub.example', ssh_user: 'zsync' });
  const spoke = await registerSystem(api, undefined, { ssh_hostname: 'spoke.example', ssh_port: 2222 });
  const snaps = syntheticSnapshots(5, { seed: 7 });
  await report(hub, [{ pool: 'tank', dataset: 'home/alice', snapshots: snaps }]);
  await report(spoke, [{ pool: 'backup', dataset: 'home/alice', snapshots: snaps.slice(0, 3) }]);
  const group = await api.request('POST', '/sync-groups', { key: admin, body: { name: `g-${hub.id}`, directional: true, hub_system_id: hub.id, system_ids: [hub.id, spoke.id, spoke.id] } });
  t.is(group.status, 201, group.text);
  t.deepEqual(group.body.system_ids, [hub.id, spoke.id].sort());
  t.like(group.body, { transfer_mode: 'push', max_lag_seconds: 259200, send_options: { compressed: true, raw: false } });

  const [link] = await eventually(() => links(group.body.id), (l) => l.length === 1);
  t.like(link, { source_system_id: hub.id, target_system_id: spoke.id, verdict: 'behind', lag_seconds: 120, base: { name: 'auto-2' } });
  t.truthy(link.instruction_id);

  // The spoke gets nothing to run; the hub gets exactly its transfer.
  const spokeView = await api.request('GET', `/sync/instructions/${spoke.id}`, { key: spoke.api_key });
  t.is(spokeView.body.dataset_count, 0);
  t.is(spokeView.body.incoming.length, 1);
  const hubView = await api.request('GET', `/sync/instructions/${hub.id}`, { key: hub.api_key });
  t.is(hubView.body.dataset_count, 1);
  const entry = hubView.body.datasets[0];
  t.like(entry, { pool: 'tank', dataset: 'tank/home/alice', target_pool: 'backup', target_dataset: 'backup/home/alice', starting_snapshot: 'auto-2', ending_snapshot: 'auto-4', is_incremental: true, snapshot_count: 2, source_system_id: hub.id, target_system_id: spoke.id });
  t.deepEqual(entry.commands, ["zfs send -c -I tank/home/alice@auto-2 tank/home/alice@auto-4 | ssh -p 2222 spoke.example 'zfs receive -s backup/home/alice'"]);
  t.false(entry.commands[0].includes('-F'));
  t.truthy(entry.lease_expires_at);

  // Leased: a second (overlapping cron) fetch does not hand it out again.
  const again = await api.request('GET', `/sync/instructions/${hub.id}`, { key: hub.api_key, headers: {} });
  t.is(again.body.dataset_count, 0);
  const diag = await api.request('GET', `/sync/instructions/${hub.id}?include_diagnostics=true`, { key: hub.api_key });
  t.regex(diag.body.diagnostics[0].reason, /handed out, not started yet: offered until/);

  // Feedback: started → succeeded → syncing until the spoke's inventory shows the end guid.
  // Only the executing system reports; for anyone else the instruction does not exist.
  t.is((await api.request('POST', `/sync/instructions/${entry.instruction_id}/status`, { key: spoke.api_key, body: { status: 'started' } })).status, 404);
  t.is((await api.request('POST', `/sync/instructions/${entry.instruction_id}/status`, { key: hub.api_key, body: { status: 'started' } })).status, 200);
  t.is((await api.request('POST', `/sync/instructions/${entry.instruction_id}/status`, { key: hub.api_key, body: { status: 'progress', bytes_transferred: '18446744073709551615' } })).status, 200);
  const done = await api.request('POST', `/sync/instructions/${entry.instruction_id}/status`, { key: hub.api_key, body: { status: 'succeeded', bytes_transferred: 123456 } });
  t.is(done.status, 200, done.text);
  const waiting = await eventually(() => links(group.body.id), (l) => /reported succeeded/.test(l[0]?.explanation ?? ''));
  t.like(waiting[0], { verdict: 'syncing' });

  await report(spoke, [{ pool: 'backup', dataset: 'home/alice', snapshots: snaps }]);
  const synced = await eventually(() => links(group.body.id), (l) => l[0]?.verdict === 'in_sync');
  t.like(synced[0], { verdict: 'in_sync', instruction_id: null, lag_seconds: 0 });
  const instr = await pgQuery(env.db.url, 'select status from sync_instructions where id = $1', [entry.instruction_id]);
  t.is(instr.rows[0].status, 'completed');
  const transitions = (await pgQuery(env.db.url, 'select from_verdict, to_verdict from link_transitions where group_id = $1 order by id', [group.body.id])).rows;
  t.deepEqual(transitions.map((r) => `${r.from_verdict}→${r.to_verdict}`), ['null→behind', 'behind→syncing', 'syncing→in_sync']);
});

test('a failure backs off, and repeated failures show error', async (t) => {
  const hub = await registerSystem(api);
  const spoke = await registerSystem(api);
  await report(hub, [{ pool: 'tank', dataset: 'vm', snapshots: syntheticSnapshots(3, { seed: 8 }) }]);
  const group = await api.request('POST', '/sync-groups', { key: admin, body: { name: `f-${hub.id}`, directional: true, hub_system_id: hub.id, system_ids: [hub.id, spoke.id] } });
  const [link] = await eventually(() => links(group.body.id), (l) => l.length === 1 && l[0].instruction_id);
  t.is(link.verdict, 'not_seeded');
  const first = await api.request('GET', `/sync/instructions/${hub.id}`, { key: hub.api_key });
  t.is(first.body.dataset_count, 1);
  t.false(first.body.datasets[0].is_incremental);
  t.regex(first.body.datasets[0].commands[0], /^zfs send -c tank\/vm@auto-2 \| ssh /);
  const id = first.body.datasets[0].instruction_id;
  const failed = await api.request('POST', `/sync/instructions/${id}/status`, { key: hub.api_key, body: { status: 'failed', error: 'cannot receive: pool is full' } });
  t.is(failed.status, 200);
  t.like(failed.body, { status: 'failed', consecutive_failures: 1, last_error: 'cannot receive: pool is full' });
  // The engine decides the backoff (1 min after the first failure) and shows it on the link.
  const [backingOff] = await eventually(() => links(group.body.id), (l) => l[0]?.next_attempt_at);
  const backoff = Date.parse(backingOff.next_attempt_at) - Date.now();
  t.true(backoff > 50_000 && backoff <= 60_000, `backoff ${backoff}`);
  // Backing off: not handed out, and diagnostics say why.
  const during = await api.request('GET', `/sync/instructions/${hub.id}?include_diagnostics=true`, { key: hub.api_key });
  t.is(during.body.dataset_count, 0);
  t.regex(during.body.diagnostics[0].reason, /backing off .*pool is full/);
  // Pretend the backoff passed, twice more: the link shows error.
  for (let i = 0; i < 2; i++) {
    await pgQuery(env.db.url, `update sync_instructions set next_attempt_at = now() - interval '1 second' where id = $1`, [id]);
    const offered = await api.request('GET', `/sync/instructions/${hub.id}`, { key: hub.api_key });
    t.is(offered.body.dataset_count, 1);
    await api.request('POST', `/sync/instructions/${id}/status`, { key: hub.api_key, body: { status: 'failed', error: 'again' } });
    await eventually(() => pgQuery(env.db.url, 'select next_attempt_at from sync_instructions where id = $1', [id]), (r) => r.rows[0].next_attempt_at !== null);
  }
  t.is((await eventually(() => links(group.body.id), (l) => l[0]?.verdict === 'error'))[0].verdict, 'error');
  // A report on a finished instruction of another state is refused.
  const late = await api.request('POST', `/sync/instructions/${id}/status`, { key: hub.api_key, body: { status: 'progress' } });
  t.is(late.status, 409);
});

test('group validation refuses invalid combinations and stores nothing', async (t) => {
  const a = await registerSystem(api);
  const b = await registerSystem(api);
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ name: 'x1', directional: true, system_ids: [a.id, b.id] }, 'hub_system_id'],
    [{ name: 'x2', directional: true, hub_system_id: a.id, system_ids: [b.id] }, 'hub_system_id'],
    [{ name: 'x3', system_ids: [a.id, '00000000-0000-4000-8000-000000000000'] }, 'system_ids'],
    [{ name: 'x4', system_ids: [a.id], snapshot_pattern: '(a+)+$' }, 'snapshot_pattern'],
    [{ name: 'x5', system_ids: [a.id], snapshot_pattern: '([' }, 'snapshot_pattern'],
    [{ name: 'x6', system_ids: [a.id], transfer_mode: 'teleport' }, 'transfer_mode'],
    [{ name: 'x7', system_ids: [a.id], target_pools: { [b.id]: 'pool' } }, 'target_pools'],
    [{ name: 'x8', system_ids: [a.id], max_lag_seconds: -1 }, 'max_lag_seconds'],
    [{ name: 'x9', system_ids: [a.id], unknown: 1 }, 'unknown'],
  ];
  for (const [body, field] of cases) {
    const res = await api.request('POST', '/sync-groups', { key: admin, body });
    t.is(res.status, 400, `${JSON.stringify(body)} → ${res.text}`);
    t.is(res.body.field, field, res.text);
  }
  const names = (await api.request('GET', '/sync-groups', { key: admin })).body.map((g: { name: string }) => g.name);
  t.false(names.some((n: string) => /^x\d$/.test(n)));
  t.is((await api.request('POST', '/sync-groups', { key: a.api_key, body: { name: 'host-made' } })).status, 403);
});

test('a diverged spoke opens a conflict; destructive resolution needs confirmation; the conflict closes when inventories agree', async (t) => {
  const hub = await registerSystem(api, undefined, { ssh_hostname: 'hub2.example' });
  const spoke = await registerSystem(api, undefined, { ssh_hostname: 'spoke2.example', ssh_user: 'backup' });
  const snaps = syntheticSnapshots(5, { seed: 31 });
  const local = { name: 'local edit', guid: '424242', createtxg: '999999', creation: snaps[2]!.creation + 30 };
  await report(hub, [{ pool: 'tank', dataset: 'projects', snapshots: snaps }]);
  await report(spoke, [{ pool: 'tank', dataset: 'projects', snapshots: [...snaps.slice(0, 3), local] }]);
  const group = await api.request('POST', '/sync-groups', { key: admin, body: { name: `c-${hub.id}`, directional: true, hub_system_id: hub.id, system_ids: [hub.id, spoke.id] } });
  const [link] = await eventually(() => links(group.body.id), (l) => l.length === 1 && l[0].conflict_id);
  t.like(link, { verdict: 'diverged', instruction_id: null, target_only_count: 1, base: { name: 'auto-2' } });

  const listed = await api.request('GET', `/conflicts?sync_group_id=${group.body.id}&status=open`, { key: admin });
  t.is(listed.body.length, 1);
  const conflict = listed.body[0];
  t.like(conflict, { id: link.conflict_id, type: 'diverged', severity: 'critical', source_system_id: hub.id, target_system_id: spoke.id, status: 'open', details: { target_only: ['local edit'] } });
  t.like((await api.request('GET', `/conflicts/summary/${group.body.id}`, { key: admin })).body, { open_conflicts: 1, by_type: { diverged: 1 } });
  t.is((await api.request('GET', `/conflicts/sync-group/${group.body.id}`, { key: admin })).body.length, 1);
  // Nothing is handed out for a diverged link; diagnostics point at the conflict.
  const hubView = await api.request('GET', `/sync/instructions/${hub.id}?include_diagnostics=true`, { key: hub.api_key });
  t.is(hubView.body.dataset_count, 0);
  t.regex(hubView.body.diagnostics[0].reason, new RegExp(`conflict ${conflict.id}`));

  // Destructive without confirm: 409 naming exactly the casualties; nothing issued.
  const dry = await api.request('POST', `/conflicts/${conflict.id}/resolve`, { key: admin, body: { strategy: 'rollback_target' } });
  t.is(dry.status, 409);
  t.deepEqual(dry.body.would_destroy, ['local edit']);
  t.is(dry.body.field, 'confirm');
  t.is((await api.request('GET', `/sync/instructions/${hub.id}`, { key: admin })).body.dataset_count, 0);
  const wrong = await api.request('POST', `/conflicts/${conflict.id}/resolve`, { key: admin, body: { strategy: 'teleport' } });
  t.is(wrong.status, 400);
  t.is((await api.request('POST', `/conflicts/${conflict.id}/resolve`, { key: hub.api_key, body: { strategy: 'ignore' } })).status, 403);

  // Confirmed: a one-off plan for the executor (push: the hub); the rollback runs on the target over ssh.
  // Recorded at once (202), carried out by the engine: the remedy plan goes to the executor.
  const ok = await api.request('POST', `/conflicts/${conflict.id}/resolve`, { key: admin, body: { strategy: 'rollback_target', confirm: true } });
  t.is(ok.status, 202, ok.text);
  t.like(ok.body, { resolution: { strategy: 'rollback_target', confirmed: true, status: 'pending' }, would_destroy: ['local edit'] });
  const carried = await eventually(() => api.request('GET', `/conflicts/${conflict.id}`, { key: admin }).then((r) => r.body), (c) => c.resolution?.instruction_id);
  t.like(carried.resolution_requests[0], { status: 'applied', instruction_id: carried.resolution.instruction_id });
  const handed = await api.request('GET', `/sync/instructions/${hub.id}`, { key: hub.api_key });
  t.is(handed.body.dataset_count, 1);
  t.like(handed.body.datasets[0], { kind: 'remedy', strategy: 'rollback_target', instruction_id: carried.resolution.instruction_id, would_destroy: ['local edit'] });
  t.deepEqual(handed.body.datasets[0].commands, [
    "ssh backup@spoke2.example 'zfs rollback -r tank/projects@auto-2'",
    "zfs send -c -I tank/projects@auto-2 tank/projects@auto-4 | ssh backup@spoke2.example 'zfs receive -s tank/projects'",
  ]);
  const instructionId = carried.resolution.instruction_id;
  // The spoke gets no hub-side command.
  t.is((await api.request('GET', `/sync/instructions/${spoke.id}`, { key: spoke.api_key })).body.dataset_count, 0);

  await api.request('POST', `/sync/instructions/${instructionId}/status`, { key: hub.api_key, body: { status: 'succeeded' } });
  await report(spoke, [{ pool: 'tank', dataset: 'projects', snapshots: snaps }]);
  const closed = await eventually(() => api.request('GET', `/conflicts/${conflict.id}`, { key: admin }).then((r) => r.body), (c) => c.status === 'resolved');
  t.like(closed, { status: 'resolved', resolution: { strategy: 'rollback_target', confirmed: true, closed_automatically: true } });
  t.like((await links(group.body.id))[0], { verdict: 'in_sync', conflict_id: null });
});

test('mesh of three: every member converges on the furthest one', async (t) => {
  const [a, b, c] = [await registerSystem(api), await registerSystem(api), await registerSystem(api)];
  const snaps = syntheticSnapshots(6, { seed: 41 });
  await report(a, [{ pool: 'p1', dataset: 'shared', snapshots: snaps }]);
  await report(b, [{ pool: 'p2', dataset: 'shared', snapshots: snaps.slice(0, 4) }]);
  await report(c, [{ pool: 'p3', dataset: 'other', snapshots: syntheticSnapshots(1, { seed: 42 }) }]);
  const group = await api.request('POST', '/sync-groups', { key: admin, body: { name: `m-${a.id}`, system_ids: [a.id, b.id, c.id], target_pools: { [c.id]: 'p3' } } });
  // shared: a → b (behind), a → c (not seeded); other: c → a, c → b (not seeded).
  const all = await eventually(() => links(group.body.id), (l) => l.length === 4);
  t.is(all.length, 4);
  const shared = all.filter((l: any) => l.dataset === 'shared').sort((x: any, y: any) => x.target_system_id.localeCompare(y.target_system_id));
  t.deepEqual(shared.map((l: any) => [l.source_system_id, l.target_system_id, l.verdict]).sort(), [[a.id, b.id, 'behind'], [a.id, c.id, 'not_seeded']].sort());
  const other = all.filter((l: any) => l.dataset === 'other');
  t.deepEqual(other.map((l: any) => [l.source_system_id, l.verdict]), [[c.id, 'not_seeded'], [c.id, 'not_seeded']]);
  const aPlans = (await api.request('GET', `/sync/instructions/${a.id}`, { key: admin })).body.datasets;
  t.is(aPlans.length, 2);
  const seed = aPlans.find((p: any) => p.target_system_id === c.id);
  t.like(seed, { is_incremental: false, target_pool: 'p3', ending_snapshot: 'auto-5' });
});

test('deleting a member\'s inventory recomputes its links', async (t) => {
  const hub = await registerSystem(api);
  const spoke = await registerSystem(api);
  const snaps = syntheticSnapshots(3, { seed: 51 });
  await report(hub, [{ pool: 'tank', dataset: 'gone-soon', snapshots: snaps }]);
  await report(spoke, [{ pool: 'tank', dataset: 'gone-soon', snapshots: snaps }]);
  const group = await api.request('POST', '/sync-groups', { key: admin, body: { name: `d-${hub.id}`, directional: true, hub_system_id: hub.id, system_ids: [hub.id, spoke.id] } });
  t.is((await eventually(() => links(group.body.id), (l) => l[0]?.verdict === 'in_sync'))[0]?.verdict, 'in_sync');
  const del = await api.request('DELETE', `/snapshots/system/${spoke.id}`, { key: admin });
  t.is(del.status, 200, del.text);
  const after = await eventually(() => links(group.body.id), (l) => l[0]?.verdict === 'not_seeded');
  t.like(after[0], { verdict: 'not_seeded', target_system_id: spoke.id });
  t.truthy(after[0].instruction_id);
});
