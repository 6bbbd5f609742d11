import test from 'ava';
import { EVENT_DATA_SCHEMAS, compile } from '@zfs-sync/contracts';
import { pgQuery } from '@zfs-sync/testkit';
import { TEST_ADMIN_TOKEN, eventually, registerSystem, reportInventory, startTestStack, syntheticSnapshots, type RegisteredSystem, type TestStack } from '@zfs-sync/testkit/stack';

/**
 * The events the recompute engine and the feedback loop emit (issue 10), in their transactions:
 * link.state_changed with flapping protection, link.lag_exceeded, conflict.opened/resolved,
 * sync.started/succeeded/failed.
 */
const admin = TEST_ADMIN_TOKEN;
let stack: TestStack;

test.before(async () => {
  stack = await startTestStack({ events_flap_window_seconds: 3600 });
});
test.after.always(async () => {
  await stack?.stop();
});

const api = () => stack.api;
const events = async (type: string, match: (d: any) => boolean = () => true) =>
  ((await api().request('GET', `/events?types=${type}&limit=1000`, { key: admin })).body.items as any[]).filter((e) => match(e.data)).map((e) => e.data);
const linkOf = async (groupId: string, target: string) => ((await api().request('GET', `/sync/groups/${groupId}/links`, { key: admin })).body as any[]).find((l) => l.target_system_id === target);
const verdictBecomes = (groupId: string, target: string, verdict: string) => eventually(() => linkOf(groupId, target), (l) => l?.verdict === verdict);
const transitions = async (groupId: string) => (await pgQuery(stack.env.db.url, `select from_verdict, to_verdict from link_transitions where group_id = $1 order by at, id`, [groupId])).rows;

async function pair(name: string, body: Record<string, unknown> = {}): Promise<{ hub: RegisteredSystem; t: RegisteredSystem; groupId: string }> {
  const hub = await registerSystem(api(), `${name}-hub-${process.pid}.test`);
  const t = await registerSystem(api(), `${name}-t-${process.pid}.test`);
  const g = await api().request('POST', '/sync-groups', { key: admin, body: { name: `${name}-${process.pid}`, directional: true, hub_system_id: hub.id, system_ids: [hub.id, t.id], ...body } });
  if (g.status !== 201) throw new Error(g.text);
  return { hub, t, groupId: g.body.id };
}

test.serial('a flapping link emits at most one link.state_changed per direction within the window; every transition is still recorded', async (t) => {
  const snaps = syntheticSnapshots(10, { seed: 601 });
  const { hub, t: target, groupId } = await pair('flap');
  await reportInventory(api(), hub, [{ pool: 'tank', dataset: 'flap', snapshots: snaps.slice(0, 3) }]);
  await reportInventory(api(), target, [{ pool: 'tank', dataset: 'flap', snapshots: snaps.slice(0, 3) }]);
  await verdictBecomes(groupId, target.id, 'in_sync');
  // Back and forth three times.
  for (let n = 4; n <= 6; n++) {
    await reportInventory(api(), hub, [{ pool: 'tank', dataset: 'flap', snapshots: snaps.slice(0, n) }]);
    await verdictBecomes(groupId, target.id, 'behind');
    await reportInventory(api(), target, [{ pool: 'tank', dataset: 'flap', snapshots: snaps.slice(0, n) }]);
    await verdictBecomes(groupId, target.id, 'in_sync');
  }
  const recorded = (await transitions(groupId)).map((r) => `${r.from_verdict}>${r.to_verdict}`);
  t.true(recorded.filter((x) => x === 'in_sync>behind').length >= 3, recorded.join(' '));
  const emitted = await eventually(
    async () => (await events('link.state_changed', (d) => d.group_id === groupId)).map((d) => `${d.from}>${d.to}`),
    (e) => e.includes('behind>in_sync'),
  );
  const counts = emitted.reduce<Record<string, number>>((acc, d) => ({ ...acc, [d]: (acc[d] ?? 0) + 1 }), {});
  t.log(`recorded transitions: ${recorded.length}; emitted: ${JSON.stringify(counts)}`);
  for (const [direction, n] of Object.entries(counts)) t.is(n, 1, `${direction}: one event in the window`);
  t.is(counts['in_sync>behind'], 1);
  t.is(counts['behind>in_sync'], 1);
});

