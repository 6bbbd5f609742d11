import test from 'ava';
import { normalizeSnapshotLocation, snapshotLocationNormalizer } from './snapshot-input.js';

const ok = (pool: string, dataset: string, name: string) => ({ ok: true, value: { pool, dataset, name } });

test('the original client form passes through unchanged', (t) => {
  t.deepEqual(normalizeSnapshotLocation({ name: 'daily', pool: 'tank', dataset: 'home/alice' }), ok('tank', 'home/alice', 'daily'));
  t.deepEqual(normalizeSnapshotLocation({ name: 'daily', pool: 'tank', dataset: '' }), ok('tank', '', 'daily'));
});

test('a dataset with the pool prefix is made relative', (t) => {
  t.deepEqual(normalizeSnapshotLocation({ name: 's', pool: 'tank', dataset: 'tank/data' }), ok('tank', 'data', 's'));
  t.deepEqual(normalizeSnapshotLocation({ name: 's', pool: 'tank', dataset: 'tank/a/b' }), ok('tank', 'a/b', 's'));
  t.deepEqual(normalizeSnapshotLocation({ name: 's', pool: 'tank', dataset: 'tank' }), ok('tank', '', 's'));
});

test('the pool prefix must match a whole component', (t) => {
  t.deepEqual(normalizeSnapshotLocation({ name: 's', pool: 'tank', dataset: 'tankx/y' }), ok('tank', 'tankx/y', 's'));
  t.deepEqual(normalizeSnapshotLocation({ name: 's', pool: 'tank', dataset: 'tankx' }), ok('tank', 'tankx', 's'));
  t.deepEqual(normalizeSnapshotLocation({ name: 's', pool: 'tank', dataset: 'tan/k' }), ok('tank', 'tan/k', 's'));
  // Only one prefix is stripped.
  t.deepEqual(normalizeSnapshotLocation({ name: 's', pool: 'tank', dataset: 'tank/tank/x' }), ok('tank', 'tank/x', 's'));
});

test('a full snapshot name is shortened when it agrees with pool and dataset', (t) => {
  t.deepEqual(normalizeSnapshotLocation({ name: 'tank/home/alice@daily', pool: 'tank', dataset: 'home/alice' }), ok('tank', 'home/alice', 'daily'));
  t.deepEqual(normalizeSnapshotLocation({ name: 'tank/data@s', pool: 'tank', dataset: 'tank/data' }), ok('tank', 'data', 's'));
  t.deepEqual(normalizeSnapshotLocation({ name: 'tank@s', pool: 'tank', dataset: '' }), ok('tank', '', 's'));
  t.deepEqual(normalizeSnapshotLocation({ name: 'tank@s', pool: 'tank', dataset: 'tank' }), ok('tank', '', 's'));
});

test('a full snapshot name that disagrees with pool or dataset is an error on name', (t) => {
  t.deepEqual(normalizeSnapshotLocation({ name: 'tank/other@s', pool: 'tank', dataset: 'home' }), {
    ok: false,
    field: 'name',
    reason: 'full name is in tank/other but pool/dataset say tank/home',
  });
  t.deepEqual(normalizeSnapshotLocation({ name: 'backup/home@s', pool: 'tank', dataset: 'home' }), {
    ok: false,
    field: 'name',
    reason: 'full name is in backup/home but pool/dataset say tank/home',
  });
  const rootVsChild = normalizeSnapshotLocation({ name: 'tank@s', pool: 'tank', dataset: 'home' });
  t.false(rootVsChild.ok);
  if (!rootVsChild.ok) t.is(rootVsChild.field, 'name');
});

test('an invalid full snapshot name reports the name rule', (t) => {
  t.deepEqual(normalizeSnapshotLocation({ name: 'tank/home@a@b', pool: 'tank', dataset: 'home' }), {
    ok: false,
    field: 'name',
    reason: "more than one '@' or '#' delimiter",
  });
  t.deepEqual(normalizeSnapshotLocation({ name: 'tank/home@', pool: 'tank', dataset: 'home' }), {
    ok: false,
    field: 'name',
    reason: 'empty snapshot name',
  });
});

test('short names are checked', (t) => {
  const cases: Array<[string, string]> = [
    ['', 'empty snapshot name'],
    ['a;rm -rf /', "snapshot name must not contain '/'"],
    ['a;b', "contains a character not allowed in ZFS names: ';'"],
    ['home/daily', "snapshot name must not contain '/'"],
    ['tank/home#bm', "snapshot name must not contain '/'"],
    ['bm#x', "snapshot name must not contain '@' or '#'"],
    ['..', "snapshot name must not be '..'"],
  ];
  for (const [name, reason] of cases) {
    t.deepEqual(normalizeSnapshotLocation({ name, pool: 'tank', dataset: 'home' }), { ok: false, field: 'name', reason }, name);
  }
});

