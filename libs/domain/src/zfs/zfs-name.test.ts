import test from 'ava';
import {
  checkDatasetPath,
  checkPoolName,
  checkSnapshotShortName,
  joinDatasetPath,
  parseZfsName,
  type ZfsNameResult,
} from './zfs-name.js';

function reasonOf(r: ZfsNameResult): string {
  return r.ok ? '(accepted)' : r.reason;
}

test('parses a pool root filesystem', (t) => {
  t.deepEqual(parseZfsName('tank'), { ok: true, value: { pool: 'tank', dataset: '', kind: 'filesystem' } });
});

test('parses nested filesystems relative to the pool', (t) => {
  t.deepEqual(parseZfsName('tank/home/alice'), {
    ok: true,
    value: { pool: 'tank', dataset: 'home/alice', kind: 'filesystem' },
  });
});

test('parses snapshots and bookmarks, including on the pool root', (t) => {
  t.deepEqual(parseZfsName('tank/home@daily-2024-01-01'), {
    ok: true,
    value: { pool: 'tank', dataset: 'home', kind: 'snapshot', snapshot: 'daily-2024-01-01' },
  });
  t.deepEqual(parseZfsName('tank@root'), {
    ok: true,
    value: { pool: 'tank', dataset: '', kind: 'snapshot', snapshot: 'root' },
  });
  t.deepEqual(parseZfsName('tank/a/b#bm1'), {
    ok: true,
    value: { pool: 'tank', dataset: 'a/b', kind: 'bookmark', snapshot: 'bm1' },
  });
});

test('accepts every allowed character: letters, digits, - _ . : space, and % outside the pool', (t) => {
  const r = parseZfsName('Pool_1.x:y-z/data set%recv/a.b:c@zrepl_20240101_000000_000 %x');
  t.true(r.ok, reasonOf(r));
  if (r.ok) {
    t.is(r.value.pool, 'Pool_1.x:y-z');
    t.is(r.value.dataset, 'data set%recv/a.b:c');
    t.is(r.value.snapshot, 'zrepl_20240101_000000_000 %x');
  }
  t.true(parseZfsName('tank/a@..x').ok, 'dots are fine when the component is not exactly . or ..');
  t.true(parseZfsName('tank/...').ok);
});

test('refuses characters outside the allow-list, naming the character', (t) => {
  t.is(reasonOf(parseZfsName('tank/a;b')), "contains a character not allowed in ZFS names: ';'");
  t.is(reasonOf(parseZfsName('tank/$(id)')), "contains a character not allowed in ZFS names: '$'");
  t.is(reasonOf(parseZfsName('tank/a`b`')), "contains a character not allowed in ZFS names: '`'");
  t.is(reasonOf(parseZfsName("tank/o'neil")), `contains a character not allowed in ZFS names: "'"`);
  t.is(reasonOf(parseZfsName('tank/a\nb')), 'contains a character not allowed in ZFS names: U+000A');
  t.is(reasonOf(parseZfsName('tank/a\tb')), 'contains a character not allowed in ZFS names: U+0009');
  t.is(reasonOf(parseZfsName('tank/caf\u00e9')), 'contains a character not allowed in ZFS names: U+00E9');
  t.is(reasonOf(parseZfsName('tank/\u{1F600}')), 'contains a character not allowed in ZFS names: U+1F600');
  for (const bad of ['tank/a|b', 'tank/a&b', 'tank/a"b', 'tank/a\\b', 'tank/a*b', 'tank/a+b', 'tank/a\0b', 'tank@a,b']) {
    t.false(parseZfsName(bad).ok, JSON.stringify(bad));
  }
});

test('refuses an empty name', (t) => {
  t.is(reasonOf(parseZfsName('')), 'empty name');
});

test('limits the full name to 255 bytes, counting UTF-8 bytes', (t) => {
  const at255 = `tank/${'a'.repeat(245)}@snap`; // 5 + 245 + 5
  t.is(at255.length, 255);
  t.true(parseZfsName(at255).ok);
  t.is(reasonOf(parseZfsName(`${at255}x`)), 'longer than 255 bytes (256 bytes)');
  // 200 two-byte characters are 400 bytes although only 200 UTF-16 units: the length wins over the character.
  t.regex(reasonOf(parseZfsName(`tank/${'\u00e9'.repeat(200)}`)), /^longer than 255 bytes \(405 bytes\)$/);
});

test('refuses empty path components with the place they occur', (t) => {
  t.is(reasonOf(parseZfsName('/tank')), "empty path component (leading '/')");
  t.is(reasonOf(parseZfsName('tank/')), "empty path component (trailing '/')");
  t.is(reasonOf(parseZfsName('tank//a')), "empty path component ('//')");
  t.is(reasonOf(parseZfsName('tank/a/@s')), "empty path component (trailing '/')");
  t.is(reasonOf(parseZfsName('@snap')), 'empty path component (nothing before the delimiter)');
});

test('refuses . and .. as components', (t) => {
  t.is(reasonOf(parseZfsName('tank/./a')), "path component must not be '.'");
  t.is(reasonOf(parseZfsName('tank/..')), "path component must not be '..'");
  t.is(reasonOf(parseZfsName('tank/a@.')), "snapshot name must not be '.'");
  t.is(reasonOf(parseZfsName('tank/a#..')), "bookmark name must not be '..'");
});

