import test from 'ava';
import { parseZfsListLine, parseZfsListTsv, TsvLineError, ZfsListTsvParser, type ZfsListColumn } from './zfs-list-tsv.js';

const row = (...cols: string[]) => cols.join('\t');

// 1704067200 = 2024-01-01T00:00:00Z
const SNAP_A = row('tank/home@a', '12345678901234567890', '100', '1704067200', '1024', '4096');
const SNAP_B = row('tank/home@b', '18446744073709551615', '101', '1704067201', '0', '4096');
const BOOKMARK = row('tank/home#a', '12345678901234567890', '100', '1704067200', '-', '-');
const ROOT_SNAP = row('tank@root snap', '7', '5', '0', '0', '98304');
const OTHER = row('backup/tank/home@a', '12345678901234567890', '9000', '1704067200', '512', '4096');

function lineError(fn: () => unknown): TsvLineError {
  const err = (() => {
    try {
      fn();
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  if (!(err instanceof TsvLineError)) throw new Error(`expected a TsvLineError, got ${String(err)}`);
  return err;
}

test('groups snapshots and bookmarks by dataset in first-seen order', (t) => {
  const text = [SNAP_A, OTHER, BOOKMARK, ROOT_SNAP, SNAP_B].join('\n') + '\n';
  t.deepEqual(parseZfsListTsv(text), [
    {
      pool: 'tank',
      dataset: 'home',
      snapshots: [
        { name: 'a', guid: '12345678901234567890', createtxg: '100', creation: '2024-01-01T00:00:00Z', used: '1024', referenced: '4096' },
        { name: 'b', guid: '18446744073709551615', createtxg: '101', creation: '2024-01-01T00:00:01Z', used: '0', referenced: '4096' },
      ],
      bookmarks: [{ name: 'a', guid: '12345678901234567890', createtxg: '100', creation: '2024-01-01T00:00:00Z' }],
    },
    {
      pool: 'backup',
      dataset: 'tank/home',
      snapshots: [
        { name: 'a', guid: '12345678901234567890', createtxg: '9000', creation: '2024-01-01T00:00:00Z', used: '512', referenced: '4096' },
      ],
      bookmarks: [],
    },
    {
      pool: 'tank',
      dataset: '',
      snapshots: [{ name: 'root snap', guid: '7', createtxg: '5', creation: '1970-01-01T00:00:00Z', used: '0', referenced: '98304' }],
      bookmarks: [],
    },
  ]);
});

test('empty input and blank lines give nothing', (t) => {
  t.deepEqual(parseZfsListTsv(''), []);
  t.deepEqual(parseZfsListTsv('\n\n\r\n'), []);
  const r = parseZfsListTsv(`\n${SNAP_A}\n\n${SNAP_B}\n\n`);
  t.is(r.length, 1);
  t.deepEqual(r[0]!.snapshots.map((s) => s.name), ['a', 'b']);
  t.deepEqual(parseZfsListTsv('   \n'), []);
  // Tabs make it a data line, not a blank one: empty columns are reported.
  t.is(lineError(() => parseZfsListTsv('\t\t\t\t\t')).reason, 'empty name');
  t.is(lineError(() => parseZfsListTsv('\t')).field, null);
});

test('tolerates CRLF line endings', (t) => {
  const r = parseZfsListTsv(`${SNAP_A}\r\n${BOOKMARK}\r\n`);
  t.is(r[0]!.snapshots[0]!.referenced, '4096', 'the last column must not keep the \\r');
  t.is(r[0]!.bookmarks[0]!.name, 'a');
});

test('names with spaces stay intact; only tabs split columns', (t) => {
  const r = parseZfsListTsv(row('tank/my data/ x@ snap 1 ', '1', '2', '3', '4', '5'));
  t.is(r[0]!.dataset, 'my data/ x');
  t.is(r[0]!.snapshots[0]!.name, ' snap 1 ');
});

test('large guids keep every digit (never pass through a JS number)', (t) => {
  const r = parseZfsListTsv(row('tank/a@s', '9007199254740993', '9223372036854775808', '1', '18446744073709551615', '1'));
  const s = r[0]!.snapshots[0]!;
  t.is(s.guid, '9007199254740993');
  t.is(s.createtxg, '9223372036854775808');
  t.is(s.used, '18446744073709551615');
});

test('wrong column count is a whole-line error', (t) => {
  const few = lineError(() => parseZfsListTsv(`${SNAP_A}\ntank/a@s 1 2 3 4 5\n`));
  t.is(few.line, 2);
  t.is(few.field, null);
  t.is(few.message, 'line 2: expected 6 tab-separated columns (name, guid, createtxg, creation, used, referenced), found 1');
  const many = lineError(() => parseZfsListTsv(`${SNAP_A}\textra`));
  t.is(many.line, 1);
  t.regex(many.reason, /found 7$/);
});

test('every bad value is reported with line number and column', (t) => {
  const cases: Array<[string, ZfsListColumn, string]> = [
    [row('tank/a@s', 'abc', '1', '1', '1', '1'), 'guid', 'not an unsigned 64-bit decimal: "abc" is not a plain decimal integer'],
    [row('tank/a@s', '18446744073709551616', '1', '1', '1', '1'), 'guid', 'not an unsigned 64-bit decimal: "18446744073709551616" is above 2^64-1 (18446744073709551615)'],
    [row('tank/a@s', '-', '1', '1', '1', '1'), 'guid', "missing value '-'"],
    [row('tank/a@s', '1', '01', '1', '1', '1'), 'createtxg', 'not an unsigned 64-bit decimal: "01" has a leading zero'],
    [row('tank/a@s', '1', '1', '-1', '1', '1'), 'creation', 'not an unsigned 64-bit decimal: "-1" is negative'],
    [row('tank/a@s', '1', '1', '1.5', '1', '1'), 'creation', 'not an unsigned 64-bit decimal: "1.5" is not a plain decimal integer'],
    [row('tank/a@s', '1', '1', '1', '-', '1'), 'used', "missing value '-'"],
    [row('tank/a@s', '1', '1', '1', '1', ' 1'), 'referenced', 'not an unsigned 64-bit decimal: " 1" contains whitespace'],
    [row('tank/a;b@s', '1', '1', '1', '1', '1'), 'name', "contains a character not allowed in ZFS names: ';'"],
    [row('tank//a@s', '1', '1', '1', '1', '1'), 'name', "empty path component ('//')"],
    [row('', '1', '1', '1', '1', '1'), 'name', 'empty name'],
  ];
  for (const [line, field, reason] of cases) {
    const err = lineError(() => parseZfsListTsv(`${SNAP_A}\n${SNAP_B}\n${line}\n`));
    t.is(err.line, 3, line);
    t.is(err.field, field, line);
    t.is(err.reason, reason, line);
    t.is(err.message, `line 3, column ${field}: ${reason}`);
    t.is(err.name, 'TsvLineError');
    t.true(err instanceof Error);
  }
});

test('filesystem names are errors', (t) => {
  const err = lineError(() => parseZfsListTsv(row('tank/home', '1', '1', '1', '1', '1')));
  t.is(err.field, 'name');
  t.is(err.reason, 'a filesystem or volume, expected a snapshot (@) or bookmark (#)');
});

test('bookmark space columns may be "-" or a well-formed number, never junk', (t) => {
  t.is(parseZfsListTsv(row('tank/a#b', '1', '1', '1', '0', '12'))[0]!.bookmarks.length, 1);
  const err = lineError(() => parseZfsListTsv(row('tank/a#b', '1', '1', '1', '-', 'x')));
  t.is(err.field, 'referenced');
  // Bookmarks still need guid, createtxg and creation.
  t.is(lineError(() => parseZfsListTsv(row('tank/a#b', '1', '-', '1', '-', '-'))).field, 'createtxg');
});

test('creation becomes an ISO string and must be a plausible Unix time', (t) => {
  t.is(parseZfsListTsv(row('tank/a@s', '1', '1', '253402300799', '1', '1'))[0]!.snapshots[0]!.creation, '9999-12-31T23:59:59Z');
  const err = lineError(() => parseZfsListTsv(row('tank/a@s', '1', '1', '253402300800', '1', '1')));
  t.is(err.field, 'creation');
  t.regex(err.reason, /after year 9999/);
  // Milliseconds by mistake are far in the future and refused, not silently misread.
  t.is(lineError(() => parseZfsListTsv(row('tank/a@s', '1', '1', '1704067200000', '1', '1'))).field, 'creation');
});

test('a name listed twice is an error; a snapshot and a bookmark may share a short name', (t) => {
  const err = lineError(() => parseZfsListTsv([SNAP_A, SNAP_B, SNAP_A].join('\n')));
  t.is(err.line, 3);
  t.is(err.field, 'name');
  t.is(err.reason, 'duplicate tank/home@a (first on line 1)');
  t.is(lineError(() => parseZfsListTsv([BOOKMARK, BOOKMARK].join('\n'))).reason, 'duplicate tank/home#a (first on line 1)');
  t.notThrows(() => parseZfsListTsv([SNAP_A, BOOKMARK].join('\n')));
});

test('the incremental parser uses caller line numbers and strips line terminators', (t) => {
  const p = new ZfsListTsvParser();
  p.push(`${SNAP_A}\r\n`, 10);
  p.push('', 11);
  const err = lineError(() => p.push(row('tank/a@s', 'x', '1', '1', '1', '1'), 12));
  t.is(err.line, 12);
  p.push(SNAP_B, 13);
  const out = p.finish();
  t.deepEqual(out[0]!.snapshots.map((s) => s.name), ['a', 'b']);
  t.is(out[0]!.snapshots[0]!.referenced, '4096');
});

test('the incremental parser counts lines itself when none are given', (t) => {
  const p = new ZfsListTsvParser();
  p.push(SNAP_A);
  p.push('');
  t.is(lineError(() => p.push('junk')).line, 3);
});

test('push after finish is refused', (t) => {
  const p = new ZfsListTsvParser();
  p.push(SNAP_A);
  t.is(p.finish().length, 1);
  t.throws(() => p.push(SNAP_B), { message: /after finish/ });
});

test('parseZfsListTsv numbers lines from 1 across blank lines', (t) => {
  t.is(lineError(() => parseZfsListTsv(`\n\n${SNAP_A}\n\nbad`)).line, 5);
});

test('handles a large listing', (t) => {
  const lines: string[] = [];
  for (let d = 0; d < 100; d++) {
    for (let s = 0; s < 500; s++) lines.push(row(`tank/ds${d}@snap${s}`, String(1000000n + BigInt(d * 500 + s)), String(s + 1), '1704067200', '0', '1'));
  }
  const r = parseZfsListTsv(lines.join('\n'));
  t.is(r.length, 100);
  t.is(r[99]!.dataset, 'ds99');
  t.is(r[99]!.snapshots.length, 500);
  t.is(r[99]!.snapshots[499]!.createtxg, '500');
});

test('parseZfsListLine checks one line without keeping it (for streaming listings)', (t) => {
  t.deepEqual(parseZfsListLine('tank/my data@daily 1\t18446744073709551615\t42\t1700000000\t4096\t8192\n', 1), {
    pool: 'tank',
    dataset: 'my data',
    kind: 'snapshot',
    fullName: 'tank/my data@daily 1',
    name: 'daily 1',
    guid: '18446744073709551615',
    createtxg: '42',
    creation: 1700000000,
    used: '4096',
    referenced: '8192',
  });
  t.like(parseZfsListLine('tank#bm\t7\t3\t1700000000\t-\t-', 2), { pool: 'tank', dataset: '', kind: 'bookmark', used: null, referenced: null });
  t.is(parseZfsListLine('   ', 3), null);
  t.throws(() => parseZfsListLine('tank/x@a\t-1\t3\t1700000000\t1\t1', 4), { instanceOf: TsvLineError, message: /line 4, column guid/ });
});