test('pool and dataset are checked and errors name the field', (t) => {
  t.deepEqual(normalizeSnapshotLocation({ name: 's', pool: '', dataset: '' }), { ok: false, field: 'pool', reason: 'empty pool name' });
  t.deepEqual(normalizeSnapshotLocation({ name: 's', pool: '1tank', dataset: '' }), {
    ok: false,
    field: 'pool',
    reason: 'pool name must start with a letter',
  });
  t.deepEqual(normalizeSnapshotLocation({ name: 's', pool: 'tank/home', dataset: '' }), {
    ok: false,
    field: 'pool',
    reason: "pool name must not contain '/'",
  });
  t.deepEqual(normalizeSnapshotLocation({ name: 's', pool: 'tank', dataset: '/home' }), {
    ok: false,
    field: 'dataset',
    reason: "empty path component (leading '/')",
  });
  t.deepEqual(normalizeSnapshotLocation({ name: 's', pool: 'tank', dataset: 'tank/' }), {
    ok: false,
    field: 'dataset',
    reason: "empty path component (trailing '/')",
  });
  t.deepEqual(normalizeSnapshotLocation({ name: 's', pool: 'tank', dataset: 'home/../etc' }), {
    ok: false,
    field: 'dataset',
    reason: "path component must not be '..'",
  });
  t.deepEqual(normalizeSnapshotLocation({ name: 's', pool: 'tank', dataset: 'home@x' }), {
    ok: false,
    field: 'dataset',
    reason: "dataset path must not contain '@' or '#'",
  });
  t.deepEqual(normalizeSnapshotLocation({ name: 's', pool: 'tank', dataset: 'a$(id)' }), {
    ok: false,
    field: 'dataset',
    reason: "contains a character not allowed in ZFS names: '$'",
  });
});

test('non-string fields are refused', (t) => {
  t.like(normalizeSnapshotLocation({ name: 's', pool: 1, dataset: '' }), { ok: false, field: 'pool' });
  t.like(normalizeSnapshotLocation({ name: 's', pool: 'tank' }), { ok: false, field: 'dataset' });
  t.like(normalizeSnapshotLocation({ name: 's', pool: 'tank', dataset: null }), { ok: false, field: 'dataset' });
  t.like(normalizeSnapshotLocation({ name: 5, pool: 'tank', dataset: '' }), { ok: false, field: 'name' });
  t.like(normalizeSnapshotLocation({}), { ok: false });
});

test('parts valid alone but too long together are refused', (t) => {
  const dataset = 'd'.repeat(200);
  const name = 's'.repeat(60);
  t.is(`tank/${dataset}@${name}`.length, 266);
  const r = normalizeSnapshotLocation({ name, pool: 'tank', dataset });
  t.false(r.ok);
  if (!r.ok) {
    t.is(r.field, 'name');
    t.regex(r.reason, /longer than 255 bytes \(266 bytes\)$/);
  }
  t.true(normalizeSnapshotLocation({ name: 's'.repeat(49), pool: 'tank', dataset }).ok, 'exactly 255 bytes');
});

test('spaces and % are kept exactly (never trimmed)', (t) => {
  t.deepEqual(normalizeSnapshotLocation({ name: ' s 1', pool: 'tank', dataset: 'my data%x' }), ok('tank', 'my data%x', ' s 1'));
});

test('reserved but existing pool names are accepted', (t) => {
  t.deepEqual(normalizeSnapshotLocation({ name: 'log/x@s', pool: 'log', dataset: 'log/x' }), ok('log', 'x', 's'));
});

test('snapshotLocationNormalizer answers exactly as normalizeSnapshotLocation, for every input, in any order', (t) => {
  const pools = ['tank', 'backup', 'Tank2', 'ta nk', '9tank', 'tank%', 'tank/x', '', 'p', 'a'.repeat(200)];
  const datasets = ['', 'tank', 'tank/', 'tank/data', 'home/alice', 'backup/home', 'a//b', './x', 'x/..', 'ü', 'd@x', 'tan/k', 'x'.repeat(60), `${'y'.repeat(120)}/${'z'.repeat(120)}`, Array.from({ length: 50 }, () => 'n').join('/')];
  const names = ['daily', 'autosnap_2025-01-01_00:00:00_hourly', '', '.', '..', 'a/b', 'a#b', 'ü', 'a\u0000b', '%x', 'tank@s', 'tank/data@s', 'tank/home/alice@daily', 'backup@s@t', 's'.repeat(60), 'n'.repeat(253), 'n'.repeat(254), '\ud800'];
  const inputs = [];
  for (const pool of pools) for (const dataset of datasets) for (const name of names) inputs.push({ pool, dataset, name });
  inputs.push({ pool: 1, dataset: '', name: 'x' }, { pool: 'tank', dataset: null, name: 'x' }, { pool: 'tank', dataset: '', name: 7 });
  // Twice, so the second pass answers from the per-pair cache.
  const normalize = snapshotLocationNormalizer();
  for (const pass of [1, 2]) {
    for (const input of inputs) t.deepEqual(normalize(input), normalizeSnapshotLocation(input), `pass ${pass}: ${JSON.stringify(input)}`);
  }
});