test('allows at most one @ or # and no / after it', (t) => {
  t.is(reasonOf(parseZfsName('tank@a@b')), "more than one '@' or '#' delimiter");
  t.is(reasonOf(parseZfsName('tank@a#b')), "more than one '@' or '#' delimiter");
  t.is(reasonOf(parseZfsName('tank#a@b')), "more than one '@' or '#' delimiter");
  t.is(reasonOf(parseZfsName('tank@a/b')), "'/' is not allowed after '@'");
  t.is(reasonOf(parseZfsName('tank#a/b')), "'/' is not allowed after '#'");
  t.is(reasonOf(parseZfsName('tank@')), 'empty snapshot name');
  t.is(reasonOf(parseZfsName('tank/a#')), 'empty bookmark name');
});

test('nesting must stay below 50 levels', (t) => {
  const comps = (n: number) => Array.from({ length: n }, () => 'd').join('/');
  t.true(parseZfsName(`tank/${comps(49)}`).ok, '49 slashes');
  t.true(parseZfsName(`tank/${comps(49)}@s`).ok, 'the snapshot part does not add a level');
  t.regex(reasonOf(parseZfsName(`tank/${comps(50)}`)), /^nested too deeply: 50 levels/);
});

test('pool name rules inside a full name', (t) => {
  t.is(reasonOf(parseZfsName('1tank/a')), 'pool name must start with a letter');
  t.is(reasonOf(parseZfsName('_tank')), 'pool name must start with a letter');
  t.is(reasonOf(parseZfsName(' tank@s')), 'pool name must start with a letter');
  t.is(reasonOf(parseZfsName('ta%nk/a')), "pool name must not contain '%'");
  t.true(parseZfsName(`${'p'.repeat(239)}/a`).ok);
  t.is(reasonOf(parseZfsName(`${'p'.repeat(240)}/a`)), 'pool name longer than 239 characters (240)');
});

test('reserved pool names of existing pools are still accepted', (t) => {
  for (const pool of ['mirror', 'mirror2', 'raidz', 'raidz1x', 'draid', 'spare', 'spares', 'log']) {
    t.true(parseZfsName(`${pool}/data@s`).ok, pool);
    t.is(checkPoolName(pool), null, pool);
  }
});

test('checkPoolName', (t) => {
  for (const ok of ['tank', 'T', 'rpool', 'a-b_c.d:e f']) t.is(checkPoolName(ok), null, ok);
  t.is(checkPoolName(''), 'empty pool name');
  t.is(checkPoolName('9'), 'pool name must start with a letter');
  t.is(checkPoolName('tank/a'), "pool name must not contain '/'");
  t.is(checkPoolName('tank@s'), "pool name must not contain '@' or '#'");
  t.is(checkPoolName('tank%'), "pool name must not contain '%'");
  t.is(checkPoolName('ta;nk'), "contains a character not allowed in ZFS names: ';'");
  t.is(checkPoolName('p'.repeat(239)), null);
  t.is(checkPoolName('p'.repeat(240)), 'pool name longer than 239 characters (240)');
});

test('checkDatasetPath', (t) => {
  for (const ok of ['', 'a', 'home/alice', 'x %recv', 'a/b/c.d:e']) t.is(checkDatasetPath(ok), null, ok);
  t.is(checkDatasetPath('/a'), "empty path component (leading '/')");
  t.is(checkDatasetPath('a/'), "empty path component (trailing '/')");
  t.is(checkDatasetPath('a//b'), "empty path component ('//')");
  t.is(checkDatasetPath('a/../b'), "path component must not be '..'");
  t.is(checkDatasetPath('.'), "path component must not be '.'");
  t.is(checkDatasetPath('a@s'), "dataset path must not contain '@' or '#'");
  t.is(checkDatasetPath('a#b'), "dataset path must not contain '@' or '#'");
  t.is(checkDatasetPath('a;b'), "contains a character not allowed in ZFS names: ';'");
  // Relative depth counts the level the pool adds: 49 components is depth 49 in pool/…
  const comps = (n: number) => Array.from({ length: n }, () => 'd').join('/');
  t.is(checkDatasetPath(comps(49)), null);
  t.regex(checkDatasetPath(comps(50)) ?? '', /^nested too deeply: 50 levels/);
  t.is(checkDatasetPath('a'.repeat(253)), null);
  t.regex(checkDatasetPath('a'.repeat(254)) ?? '', /^dataset path longer than 253 bytes/);
});

test('checkSnapshotShortName', (t) => {
  for (const ok of ['daily', 'zfs-auto-snap_hourly-2024-01-01-0000', 'a b', 'x%y', '...', 'a:b.c']) {
    t.is(checkSnapshotShortName(ok), null, ok);
  }
  t.is(checkSnapshotShortName(''), 'empty snapshot name');
  t.is(checkSnapshotShortName('', 'bookmark'), 'empty bookmark name');
  t.is(checkSnapshotShortName('..'), "snapshot name must not be '..'");
  t.is(checkSnapshotShortName('a/b'), "snapshot name must not contain '/'");
  t.is(checkSnapshotShortName('a@b'), "snapshot name must not contain '@' or '#'");
  t.is(checkSnapshotShortName('a#b', 'bookmark'), "bookmark name must not contain '@' or '#'");
  t.is(checkSnapshotShortName('a$b'), "contains a character not allowed in ZFS names: '$'");
  t.is(checkSnapshotShortName('s'.repeat(253)), null);
  t.is(checkSnapshotShortName('s'.repeat(254)), 'snapshot name longer than 253 bytes');
});

test('joinDatasetPath', (t) => {
  t.is(joinDatasetPath('tank', ''), 'tank');
  t.is(joinDatasetPath('tank', 'home/alice'), 'tank/home/alice');
});

test('parse → join round-trips the dataset part', (t) => {
  for (const full of ['tank', 'tank/a', 'tank/a b/c%d']) {
    const r = parseZfsName(full);
    t.true(r.ok);
    if (r.ok) t.is(joinDatasetPath(r.value.pool, r.value.dataset), full);
  }
});
