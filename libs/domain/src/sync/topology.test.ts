import test from 'ava';
import { buildTransferPlan } from './commands.js';
import { absent, byDataset, guidOf, host, HOUR, member, NOW, policy, series, snap, type SnapSpec } from './test-fixtures.js';
import { planGroupLinks, type PlannedLink } from './topology.js';
import type { HostDatasetView, SyncGroupPolicy } from './types.js';

const [a, b, c, d, e] = series('auto-', 5);
const hubMembers = [member('hub'), member('spoke1'), member('spoke2')];

function plan(p: SyncGroupPolicy, views: HostDatasetView[], members = hubMembers): PlannedLink[] {
  return planGroupLinks({ policy: p, members, datasetViews: byDataset(...views), now: NOW });
}

const summary = (links: PlannedLink[]): string[] => links.map((l) => `${l.dataset}:${l.sourceSystemId}->${l.targetSystemId}:${l.verdict.verdict}`);
const hubPolicy = (overrides: Partial<SyncGroupPolicy> = {}) => policy({ directional: true, hubSystemId: 'hub', ...overrides });

// ---------------------------------------------------------------------------------------------
// Hub-and-spoke

test('a hub with two lagging spokes gets two links (the original told it about one)', (t) => {
  const links = plan(hubPolicy(), [host('hub', [a!, b!, c!, d!, e!]), host('spoke1', [a!, b!, c!]), host('spoke2', [a!, b!])]);
  t.deepEqual(summary(links), ['data:hub->spoke1:behind', 'data:hub->spoke2:behind']);
  t.true(links.every((l) => l.executorSystemId === 'hub'));
  const plans = links.map((l) => buildTransferPlan(l, { policy: hubPolicy(), members: hubMembers }));
  t.deepEqual(plans.map((p) => p?.startingSnapshot), ['auto-2', 'auto-1']);
  t.deepEqual(plans.map((p) => p?.endingSnapshot), ['auto-4', 'auto-4']);
});

test('a spoke never receives a hub-side command', (t) => {
  const views = [host('hub', [a!, b!, c!]), host('spoke1', [a!]), absent('spoke2')];
  for (const mode of ['push', 'pull'] as const) {
    const p = hubPolicy({ transferMode: mode });
    const plans = plan(p, views).map((l) => buildTransferPlan(l, { policy: p, members: hubMembers })!);
    for (const spoke of ['spoke1', 'spoke2']) {
      const own = plans.filter((x) => x.executorSystemId === spoke);
      if (mode === 'push') {
        t.deepEqual(own, [], 'in push mode only the hub runs anything');
      } else {
        // In pull mode a spoke runs exactly its own receive, sending over ssh from the hub.
        t.is(own.length, 1);
        t.is(own[0]!.targetSystemId, spoke);
        t.regex(own[0]!.commands[0]!, /^ssh hub\.example\.net 'zfs send .*' \| zfs receive -s tank\/data$/);
      }
    }
    const hubRuns = plans.filter((x) => x.executorSystemId === 'hub');
    t.is(hubRuns.length, mode === 'push' ? 2 : 0);
    for (const x of hubRuns) t.regex(x.commands[0]!, /^zfs send .* \| ssh spoke\d\.example\.net 'zfs receive -s tank\/data'$/);
  }
});

test('spokes never replicate to each other, even when one is ahead of the other', (t) => {
  const links = plan(hubPolicy(), [host('hub', [a!, b!]), host('spoke1', [a!, b!, c!]), host('spoke2', [a!])]);
  t.true(links.every((l) => l.sourceSystemId === 'hub'));
  // spoke1 holds auto-2, which the hub lacks: that is its divergence from the hub, not a source for spoke2.
  t.deepEqual(summary(links), ['data:hub->spoke1:diverged', 'data:hub->spoke2:behind']);
});

test('a spoke with its own newer snapshots is diverged from the hub', (t) => {
  const links = plan(hubPolicy(), [host('hub', [a!, b!, c!]), host('spoke1', [a!, snap('local', 10)]), host('spoke2', [a!, b!, c!])]);
  t.deepEqual(summary(links), ['data:hub->spoke1:diverged', 'data:hub->spoke2:in_sync']);
  t.deepEqual(links[0]!.verdict.targetOnly.items, ['local']);
});

test('an empty or absent hub dataset produces nothing', (t) => {
  t.deepEqual(plan(hubPolicy(), [host('hub', []), host('spoke1', [a!]), absent('spoke2')]), []);
  t.deepEqual(plan(hubPolicy(), [absent('hub'), host('spoke1', [a!])]), []);
  t.deepEqual(plan(hubPolicy(), [host('spoke1', [a!, b!])]), []);
});

