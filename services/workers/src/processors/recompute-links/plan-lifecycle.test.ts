import test from 'ava';
import { createLogger } from '@zfs-sync/logger';
import { pgQuery } from '@zfs-sync/testkit';
import { TEST_ADMIN_TOKEN, eventually, inventory, registerSystem, reportIdOf, reportInventory, startTestStack, syntheticSnapshots, waitForReport, type RegisteredSystem, type TestApi, type TestStack } from '@zfs-sync/testkit/stack';
import { startWorkers, type RunningWorkers } from '@zfs-sync/workers';

/*
 * Issue 7: plans that stay right while the fleet keeps living. Each test below reproduces one of
 * the defects seen in the field with the original cron client (batches, no guids, no status
 * reports) or the black-box run, and asserts what a host and an operator see.
 */

let stack: TestStack;
let api: TestApi;
const admin = TEST_ADMIN_TOKEN;
const T0 = 1_700_000_000;

// Short leases, a fast sweep and a short legacy window, so time-driven behaviour is observable.
// Tests that stop and restart the workers are serial (ava runs them first, one at a time).
const CONFIG = { instruction_offer_seconds: 2, instruction_lease_seconds: 4, sync_sweep_seconds: 1, legacy_stale_after_seconds: 3 };

test.before(async () => {
  stack = await startTestStack(CONFIG);
  api = stack.api;
});
test.after.always(async () => {
  await stack?.stop();
});

