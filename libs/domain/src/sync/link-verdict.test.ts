import test from 'ava';
import { eligibilityRules, isEligible } from './eligibility.js';
import { computeLinkVerdict, formatDuration, VERDICT_LIST_LIMIT } from './link-verdict.js';
import { absent, DAY, guidOf, HOUR, host, NOW, policy, series, snap, type SnapSpec } from './test-fixtures.js';
import { firstIndexNewerThan, orderSnapshots } from './order.js';
import type { HostDatasetView, SnapshotRef, SyncGroupPolicy } from './types.js';

function verdict(source: HostDatasetView, target: HostDatasetView, overrides: Partial<SyncGroupPolicy> = {}) {
  return computeLinkVerdict({ source, target, policy: policy(overrides), now: NOW });
}

const [a, b, c, d, e] = series('auto-', 5); // hourly, auto-4 is the newest (age 0)

test('in_sync: the target has the source newest eligible snapshot', (t) => {
  const v = verdict(host('S', [a!, b!, c!]), host('T', [a!, b!, c!], { txgBase: 50 }));
  t.is(v.verdict, 'in_sync');
  t.is(v.matchedBy, 'guid');
  t.deepEqual(v.base, { name: 'auto-2', targetName: 'auto-2', guid: v.base!.guid, kind: 'snapshot' });
  t.is(v.end, null);
  t.is(v.lagSeconds, 0);
  t.is(v.snapshotCount, 0);
  t.deepEqual(v.sourceOnly, { items: [], count: 0 });
  t.deepEqual(v.targetOnly, { items: [], count: 0 });
  t.regex(v.explanation, /^in sync at snapshot @auto-2/);
});

test('behind: base is the target newest, end is the source newest, -I counts every snapshot sent', (t) => {
  const v = verdict(host('S', [a!, b!, c!, d!, e!]), host('T', [a!, b!], { txgBase: 9_000_000 }));
  t.is(v.verdict, 'behind');
  t.is(v.base?.name, 'auto-1');
  t.is(v.end?.name, 'auto-4');
  t.is(v.snapshotCount, 3);
  t.is(v.lagSeconds, 3 * HOUR);
  t.deepEqual(v.sourceOnly, { items: ['auto-2', 'auto-3', 'auto-4'], count: 3 });
  t.regex(v.explanation, /behind: lag 3h \(maximum 3d\); send 3 snapshots from @auto-1 to @auto-4/);
});

test('lag is measured with the source clock: the target creation stamp is ignored', (t) => {
  // The same snapshot reported by a target with a skewed clock (receive keeps creation, but a
  // buggy client might not); the lag must not change.
  const base = snap('base', 10 * HOUR);
  const skewed = { ...base, creation: base.creation + 5 * HOUR };
  const v = verdict(host('S', [base, snap('new', 0)]), host('T', [skewed]));
  t.is(v.lagSeconds, 10 * HOUR);
});

test('max_lag_seconds: exactly at the maximum is behind, one second more is out_of_sync', (t) => {
  const S = host('S', [snap('old', 7200), snap('new', 0)]);
  const T = host('T', [snap('old', 7200)]);
  t.is(verdict(S, T, { maxLagSeconds: 7200 }).verdict, 'behind');
  t.is(verdict(S, T, { maxLagSeconds: 7199 }).verdict, 'out_of_sync');
  t.regex(verdict(S, T, { maxLagSeconds: 7199 }).explanation, /^out of sync: lag 2h exceeds the maximum 1h 59m/);
});

test('not_seeded: the target lacks the dataset, a full send of the newest eligible snapshot', (t) => {
  const v = verdict(host('S', [a!, b!, c!]), absent('T'));
  t.is(v.verdict, 'not_seeded');
  t.is(v.base, null);
  t.is(v.end?.name, 'auto-2');
  t.is(v.snapshotCount, 1);
  t.is(v.lagSeconds, null);
  t.is(v.sourceOnly.count, 3);
  t.regex(v.explanation, /full send of @auto-2/);
});

test('not_seeded with nothing eligible yet has no end', (t) => {
  const v = verdict(host('S', [snap('young', 10)]), absent('T'), { minSnapshotAgeSeconds: HOUR });
  t.is(v.verdict, 'not_seeded');
  t.is(v.end, null);
  t.is(v.snapshotCount, 0);
  t.regex(v.explanation, /no eligible snapshot yet/);
});

test('an interrupted initial receive (no snapshots yet, resume token) is still not_seeded', (t) => {
  const v = verdict(host('S', [a!]), host('T', [], { receiveResumeToken: '1-abc-def' }));
  t.is(v.verdict, 'not_seeded');
  t.regex(v.explanation, /resumed/);
});