test('a hub that is not a member, or no hub, produces nothing', (t) => {
  const views = [host('hub', [a!]), absent('spoke1')];
  t.deepEqual(plan(hubPolicy({ hubSystemId: 'stranger' }), views), []);
  t.deepEqual(plan(hubPolicy({ hubSystemId: null }), views), []);
});

test('a disabled group produces nothing', (t) => {
  const views = [host('hub', [a!, b!]), host('spoke1', [a!])];
  t.deepEqual(plan(hubPolicy({ enabled: false }), views), []);
  t.deepEqual(plan(policy({ enabled: false }), views), []);
});

test('different pool names: datasets match by path relative to the pool', (t) => {
  const links = plan(hubPolicy(), [
    host('hub', [a!, b!, c!], { pool: 'tank' }),
    host('spoke1', [a!], { pool: 'backup', txgBase: 77 }),
    host('spoke2', [a!, b!, c!], { pool: 'rpool' }),
  ]);
  t.deepEqual(summary(links), ['data:hub->spoke1:behind', 'data:hub->spoke2:in_sync']);
  t.deepEqual(links.map((l) => [l.sourcePool, l.targetPool]), [['tank', 'backup'], ['tank', 'rpool']]);
  const p = buildTransferPlan(links[0]!, { policy: hubPolicy(), members: hubMembers })!;
  t.is(p.commands[0], "zfs send -c -I tank/data@auto-0 tank/data@auto-2 | ssh spoke1.example.net 'zfs receive -s backup/data'");
});

test('a not-seeded target goes to target_pools[target], else to the source pool', (t) => {
  const links = plan(hubPolicy({ targetPools: { spoke1: 'vault' } }), [host('hub', [a!], { pool: 'tank' })]);
  t.deepEqual(summary(links), ['data:hub->spoke1:not_seeded', 'data:hub->spoke2:not_seeded']);
  t.deepEqual(links.map((l) => l.targetPool), ['vault', 'tank']);
  t.true(links.every((l) => !l.targetPresent));
});

test('nested datasets are planned separately and keep their pool', (t) => {
  const views = [
    host('hub', [a!, b!], { pool: 'tank', dataset: 'home' }),
    host('hub', [a!, b!], { pool: 'tank', dataset: 'home/alice' }),
    host('hub', [a!, b!], { pool: 'tank', dataset: 'home/alice/docs' }),
    host('spoke1', [a!], { pool: 'backup', dataset: 'home' }),
    host('spoke1', [a!], { pool: 'backup', dataset: 'home/alice' }),
    host('spoke1', [a!, b!], { pool: 'backup', dataset: 'home/alice/docs' }),
  ];
  const links = plan(hubPolicy(), views, [member('hub'), member('spoke1')]);
  t.deepEqual(summary(links), ['home:hub->spoke1:behind', 'home/alice:hub->spoke1:behind', 'home/alice/docs:hub->spoke1:in_sync']);
  const p = buildTransferPlan(links[1]!, { policy: hubPolicy(), members: hubMembers })!;
  t.is(p.commands[0], "zfs send -c -I tank/home/alice@auto-0 tank/home/alice@auto-1 | ssh spoke1.example.net 'zfs receive -s backup/home/alice'");
  t.is(p.dataset, 'home/alice');
  t.is(p.pool, 'tank');
});

test('dataset include/exclude globs select what is planned', (t) => {
  const views = [
    host('hub', [a!], { dataset: 'home/alice' }),
    host('hub', [a!], { dataset: 'home/alice/cache' }),
    host('hub', [a!], { dataset: 'var/log' }),
  ];
  const links = plan(hubPolicy({ datasets: { include: ['home/**'], exclude: ['**/cache'] } }), views, [member('hub'), member('spoke1')]);
  t.deepEqual(summary(links), ['home/alice:hub->spoke1:not_seeded']);
});

test('a member holding the same path in two pools: target_pools picks the group copy', (t) => {
  const views = [
    host('hub', [a!, b!], { pool: 'tank' }),
    host('spoke1', [snap('unrelated', 50)], { pool: 'apool' }),
    host('spoke1', [a!], { pool: 'backup' }),
  ];
  const members = [member('hub'), member('spoke1')];
  const [preferred] = plan(hubPolicy({ targetPools: { spoke1: 'backup' } }), views, members);
  t.is(preferred!.targetPool, 'backup');
  t.is(preferred!.verdict.verdict, 'behind');
  const [fallback] = plan(hubPolicy(), views, members);
  t.is(fallback!.targetPool, 'apool', 'without a preference the first pool by name, deterministically');
});