const links = (groupId: string) => api.request('GET', `/sync/groups/${groupId}/links`, { key: admin }).then((r) => r.body as any[]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the original shell client sends: its whole `zfs list`, as `/snapshots/batch` items, no guids. */
async function legacyBatch(sys: RegisteredSystem, pool: string, dataset: string, names: string[]) {
  const items = names.map((name, i) => ({ name, pool, dataset: `${pool}/${dataset}`, timestamp: new Date((T0 + Number(name.replace(/\D/g, '') || i) * 60) * 1000).toISOString(), size: '4096', system_id: sys.id }));
  const res = await api.request('POST', '/snapshots/batch', { key: sys.api_key, body: items });
  if (res.status !== 202) throw new Error(`batch refused: ${res.status} ${res.text}`);
  const done = await waitForReport(api, sys.api_key, reportIdOf(res));
  if (done.status !== 'applied') throw new Error(JSON.stringify(done));
  return res;
}

async function hubAndSpoke(name: string, extra: Record<string, unknown> = {}) {
  const hub = await registerSystem(api, undefined, { ssh_hostname: `hub-${name}.example` });
  const spoke = await registerSystem(api, undefined, { ssh_hostname: `spoke-${name}.example` });
  return { hub, spoke, create: () => api.request('POST', '/sync-groups', { key: admin, body: { name: `${name}-${hub.id}`, directional: true, hub_system_id: hub.id, system_ids: [hub.id, spoke.id], ...extra } }) };
}

/** The live plan of a link, as the store holds it (the one the executor will be handed). */
async function livePlan(groupId: string) {
  const { rows } = await pgQuery(
    stack.env.db.url,
    `select i.id, i.status, i.plan from sync_links l join sync_instructions i on i.id = l.instruction_id where l.group_id = $1`,
    [groupId],
  );
  return rows[0] as { id: string; status: string; plan: { startingSnapshot: string | null; endingSnapshot: string; isIncremental: boolean; commands: string[] } } | undefined;
}

test('point 1: a guid-less hub that keeps taking snapshots gets the new plan, not the one it was handed before', async (t) => {
  const { hub, spoke, create } = await hubAndSpoke('stale');
  await legacyBatch(hub, 'tank', 'data', ['s1', 's2']);
  await legacyBatch(spoke, 'backupB', 'data', ['s1']);
  const group = (await create()).body;
  await eventually(() => livePlan(group.id), (p) => p?.plan.endingSnapshot === 's2');
  // The original client fetches and runs, but never reports a status.
  const first = await api.request('GET', `/sync/instructions/${hub.id}`, { key: hub.api_key });
  t.is(first.body.dataset_count, 1);
  t.like(first.body.datasets[0], { starting_snapshot: 's1', ending_snapshot: 's2' });

  // The hub takes another snapshot before the spoke has reported anything new.
  await legacyBatch(hub, 'tank', 'data', ['s1', 's2', 's3']);
  const plan = await eventually(() => livePlan(group.id), (p) => p?.plan.endingSnapshot === 's3');
  t.like(plan?.plan, { startingSnapshot: 's1', endingSnapshot: 's3', isIncremental: true });
  const [link] = await links(group.id);
  t.like(link, { verdict: 'behind', matched_by: 'name' });
  t.regex(link.explanation, /matched by name/);
});

test('point 1: a full send is never kept for a target that now has the dataset', async (t) => {
  const { hub, spoke, create } = await hubAndSpoke('seeded');
  await legacyBatch(hub, 'tank', 'vm', ['s1']);
  const group = (await create()).body;
  const full = await eventually(() => livePlan(group.id), (p) => p !== undefined);
  t.false(full?.plan.isIncremental);
  t.is((await api.request('GET', `/sync/instructions/${hub.id}`, { key: hub.api_key })).body.dataset_count, 1);
  // The hub moved on, then the seed arrived (the cron client does not say so).
  await legacyBatch(hub, 'tank', 'vm', ['s1', 's2']);
  await legacyBatch(spoke, 'backupB', 'vm', ['s1']);
  const plan = await eventually(() => livePlan(group.id), (p) => p?.plan.isIncremental === true);
  t.like(plan?.plan, { startingSnapshot: 's1', endingSnapshot: 's2', isIncremental: true });
  t.notRegex(plan!.plan.commands.join('\n'), /-F/);
});

test.serial('point 1: at hand-out a plan is checked against the latest applied inventories', async (t) => {
  const { hub, spoke, create } = await hubAndSpoke('handout');
  const snaps = syntheticSnapshots(3, { seed: 71 });
  await reportInventory(api, hub, [{ pool: 'tank', dataset: 'db', snapshots: snaps }]);
  await reportInventory(api, spoke, [{ pool: 'backupB', dataset: 'db', snapshots: snaps.slice(0, 1) }]);
  const group = (await create()).body;
  await eventually(() => livePlan(group.id), (p) => p?.plan.endingSnapshot === 'auto-2');

  // Only the reconcile processor runs now: inventories apply, but no recompute replaces the plan.
  await stack.workers.stop(5000);
  const reconcileOnly: RunningWorkers = await startWorkers(stack.env.config({ ...CONFIG, worker_processors: ['reconcile'] }), createLogger('t', stack.env.config()));
  let restarted: RunningWorkers | null = null;
  try {
    // The spoke got auto-1 by other means: the plan's base is no longer its newest snapshot.
    await reportInventory(api, spoke, [{ pool: 'backupB', dataset: 'db', snapshots: snaps.slice(0, 2) }]);
    const handed = await api.request('GET', `/sync/instructions/${hub.id}?include_diagnostics=true`, { key: hub.api_key });
    t.is(handed.body.dataset_count, 0, JSON.stringify(handed.body.datasets));
    t.regex(handed.body.diagnostics[0].reason, /withheld/);
    await reconcileOnly.stop(5000);
    restarted = await startWorkers(stack.env.config(CONFIG), createLogger('t', stack.env.config()));
    const plan = await eventually(() => livePlan(group.id), (p) => p?.plan.startingSnapshot === 'auto-1');
    t.like(plan?.plan, { startingSnapshot: 'auto-1', endingSnapshot: 'auto-2' });
    t.is((await api.request('GET', `/sync/instructions/${hub.id}`, { key: hub.api_key })).body.dataset_count, 1);
  } finally {
    await reconcileOnly.stop(5000).catch(() => {});
    stack.workers = restarted ?? (await startWorkers(stack.env.config(CONFIG), createLogger('t', stack.env.config())));
  }
});

test('point 2: a failed transfer puts the link back to its computed verdict, with the error and the backoff', async (t) => {
  const { hub, create } = await hubAndSpoke('failed');
  await reportInventory(api, hub, [{ pool: 'tank', dataset: 'mail', snapshots: syntheticSnapshots(2, { seed: 72 }) }]);
  const group = (await create()).body;
  await eventually(() => livePlan(group.id), (p) => p !== undefined);
  const id = (await api.request('GET', `/sync/instructions/${hub.id}`, { key: hub.api_key })).body.datasets[0].instruction_id;
  t.is((await api.request('POST', `/sync/instructions/${id}/status`, { key: hub.api_key, body: { status: 'started' } })).status, 200);
  t.is((await eventually(() => links(group.id), (l) => l[0]?.verdict === 'syncing'))[0].verdict, 'syncing');
  const failed = await api.request('POST', `/sync/instructions/${id}/status`, { key: hub.api_key, body: { status: 'failed', error: 'cannot receive: out of space' } });
  t.is(failed.status, 200, failed.text);
  const [link] = await eventually(() => links(group.id), (l) => l[0]?.verdict !== 'syncing' && l[0]?.next_attempt_at);
  t.like(link, { verdict: 'not_seeded', computed_verdict: 'not_seeded', consecutive_failures: 1, last_error: 'cannot receive: out of space' });
  const backoff = Date.parse(link.next_attempt_at) - Date.now();
  t.true(backoff > 30_000 && backoff <= 60_000, `backoff ${backoff} ms`);
});

test('point 3: a plan handed out but never started is offered again after the short offer lease; started takes the long lease', async (t) => {
  const { hub, create } = await hubAndSpoke('lease');
  await reportInventory(api, hub, [{ pool: 'tank', dataset: 'www', snapshots: syntheticSnapshots(2, { seed: 73 }) }]);
  const group = (await create()).body;
  await eventually(() => livePlan(group.id), (p) => p !== undefined);
  const get = () => api.request('GET', `/sync/instructions/${hub.id}`, { key: hub.api_key }).then((r) => r.body);
  const first = await get();
  t.is(first.dataset_count, 1);
  t.is((await get()).dataset_count, 0, 'an overlapping run does not get it twice');
  // The host died before starting: the plan comes back after the offer lease (2 s), not an hour later.
  await sleep(2200);
  const again = await get();
  t.is(again.dataset_count, 1);
  const id = again.datasets[0].instruction_id;
  t.is(id, first.datasets[0].instruction_id);
  // started takes the long lease (4 s), and progress renews it.
  await api.request('POST', `/sync/instructions/${id}/status`, { key: hub.api_key, body: { status: 'started' } });
  await sleep(2500);
  t.is((await get()).dataset_count, 0, 'a started transfer is not handed out again');
  await api.request('POST', `/sync/instructions/${id}/status`, { key: hub.api_key, body: { status: 'progress', bytes_transferred: 1024 } });
  await sleep(2500);
  t.is((await get()).dataset_count, 0, 'progress renewed the lease');
  // Nothing reported for longer than the lease: offerable again, and the link says why.
  await sleep(2000);
  const [link] = await eventually(() => links(group.id), (l) => /reported nothing since/.test(l[0]?.explanation ?? ''));
  t.regex(link.explanation, /transfer started at .* reported nothing since/);
  t.not(link.verdict, 'syncing');
  t.is((await get()).dataset_count, 1);
});

test('point 4: snapshots a batch-only client stops re-reporting leave its view; full-inventory systems are exempt', async (t) => {
  const { hub, spoke, create } = await hubAndSpoke('legacy');
  await legacyBatch(hub, 'tank', 'logs', ['s1', 's2', 's3']);
  await legacyBatch(spoke, 'backupB', 'logs', ['s1', 's2', 's3']);
  const group = (await create()).body;
  t.is((await eventually(() => links(group.id), (l) => l[0]?.verdict === 'in_sync'))[0]?.verdict, 'in_sync');
  // Every cron run re-sends the whole list; s1 and s2 were pruned on the hub.
  const end = Date.now() + 5000;
  while (Date.now() < end) {
    await legacyBatch(hub, 'tank', 'logs', ['s3', 's4']);
    await legacyBatch(spoke, 'backupB', 'logs', ['s1', 's2', 's3']);
    await sleep(400);
  }
  const listed = await eventually(
    () => api.request('GET', `/snapshots/system/${hub.id}`, { key: admin }).then((r) => (r.body as Array<{ name: string }>).map((s) => s.name).sort()),
    (names) => names.length === 2,
  );
  t.deepEqual(listed, ['s3', 's4']);
  const gone = await pgQuery(stack.env.db.url, `select name, gone_reason from snapshots_gone where system_id = $1 order by name`, [hub.id]);
  t.deepEqual(gone.rows, [
    { name: 's1', gone_reason: 'not_re_reported' },
    { name: 's2', gone_reason: 'not_re_reported' },
  ]);
  // The link was recomputed from the pruned view: the spoke needs s4, from base s3.
  const [link] = await eventually(() => links(group.id), (l) => l[0]?.verdict === 'behind');
  t.like(link, { verdict: 'behind', base: { name: 's3' } });

  // A system that has sent a full inventory is never subject to the rule.
  const full = await registerSystem(api);
  await reportInventory(api, full, [{ pool: 'tank', dataset: 'logs', snapshots: syntheticSnapshots(3, { seed: 74 }) }]);
  const end2 = Date.now() + 4500;
  while (Date.now() < end2) {
    const items = [{ name: 'auto-2', pool: 'tank', dataset: 'tank/logs', timestamp: new Date((T0 + 120) * 1000).toISOString(), size: '1', system_id: full.id }];
    t.is((await api.request('POST', '/snapshots/batch', { key: full.api_key, body: items })).status, 202);
    await sleep(400);
  }
  await sleep(1500);
  const kept = (await api.request('GET', `/snapshots/system/${full.id}`, { key: admin })).body.map((s: { name: string }) => s.name).sort();
  t.deepEqual(kept, ['auto-0', 'auto-1', 'auto-2']);
});

test('point 5: a refused chunk stores nothing, and the right chunk is accepted afterwards', async (t) => {
  const sys = await registerSystem(api);
  const snaps = syntheticSnapshots(4, { seed: 75 });
  const chunk = (index: number, count: number, part: typeof snaps) => inventory('chunky', 5, [{ pool: 'tank', dataset: 'c', snapshots: part }], { chunk: { index, count } });
  const post = (body: unknown) => api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body });
  t.is((await post(chunk(0, 2, snaps.slice(0, 2)))).status, 202);
  const wrong = await post(chunk(1, 3, snaps.slice(2)));
  t.is(wrong.status, 409, wrong.text);
  const right = await post(chunk(1, 2, snaps.slice(2)));
  t.is(right.status, 202, right.text);
  const done = await waitForReport(api, sys.api_key, 'chunky');
  t.is(done.status, 'applied');
  t.is(done.counts.added, 4);
});