test('diverged: target snapshots newer than the base that the source lacks are listed', (t) => {
  const v = verdict(host('S', [a!, b!, c!]), host('T', [a!, b!, snap('local-1', 100), snap('local-2', 50)]));
  t.is(v.verdict, 'diverged');
  t.is(v.base?.name, 'auto-1');
  t.deepEqual(v.targetOnly, { items: ['local-1', 'local-2'], count: 2 });
  t.deepEqual(v.sourceOnly, { items: ['auto-2'], count: 1 });
  t.is(v.end?.name, 'auto-2');
  t.regex(v.explanation, /^diverged: the target has 2 snapshots newer than the common base snapshot @auto-1 .*\(@local-1, @local-2\)/);
});

test('diverged even when the source has nothing new: an incremental would fail later anyway', (t) => {
  const v = verdict(host('S', [a!, b!]), host('T', [a!, b!, snap('mine', 10)]));
  t.is(v.verdict, 'diverged');
  t.is(v.end, null);
});

test('a target-only snapshot OLDER than the base is harmless', (t) => {
  const v = verdict(host('S', [b!, c!, d!]), host('T', [snap('ancient', 30 * DAY), b!, c!]));
  t.is(v.verdict, 'behind');
  t.is(v.base?.name, 'auto-2');
  t.deepEqual(v.targetOnly, { items: [], count: 0 });
});

test('no_common_base: the target has snapshots, none of them on the source', (t) => {
  const v = verdict(host('S', [a!, b!]), host('T', [snap('x', 100), snap('y', 50)]));
  t.is(v.verdict, 'no_common_base');
  t.is(v.base, null);
  t.is(v.end?.name, 'auto-1');
  t.deepEqual(v.targetOnly, { items: ['x', 'y'], count: 2 });
  t.deepEqual(v.sourceOnly, { items: ['auto-0', 'auto-1'], count: 2 });
  t.is(v.lagSeconds, null);
});

test('a present target dataset without snapshots has no common base (a full receive needs -F)', (t) => {
  const v = verdict(host('S', [a!]), host('T', []));
  t.is(v.verdict, 'no_common_base');
  t.regex(v.explanation, /no snapshots/);
});

test('a renamed snapshot (same guid, different name) still counts as the common base', (t) => {
  const renamed = { ...b!, name: 'renamed-on-target', guid: guidOf('auto-1') };
  const v = verdict(host('S', [a!, b!, c!]), host('T', [a!, renamed]));
  t.is(v.verdict, 'behind');
  t.is(v.base?.name, 'auto-1', 'the source name, for zfs send -I');
  t.is(v.base?.targetName, 'renamed-on-target', 'the target name, for a rollback');
  t.deepEqual(v.nameCollisions, []);
  t.regex(v.explanation, /@renamed-on-target on the target/);
});

test('same name with a different guid is not common and is flagged as a name collision', (t) => {
  const impostor = snap('auto-1', 3 * HOUR, '42');
  const v = verdict(host('S', [a!, b!, c!]), host('T', [a!, impostor]));
  t.is(v.verdict, 'diverged', 'auto-1 on the target is another snapshot: it is newer than the real base');
  t.is(v.base?.name, 'auto-0');
  t.deepEqual(v.nameCollisions, ['auto-1']);
  t.deepEqual(v.targetOnly.items, ['auto-1']);
  t.regex(v.explanation, /name collision: @auto-1 \(same name, different guid\)/);
});

