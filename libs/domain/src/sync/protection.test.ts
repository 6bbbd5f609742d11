import test from 'ava';
import { assessProtection, checkProtectionPolicy, placesHolding, PROTECTION_DAY_SECONDS } from './protection.js';
import { DAY, HOUR, NOW, absent, guidOf, host, policy, series, snap } from './test-fixtures.js';

const assess = (p: Parameters<typeof policy>[0], ...views: Parameters<typeof assessProtection>[0]['views'][number][]) =>
  assessProtection({ policy: policy(p), dataset: 'data', views, now: NOW });

test('hub-and-spoke: the hub is the reference even when a spoke has a newer (diverged) snapshot', (t) => {
  const hubSnaps = series('h', 5, HOUR, 2 * HOUR);
  const a = assess(
    { directional: true, hubSystemId: 'hub' },
    host('hub', hubSnaps),
    host('spoke', [...hubSnaps.slice(0, 3), snap('local', 0)]),
  );
  t.is(a?.referenceSystemId, 'hub');
  t.deepEqual(a?.newest, { name: 'h4', guid: guidOf('h4'), creation: NOW - 2 * HOUR });
  t.is(a?.matchedBy, 'guid');
});

test('mesh: the member with the newest eligible snapshot is the reference', (t) => {
  const common = series('s', 3, HOUR, 5 * HOUR);
  const a = assess({}, host('a', common), host('b', [...common, snap('s3', HOUR)]), absent('c'));
  t.is(a?.referenceSystemId, 'b');
  t.is(a?.newest?.name, 's3');
});

test('eligibility applies: snapshot_pattern and min_snapshot_age_seconds pick the newest eligible one', (t) => {
  const snaps = [snap('daily-1', 3 * DAY), snap('hourly-1', 2 * DAY), snap('daily-2', 2 * HOUR), snap('daily-3', 60)];
  const a = assess({ snapshotPattern: '^daily-', minSnapshotAgeSeconds: HOUR }, host('a', snaps));
  t.is(a?.newest?.name, 'daily-2');
  // The newest eligible snapshot at least a day old skips hourly-1 (not eligible).
  t.is(a?.dayOld?.name, 'daily-1');
});

test('dayOld is the newest eligible snapshot created at least 24 h ago; refreshAt is when the next one turns 24 h old', (t) => {
  const snaps = series('s', 30, HOUR, 0); // s29 is now, s0 is 29 h old
  const a = assess({}, host('a', snaps))!;
  t.is(a.newest?.name, 's29');
  t.is(a.dayOld?.name, 's5'); // 24 h old exactly
  t.is(a.dayOld?.creation, NOW - PROTECTION_DAY_SECONDS);
  t.is(a.refreshAt, NOW + HOUR); // s6 is 23 h old now
  // An hour later, s6 is the day-old one.
  const later = assessProtection({ policy: policy(), dataset: 'data', views: [host('a', snaps)], now: NOW + HOUR })!;
  t.is(later.dayOld?.name, 's6');
});

test('no snapshot a day old: dayOld is null, refreshAt is when the oldest turns 24 h old', (t) => {
  const a = assess({}, host('a', series('s', 3, HOUR, 0)))!;
  t.is(a.dayOld, null);
  t.is(a.refreshAt, NOW - 2 * HOUR + DAY);
});

test('guid-less clients: the points carry no guid and matching is by name', (t) => {
  const a = assess({}, host('a', series('s', 2, HOUR, 0), { noGuids: true }))!;
  t.is(a.newest?.guid, null);
  t.is(a.matchedBy, 'name');
});

test('nothing eligible anywhere: no reference, no points', (t) => {
  const a = assess({ snapshotPattern: '^never$' }, host('a', series('s', 2)))!;
  t.deepEqual(a, { referenceSystemId: null, newest: null, dayOld: null, matchedBy: 'guid', refreshAt: null });
});

test('a disabled group or an excluded dataset is not assessed', (t) => {
  t.is(assess({ enabled: false }, host('a', series('s', 2))), null);
  t.is(assess({ datasets: { include: ['other/**'], exclude: [] } }, host('a', series('s', 2))), null);
});

test('mesh ties on creation are broken by snapshot count, then system id (stable)', (t) => {
  const s = series('s', 2, HOUR, 0);
  t.is(assess({}, host('b', s), host('a', s))?.referenceSystemId, 'a');
  t.is(assess({}, host('a', s.slice(1)), host('b', s))?.referenceSystemId, 'b');
});

test('policy check: min_sites cannot exceed min_copies', (t) => {
  t.is(checkProtectionPolicy(null), null);
  t.is(checkProtectionPolicy({ min_copies: 3, min_sites: 2 }), null);
  t.regex(checkProtectionPolicy({ min_copies: 1, min_sites: 2 }) ?? '', /min_sites \(2\) cannot exceed min_copies \(1\)/);
});

test('holders: guid-exact; a same-named snapshot with another guid does not count; a guid-less holder counts by name', (t) => {
  const p = { name: 's1', guid: guidOf('s1'), creation: NOW };
  const views = [
    host('same', [snap('s1', 0)]),
    host('renamed', [snap('other-name', 0, guidOf('s1'))], { pool: 'backup' }),
    host('collision', [snap('s1', 0, '42')]),
    host('guidless', [snap('s1', 0)], { noGuids: true }),
    absent('absent'),
  ];
  t.deepEqual(placesHolding(views, p), [
    { systemId: 'same', pool: 'tank' },
    { systemId: 'renamed', pool: 'backup' },
    { systemId: 'guidless', pool: 'tank' },
  ]);
  t.deepEqual(placesHolding(views, null), []);
});