test('views of systems that are not members are ignored', (t) => {
  const links = plan(hubPolicy(), [host('hub', [a!, b!]), host('outsider', [a!]), host('spoke1', [a!, b!])]);
  t.false(links.some((l) => l.sourceSystemId === 'outsider' || l.targetSystemId === 'outsider'));
});

test('the target resume token is carried on links that transfer', (t) => {
  const links = plan(hubPolicy(), [host('hub', [a!, b!]), host('spoke1', [a!], { receiveResumeToken: '1-aa-bb' }), host('spoke2', [a!, b!], { receiveResumeToken: '1-cc-dd' })]);
  t.is(links[0]!.resumeToken, '1-aa-bb');
  t.is(links[1]!.resumeToken, null, 'an in-sync link has nothing to resume');
});

// ---------------------------------------------------------------------------------------------
// Mesh

const meshMembers = [member('A'), member('B'), member('C')];
const mesh = (overrides: Partial<SyncGroupPolicy> = {}) => policy({ directional: false, ...overrides });

test('mesh of three: the most advanced member feeds the others and gets no incoming link', (t) => {
  const links = plan(mesh(), [host('A', [a!, b!, c!, d!, e!], { pool: 'tank' }), host('B', [a!, b!, c!], { pool: 'backup' }), absent('C')], meshMembers);
  t.deepEqual(summary(links), ['data:A->B:behind', 'data:A->C:not_seeded']);
  t.is(links[0]!.targetPool, 'backup');
  t.is(links[1]!.targetPool, 'tank', 'a not-seeded target defaults to the source pool');
});

test('mesh: the source is the member furthest ahead among those whose chain the target extends', (t) => {
  const links = plan(mesh(), [host('A', [a!, b!, c!, d!]), host('B', [a!, b!]), host('C', [a!, b!, c!, d!, e!])], meshMembers);
  t.deepEqual(summary(links), ['data:C->A:behind', 'data:C->B:behind']);
});

test('mesh: equally advanced sources tie-break by systemId', (t) => {
  const links = plan(mesh(), [host('A', [a!, b!, c!]), host('B', [a!, b!, c!]), host('C', [a!])], meshMembers);
  t.deepEqual(summary(links), ['data:A->C:behind']);
});

test('mesh: members whose chains split are diverged (one conflict link per pair)', (t) => {
  const x = snap('only-on-A', 30);
  const y = snap('only-on-B', 20);
  const links = plan(mesh(), [host('A', [a!, b!, x]), host('B', [a!, b!, y]), host('C', [a!, b!])], meshMembers);
  t.deepEqual(summary(links), ['data:A->C:behind', 'data:A->B:diverged']);
  const diverged = links[1]!.verdict;
  t.deepEqual(diverged.targetOnly.items, ['only-on-B']);
  t.deepEqual(diverged.sourceOnly.items, ['only-on-A']);
});

test('mesh: the side with more snapshots of its own is the source of the conflict link', (t) => {
  const links = plan(mesh(), [host('A', [a!, snap('a1', 40)]), host('B', [a!, snap('b1', 30), snap('b2', 20)])], [member('A'), member('B')]);
  t.deepEqual(summary(links), ['data:B->A:diverged']);
});

test('mesh: members sharing nothing have no common base', (t) => {
  const links = plan(mesh(), [host('A', [snap('x', 50)]), host('B', [snap('y', 40)])], [member('A'), member('B')]);
  t.deepEqual(summary(links), ['data:A->B:no_common_base']);
});

test('mesh: everything in sync means no links', (t) => {
  t.deepEqual(plan(mesh(), [host('A', [a!, b!]), host('B', [a!, b!], { txgBase: 3 }), host('C', [a!, b!])], meshMembers), []);
  t.deepEqual(plan(mesh(), [absent('A'), absent('B')], meshMembers), []);
});

test('mesh: snapshots not yet eligible do not make a member a source', (t) => {
  const young = snap('young', 60);
  const links = plan(mesh({ minSnapshotAgeSeconds: HOUR }), [host('A', [snap('old', 2 * HOUR), young]), host('B', [snap('old', 2 * HOUR)])], [member('A'), member('B')]);
  t.deepEqual(links, []);
});