test('a guid-less client falls back to names and says so', (t) => {
  const v = verdict(host('S', [a!, b!, c!]), host('T', [a!, b!], { noGuids: true }));
  t.is(v.matchedBy, 'name');
  t.is(v.verdict, 'behind');
  t.is(v.base?.name, 'auto-1');
  t.is(v.base?.guid, guidOf('auto-1'), 'the guid the source reported is kept');
  t.regex(v.explanation, /matched by name \(a host reported no guids/);
});

test('name fallback still refuses a pair whose guids are both known and differ', (t) => {
  // The target reports guids, the source (partly) does not: names are used, but not against guids.
  const S = host('S', [a!, b!, c!]);
  S.snapshots[0]!.guid = null; // one old row from the original client
  const T = host('T', [a!, { ...b!, guid: '7' }]);
  const v = verdict(S, T);
  t.is(v.matchedBy, 'name');
  t.is(v.base?.name, 'auto-0');
  t.deepEqual(v.nameCollisions, ['auto-1']);
});

test('guids near 2^64-1 are compared as exact strings', (t) => {
  // As JS numbers both would be 18446744073709552000 and look like one snapshot.
  const S = host('S', [snap('s', 100, '18446744073709551615'), snap('n', 0, '18446744073709551613')]);
  const T = host('T', [snap('t', 100, '18446744073709551614')]);
  t.is(verdict(S, T).verdict, 'no_common_base');
  const T2 = host('T', [snap('t', 100, '18446744073709551615')]);
  const v = verdict(S, T2);
  t.is(v.verdict, 'behind');
  t.is(v.base?.guid, '18446744073709551615');
  t.is(v.end?.guid, '18446744073709551613');
  t.is(typeof v.base?.guid, 'string');
});

test('the base is chosen by the TARGET order; createtxg is never compared across hosts', (t) => {
  // The target received auto-2 before auto-1 (e.g. an old manual transfer): its own createtxg
  // says auto-1 is newest there, so auto-1 is the base even though auto-2 is newer on the source.
  const T = host('T', [a!, c!, b!], { txgBase: 5 });
  const S = host('S', [a!, b!, c!, d!], { txgBase: 900_000_000 });
  const v = verdict(S, T);
  t.is(v.base?.name, 'auto-1');
  t.is(v.verdict, 'behind');
  t.is(v.end?.name, 'auto-3');
  // auto-2 comes after the base in the source order but the target already has it.
  t.deepEqual(v.sourceOnly.items, ['auto-3']);
});

test('a bookmark on the source can be the base: -i sends only the end snapshot', (t) => {
  // The source pruned auto-1 but kept its bookmark.
  const S = host('S', [a!, c!, d!], { bookmarks: [b!] });
  const v = verdict(S, host('T', [a!, b!]));
  t.is(v.verdict, 'behind');
  t.deepEqual(v.base, { name: 'auto-1', targetName: 'auto-1', guid: v.base!.guid, kind: 'bookmark' });
  t.is(v.end?.name, 'auto-3');
  t.is(v.snapshotCount, 1);
  t.is(v.lagSeconds, 2 * HOUR);
  t.regex(v.explanation, /from bookmark #auto-1 \(-i: only the end snapshot is sent\)/);
});

test('a bookmark base is placed by its txg among the source snapshots', (t) => {
  // Bookmark of auto-1 after pruning; auto-2 and auto-3 are newer than it on the source.
  const S = host('S', [a!, c!, d!], { bookmarks: [b!], txgBase: 100 });
  S.bookmarks[0]!.createtxg = '105'; // between auto-0 (100) and auto-2 (110)
  const v = verdict(S, host('T', [a!, b!]));
  t.deepEqual(v.sourceOnly.items, ['auto-2', 'auto-3']);
});

test('when the source has both the snapshot and its bookmark, the snapshot is the base (-I)', (t) => {
  const v = verdict(host('S', [a!, b!, c!], { bookmarks: [b!] }), host('T', [a!, b!]));
  t.is(v.base?.kind, 'snapshot');
  t.is(v.snapshotCount, 1);
});

test('a newer shared bookmark beats an older shared snapshot (incremental must start at the target newest)', (t) => {
  const S = host('S', [a!, c!], { bookmarks: [b!] });
  const v = verdict(S, host('T', [a!, b!]));
  t.is(v.base?.kind, 'bookmark');
  t.is(v.base?.name, 'auto-1');
  t.is(v.verdict, 'behind');
});

test('snapshot_pattern: only matching snapshots end a transfer or count for lag', (t) => {
  const S = host('S', [snap('d-000000', 30 * HOUR), snap('h-010000', 29 * HOUR), snap('d2-000000', 6 * HOUR), snap('h-190000', HOUR)]);
  const T = host('T', [snap('d-000000', 30 * HOUR)]);
  const v = verdict(S, T, { snapshotPattern: '-000000$' });
  t.is(v.verdict, 'behind');
  t.is(v.end?.name, 'd2-000000');
  t.is(v.lagSeconds, 24 * HOUR);
  t.is(v.snapshotCount, 2, '-I also carries the non-matching intermediate h-010000');
  const none = verdict(host('S', [snap('d-000000', 30 * HOUR), snap('h-190000', HOUR)]), T, { snapshotPattern: '-000000$' });
  t.is(none.verdict, 'in_sync');
  t.regex(none.explanation, /1 newer source snapshot not eligible yet/);
});

test('min_snapshot_age_seconds: a snapshot exactly old enough is the end, a younger one is not', (t) => {
  const T = host('T', [snap('base', 2 * HOUR)]);
  const S = host('S', [snap('base', 2 * HOUR), snap('ripe', 600), snap('young', 599)]);
  const v = verdict(S, T, { minSnapshotAgeSeconds: 600 });
  t.is(v.end?.name, 'ripe');
  t.is(v.snapshotCount, 1);
  t.is(verdict(host('S', [snap('base', 2 * HOUR), snap('young', 599)]), T, { minSnapshotAgeSeconds: 600 }).verdict, 'in_sync');
});

test('lists are truncated but counts are complete', (t) => {
  const many = series('s-', 120, 60);
  const v = verdict(host('S', many), host('T', many.slice(0, 1)));
  t.is(v.sourceOnly.count, 119);
  t.is(v.sourceOnly.items.length, VERDICT_LIST_LIMIT);
  t.is(v.sourceOnly.items[0], 's-1');
});

test('a client without createtxg is ordered by creation', (t) => {
  const v = verdict(host('S', [a!, b!, c!], { noTxg: true }), host('T', [a!, b!], { noTxg: true }));
  t.is(v.verdict, 'behind');
  t.is(v.base?.name, 'auto-1');
});

test('explanations are one line', (t) => {
  const cases = [
    verdict(host('S', [a!, b!]), host('T', [a!, b!])),
    verdict(host('S', [a!, b!]), absent('T')),
    verdict(host('S', [a!, b!]), host('T', [snap('x', 1)], { noGuids: true })),
    verdict(host('S', [a!, b!]), host('T', [a!, snap('x', 1)])),
  ];
  for (const v of cases) t.false(v.explanation.includes('\n'), v.explanation);
});

test('formatDuration', (t) => {
  t.is(formatDuration(0), '0s');
  t.is(formatDuration(42), '42s');
  t.is(formatDuration(90), '1m 30s');
  t.is(formatDuration(3600), '1h');
  t.is(formatDuration(3 * DAY), '3d');
  t.is(formatDuration(3 * DAY + 7200), '3d 2h');
});

test('an empty or missing guid counts as "not reported", never as a guid', (t) => {
  const T = host('T', [a!, b!]);
  T.snapshots[0]!.guid = '';
  (T.snapshots[1] as { guid?: string | null }).guid = undefined;
  const v = verdict(host('S', [a!, b!, c!]), T);
  t.is(v.matchedBy, 'name');
  t.is(v.verdict, 'behind');
  t.is(v.base?.name, 'auto-1');
  t.deepEqual(v.nameCollisions, []);
});

// ---------------------------------------------------------------------------------------------
// The fast lookups (scans, hash index, the aligned pass over the target) against a straightforward
// reference built on plain Maps, on random hosts with renames, reused names, duplicate and missing
// guids, and bookmarks.

/** A seeded generator of integers in [0, n), from the high bits of an LCG (its low bits cycle). */
function lcg(seed: number): (n: number) => number {
  return (n) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return Math.floor((seed / 0x80000000) * n);
  };
}

/** The rules of the verdict written the plain way: a Map per list and key, the last ref winning. */
function referenceParts(source: HostDatasetView, target: HostDatasetView, overrides: Partial<SyncGroupPolicy>) {
  const gid = (r: SnapshotRef): string | null => r.guid || null;
  const lookup = (refs: readonly SnapshotRef[]) => {
    const byGuid = new Map<string, number>();
    const byName = new Map<string, number>();
    refs.forEach((r, i) => {
      if (gid(r) !== null) byGuid.set(gid(r)!, i);
      if (r.name !== '') byName.set(r.name, i);
    });
    return { refs, byGuid, byName };
  };
  const s = orderSnapshots(source.snapshots, source.bookmarks);
  const t = orderSnapshots(target.snapshots, target.bookmarks);
  const [onS, onT, onSourceBookmarks] = [lookup(s), lookup(t), lookup(source.bookmarks)];
  const all = [...source.snapshots, ...source.bookmarks, ...target.snapshots, ...target.bookmarks];
  const mode: 'guid' | 'name' = all.every((r) => gid(r) !== null) ? 'guid' : 'name';
  const compatible = (a: SnapshotRef, b: SnapshotRef) => gid(a) === null || gid(b) === null || gid(a) === gid(b);
  const find = (on: ReturnType<typeof lookup>, ref: SnapshotRef): number => {
    const byGuid = gid(ref) === null ? undefined : on.byGuid.get(gid(ref)!);
    if (byGuid !== undefined) return byGuid;
    if (mode === 'guid') return -1;
    const byName = on.byName.get(ref.name);
    return byName !== undefined && compatible(on.refs[byName]!, ref) ? byName : -1;
  };
  const nameCollisions: string[] = [];
  for (const x of t) {
    const g = gid(x);
    if (g === null) continue;
    const same = onS.byGuid.get(g);
    if (same !== undefined && s[same]!.name === x.name) continue;
    const i = onS.byName.get(x.name);
    if (i !== undefined && gid(s[i]!) !== null && gid(s[i]!) !== g) nameCollisions.push(x.name);
  }
  let base: { name: string; kind: string; targetIndex: number; sourceAfter: number } | null = null;
  for (let ti = t.length - 1; ti >= 0 && !base; ti--) {
    const si = find(onS, t[ti]!);
    if (si >= 0) base = { name: s[si]!.name, kind: 'snapshot', targetIndex: ti, sourceAfter: si + 1 };
    else {
      const b = find(onSourceBookmarks, t[ti]!);
      const bookmark = source.bookmarks[b];
      if (bookmark) {
        const byTxg = [...source.snapshots, ...source.bookmarks].every((r) => r.createtxg !== null && /^[0-9]+$/.test(r.createtxg));
        base = { name: bookmark.name, kind: 'bookmark', targetIndex: ti, sourceAfter: firstIndexNewerThan(s, bookmark, byTxg) };
      }
    }
  }
  const sourceOnly = base ? s.slice(base.sourceAfter).filter((x) => find(onT, x) < 0).map((x) => x.name) : s.map((x) => x.name);
  const targetOnly = base ? t.slice(base.targetIndex + 1).map((x) => x.name) : t.map((x) => x.name);
  const rules = eligibilityRules(policy(overrides), NOW);
  const end = s.slice(base ? base.sourceAfter : 0).filter((x) => isEligible(x, rules)).pop()?.name ?? null;
  return { mode, nameCollisions, base: base && { name: base.name, kind: base.kind }, sourceOnly, targetOnly, end };
}

test('verdicts agree with a plain-Map reference on random hosts', (t) => {
  const random = lcg(2024);
  const universe = Array.from({ length: 400 }, (_, i) => snap(`auto-${i}`, (400 - i) * HOUR));
  const randomHost = (id: string): HostDatasetView => {
    const from = random(4) === 0 ? random(300) : random(10);
    const specs: SnapSpec[] = universe.slice(from, from + 1 + random(300)).filter(() => random(20) > 0);
    const pick = () => random(specs.length);
    if (specs.length > 1) {
      // Each with some probability: a different order, a local snapshot under a name the other
      // host may use, a renamed snapshot, one guid on two snapshots.
      if (random(4) === 0) for (let k = random(5); k > 0; k--) specs.splice(pick(), 0, specs.splice(pick(), 1)[0]!);
      if (random(4) === 0) specs.push(snap(random(2) === 0 ? `local-${random(3)}` : specs[pick()]!.name, random(HOUR), guidOf(`local-${random(3)}`)));
      if (random(4) === 0) specs[pick()] = { ...specs[pick()]!, name: `renamed-${random(3)}` };
      if (random(3) === 0) specs[pick()] = { ...specs[pick()]!, guid: guidOf(specs[pick()]!.name) };
    }
    const bookmarks = random(3) === 0 ? universe.slice(from, from + 60).filter(() => random(4) === 0) : [];
    return host(id, specs, { txgBase: 1 + random(1000), bookmarks, noGuids: random(8) === 0 });
  };
  for (let round = 0; round < 400; round++) {
    const source = randomHost('S');
    const target = randomHost('T');
    // Sometimes with eligibility rules, which are judged lazily from the newest end.
    const overrides = [{}, { snapshotPattern: '^auto-\\d*[02468]$' }, { minSnapshotAgeSeconds: 50 * HOUR }][random(3)]!;
    const v = verdict(source, target, overrides);
    const ref = referenceParts(source, target, overrides);
    const msg = `round ${round}: ${v.explanation}`;
    t.is(v.matchedBy, ref.mode, msg);
    t.deepEqual(v.nameCollisions, ref.nameCollisions, msg);
    t.deepEqual(v.base && { name: v.base.name, kind: v.base.kind }, ref.base, msg);
    t.deepEqual(v.sourceOnly, { items: ref.sourceOnly.slice(0, VERDICT_LIST_LIMIT), count: ref.sourceOnly.length }, msg);
    t.deepEqual(v.targetOnly, { items: ref.targetOnly.slice(0, VERDICT_LIST_LIMIT), count: ref.targetOnly.length }, msg);
    if (target.present && v.verdict !== 'not_seeded') t.is(v.end?.name ?? null, ref.end, msg);
  }
});