test.serial('link.lag_exceeded once when the lag crosses max_lag_seconds; conflict.opened and conflict.resolved; sync.started/succeeded/failed', async (t) => {
  const snaps = syntheticSnapshots(10, { seed: 602 });
  const { hub, t: target, groupId } = await pair('lag', { max_lag_seconds: 100 });
  await reportInventory(api(), hub, [{ pool: 'tank', dataset: 'lag', snapshots: snaps.slice(0, 3) }]);
  await reportInventory(api(), target, [{ pool: 'tank', dataset: 'lag', snapshots: snaps.slice(0, 3) }]);
  await verdictBecomes(groupId, target.id, 'in_sync');
  // One snapshot behind: 60 s, within the maximum. Three behind: 180 s, beyond it.
  await reportInventory(api(), hub, [{ pool: 'tank', dataset: 'lag', snapshots: snaps.slice(0, 4) }]);
  await verdictBecomes(groupId, target.id, 'behind');
  t.deepEqual(await events('link.lag_exceeded', (d) => d.group_id === groupId), []);
  await reportInventory(api(), hub, [{ pool: 'tank', dataset: 'lag', snapshots: snaps.slice(0, 6) }]);
  await verdictBecomes(groupId, target.id, 'out_of_sync');
  const exceeded = await eventually(() => events('link.lag_exceeded', (d) => d.group_id === groupId), (e) => e.length > 0, 10_000);
  t.like(exceeded[0], { dataset: 'lag', source_system_id: hub.id, target_system_id: target.id, lag_seconds: 180, max_lag_seconds: 100, previous_lag_seconds: 60 });
  await reportInventory(api(), hub, [{ pool: 'tank', dataset: 'lag', snapshots: snaps.slice(0, 7) }]);
  await eventually(() => linkOf(groupId, target.id), (l) => l.lag_seconds === 240);
  t.is((await events('link.lag_exceeded', (d) => d.group_id === groupId)).length, 1, 'still beyond: no second event');

  // The host runs the plan: started, then failed; then succeeded.
  const handed = await api().request('GET', `/sync/instructions/${hub.id}`, { key: hub.api_key });
  const id = handed.body.datasets[0].instruction_id as string;
  const status = (body: object) => api().request('POST', `/sync/instructions/${id}/status`, { key: hub.api_key, body });
  t.is((await status({ status: 'started' })).status, 200);
  t.is((await status({ status: 'progress', bytes_transferred: '18446744073709551615' })).status, 200);
  t.is((await status({ status: 'failed', error: 'cannot receive: pool is full' })).status, 200);
  const sync = await eventually(() => events('sync.started,sync.failed,sync.succeeded', (d) => d.instruction_id === id), (e) => e.length >= 2, 10_000);
  t.like(sync.find((d) => d.error), { instruction_id: id, group_id: groupId, dataset: 'lag', executor_system_id: hub.id, error: 'cannot receive: pool is full', consecutive_failures: 1, bytes_transferred: '18446744073709551615' });
  const types = ((await api().request('GET', `/events?types=sync.started,sync.failed,sync.succeeded&limit=1000`, { key: admin })).body.items as any[]).filter((e) => e.data.instruction_id === id).map((e) => e.type);
  t.deepEqual(types, ['sync.started', 'sync.failed'], 'progress reports emit nothing');
  // The host tries again and succeeds.
  t.is((await status({ status: 'started' })).status, 200);
  t.is((await status({ status: 'succeeded', bytes_transferred: 4096 })).status, 200);
  const succeeded = await eventually(() => events('sync.succeeded', (d) => d.instruction_id === id), (e) => e.length > 0, 10_000);
  t.like(succeeded[0], { instruction_id: id, bytes_transferred: '4096', kind: 'transfer' });

  // A target with a snapshot of its own: diverged, a conflict opens; the target drops it: resolved.
  const own = { ...syntheticSnapshots(1, { seed: 603, prefix: 'local' })[0]!, createtxg: '9000', creation: snaps[6]!.creation + 30 };
  await reportInventory(api(), target, [{ pool: 'tank', dataset: 'lag', snapshots: [...snaps.slice(0, 3), own] }]);
  const opened = await eventually(() => events('conflict.opened', (d) => d.group_id === groupId), (e) => e.length > 0, 15_000);
  t.like(opened[0], { dataset: 'lag', source_system_id: hub.id, target_system_id: target.id });
  t.truthy(opened[0].conflict_id);
  await reportInventory(api(), target, [{ pool: 'tank', dataset: 'lag', snapshots: snaps.slice(0, 7) }]);
  const resolved = await eventually(() => events('conflict.resolved', (d) => d.conflict_id === opened[0].conflict_id), (e) => e.length > 0, 15_000);
  t.like(resolved[0], { status: 'resolved', automatic: true });
});

test.serial('every event in the log matches the data schema of its type (libs/contracts)', async (t) => {
  const validators = new Map(Object.entries(EVENT_DATA_SCHEMAS).map(([type, schema]) => [type, compile(schema)]));
  const items = (await stack.api.request('GET', '/events?after=0&limit=1000', { key: TEST_ADMIN_TOKEN })).body.items as any[];
  t.true(items.length > 0);
  const types = new Set<string>();
  for (const e of items) {
    const check = validators.get(e.type);
    t.truthy(check, `${e.type} has a schema`);
    const v = check!(e.data);
    t.true(v.ok, `${e.type}: ${v.ok ? '' : JSON.stringify(v.error)} in ${JSON.stringify(e.data)}`);
    types.add(e.type);
  }
  t.log(`checked ${items.length} events of ${types.size} types: ${[...types].sort().join(', ')}`);
});