test.serial('point 6: status reports and confirmed resolutions are recorded by the API and carried out by the recompute processor', async (t) => {
  const { hub, spoke, create } = await hubAndSpoke('writer');
  const snaps = syntheticSnapshots(4, { seed: 76 });
  await reportInventory(api, hub, [{ pool: 'tank', dataset: 'proj', snapshots: snaps }]);
  await reportInventory(api, spoke, [{ pool: 'backupB', dataset: 'proj', snapshots: [...snaps.slice(0, 2), { name: 'local', guid: '4242', createtxg: '99999', creation: T0 + 999_999 }] }]);
  const group = (await create()).body;
  const [link] = await eventually(() => links(group.id), (l) => l[0]?.conflict_id);
  t.is(link.verdict, 'diverged');

  await stack.workers.stop(5000);
  let restarted: RunningWorkers | null = null;
  try {
    const dry = await api.request('POST', `/conflicts/${link.conflict_id}/resolve`, { key: admin, body: { strategy: 'rollback_target' } });
    t.is(dry.status, 409);
    t.deepEqual(dry.body.would_destroy, ['local']);
    const ok = await api.request('POST', `/conflicts/${link.conflict_id}/resolve`, { key: admin, body: { strategy: 'rollback_target', confirm: true } });
    t.is(ok.status, 202, ok.text);
    t.like(ok.body, { resolution: { strategy: 'rollback_target', status: 'pending' }, would_destroy: ['local'] });
    // Recorded, not carried out: no plan and no link change without the processor.
    t.is((await api.request('GET', `/sync/instructions/${hub.id}`, { key: hub.api_key })).body.dataset_count, 0);
    t.like((await links(group.id))[0], { verdict: 'diverged', instruction_id: null });
    restarted = await startWorkers(stack.env.config(CONFIG), createLogger('t', stack.env.config()));
    const c = await eventually(() => api.request('GET', `/conflicts/${link.conflict_id}`, { key: admin }).then((r) => r.body), (b) => b.resolution?.instruction_id);
    t.like(c, { resolution: { strategy: 'rollback_target', confirmed: true } });
    const handed = await api.request('GET', `/sync/instructions/${hub.id}`, { key: hub.api_key });
    t.like(handed.body.datasets[0], { kind: 'remedy', strategy: 'rollback_target', instruction_id: c.resolution.instruction_id });

    // A status report changes no link by itself; the processor turns it into the link's state.
    await restarted.stop(5000);
    restarted = null;
    const id = c.resolution.instruction_id;
    t.is((await api.request('POST', `/sync/instructions/${id}/status`, { key: hub.api_key, body: { status: 'started' } })).status, 200);
    t.not((await links(group.id))[0].verdict, 'syncing');
    restarted = await startWorkers(stack.env.config(CONFIG), createLogger('t', stack.env.config()));
    t.is((await eventually(() => links(group.id), (l) => l[0]?.verdict === 'syncing'))[0].verdict, 'syncing');
  } finally {
    stack.workers = restarted ?? (await startWorkers(stack.env.config(CONFIG), createLogger('t', stack.env.config())));
  }
});