/** Apply every transfer of a round, as the hosts would (pure simulation). */
function applyRound(views: Map<string, HostDatasetView>, links: PlannedLink[]): void {
  for (const link of links) {
    const v = link.verdict;
    if (!v.end || !['behind', 'out_of_sync', 'not_seeded'].includes(v.verdict)) continue;
    const source = views.get(link.sourceSystemId)!;
    const target = views.get(link.targetSystemId)!;
    const order = [...source.snapshots];
    const endAt = order.findIndex((s) => s.guid === v.end!.guid);
    const startAt = v.base ? order.findIndex((s) => s.guid === v.base!.guid) + 1 : endAt;
    const received = order.slice(startAt, endAt + 1).map((s, i) => ({ ...s, createtxg: String(100_000 + target.snapshots.length + i) }));
    views.set(link.targetSystemId, { ...target, pool: link.targetPool, present: true, snapshots: [...target.snapshots, ...received] });
  }
}

test('mesh converges: every member ends up with every eligible snapshot', (t) => {
  const views = new Map<string, HostDatasetView>([
    ['A', host('A', [a!, b!])],
    ['B', host('B', [a!, b!, c!, d!])],
    ['C', absent('C')],
  ]);
  let rounds = 0;
  for (; rounds < 5; rounds++) {
    const links = plan(mesh(), [...views.values()], meshMembers);
    if (links.length === 0) break;
    applyRound(views, links);
  }
  t.true(rounds <= 2, `converged in ${rounds} rounds`);
  t.deepEqual(views.get('A')!.snapshots.map((s) => s.name), ['auto-0', 'auto-1', 'auto-2', 'auto-3']);
  t.deepEqual(views.get('C')!.snapshots.map((s) => s.name), ['auto-3']);
});

// ---------------------------------------------------------------------------------------------
// Performance

function bigHost(systemId: string, count: number, txgBase: number, pool: string): HostDatasetView {
  const snapshots: SnapSpec[] = [];
  for (let i = 0; i < count; i++) snapshots.push({ name: `auto-${String(i).padStart(6, '0')}`, creation: NOW - (count - i) * 600, guid: guidOf(`g${i}`) });
  return host(systemId, snapshots, { txgBase, pool });
}

/** Median and maximum of several timed runs: one run on a busy CI box is too noisy to judge. */
function timed<T>(runs: number, f: () => T): { result: T; medianMs: number; maxMs: number } {
  const times: number[] = [];
  let result!: T;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    result = f();
    times.push(performance.now() - started);
  }
  times.sort((x, y) => x - y);
  return { result, medianMs: times[Math.floor(runs / 2)]!, maxMs: times[runs - 1]! };
}

test('10,000 snapshots on each of three hosts plan well under 100 ms', (t) => {
  const views = [bigHost('A', 10_000, 1, 'tank'), bigHost('B', 9_990, 50_000_000, 'backup'), bigHost('C', 9_500, 7, 'vault')];
  const meshPolicy = mesh({ snapshotPattern: '^auto-\\d{6}$' });
  const starPolicy = policy({ directional: true, hubSystemId: 'A' });
  const cold = timed(1, () => plan(meshPolicy, views, meshMembers));
  const meshRun = timed(5, () => plan(meshPolicy, views, meshMembers));
  const hubRun = timed(5, () => plan(starPolicy, views, meshMembers));
  t.log(`first (cold) run: ${cold.medianMs.toFixed(1)} ms`);
  t.log(`mesh of 3 × ~10k snapshots: median ${meshRun.medianMs.toFixed(1)} ms, max ${meshRun.maxMs.toFixed(1)} ms`);
  t.log(`hub-and-spoke, same data:   median ${hubRun.medianMs.toFixed(1)} ms, max ${hubRun.maxMs.toFixed(1)} ms`);
  // C is 500 snapshots × 10 min behind: 83 h > 72 h.
  t.deepEqual(summary(meshRun.result), ['data:A->B:behind', 'data:A->C:out_of_sync']);
  t.deepEqual(summary(hubRun.result), ['data:A->B:behind', 'data:A->C:out_of_sync']);
  t.is(meshRun.result[1]!.verdict.snapshotCount, 500);
  // Generous bound so a loaded machine does not make this flaky; the log shows the real figure.
  t.true(meshRun.medianMs < 1000, `mesh took ${meshRun.medianMs} ms`);
  t.true(hubRun.medianMs < 1000, `hub took ${hubRun.medianMs} ms`);
});