test('point 7: the batch endpoint answers a JSON array of what it accepted, with the report in Location', async (t) => {
  const sys = await registerSystem(api);
  const items = ['a', 'b', 'c', 'd'].map((name, i) => ({ name, pool: 'tank', dataset: 'tank/x', timestamp: new Date((T0 + i) * 1000).toISOString(), size: String(i), system_id: sys.id }));
  const res = await api.request('POST', '/snapshots/batch', { key: sys.api_key, body: items });
  t.is(res.status, 202, res.text);
  t.true(Array.isArray(res.body));
  t.is(res.body.length, 4);
  t.like(res.body[0], { name: 'a', pool: 'tank', dataset: 'x', system_id: sys.id });
  const location = res.headers.get('location');
  t.regex(location ?? '', /\/api\/v1\/reports\/[A-Za-z0-9._-]+/);
  const report = await api.request('GET', new URL(location!, 'http://x').pathname.replace('/api/v1', ''), { key: sys.api_key });
  t.is(report.status, 200, report.text);

  // An epoch in a string is refused with a message that says what is accepted.
  const epoch = await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('epoch', 1, [{ pool: 'tank', dataset: 'x', snapshots: [{ name: 'e', guid: '1', createtxg: '1', creation: '1700000000' }] }]) });
  t.is(epoch.status, 400);
  t.regex(epoch.body.detail, /Unix seconds.*ISO 8601|ISO 8601.*Unix seconds/);
});

test('initial replication "all": a new replica gets the whole history (full send of the oldest, then -I to the newest)', async (t) => {
  const { hub, create } = await hubAndSpoke('history', { initial_replication: 'all' });
  await reportInventory(api, hub, [{ pool: 'tank', dataset: 'hist', snapshots: syntheticSnapshots(4, { seed: 77 }) }]);
  const group = await create();
  t.is(group.status, 201, group.text);
  t.is(group.body.initial_replication, 'all');
  const plan = await eventually(() => livePlan(group.body.id), (p) => p !== undefined);
  t.deepEqual(plan?.plan.commands, [
    `zfs send -c tank/hist@auto-0 | ssh spoke-history.example 'zfs receive -s tank/hist'`,
    `zfs send -c -I tank/hist@auto-0 tank/hist@auto-3 | ssh spoke-history.example 'zfs receive -s tank/hist'`,
  ]);
});
