import test from 'ava';
import { compareUint64, isUint64String, parseUint64, UINT64_MAX } from './uint64.js';

const TWO_53 = '9007199254740992';
const TWO_63 = '9223372036854775808';
const MAX = '18446744073709551615';
const TWO_64 = '18446744073709551616';

test('UINT64_MAX is 2^64-1', (t) => {
  t.is(UINT64_MAX, 2n ** 64n - 1n);
  t.is(UINT64_MAX.toString(), MAX);
});

test('isUint64String accepts canonical decimals across the whole range', (t) => {
  for (const s of ['0', '1', '42', TWO_53, TWO_63, MAX]) t.true(isUint64String(s), s);
});

test('isUint64String refuses out-of-range and non-canonical spellings', (t) => {
  for (const s of [TWO_64, '99999999999999999999', '100000000000000000000', '-1', '-0', '01', '00', '1e3', ' 1', '1 ', '+1', '0x10', '1.0', '1_000', '', '\uff11']) {
    t.false(isUint64String(s), JSON.stringify(s));
  }
  t.false(isUint64String(1));
  t.false(isUint64String(null));
});

test('parseUint64 returns canonical strings unchanged', (t) => {
  for (const s of ['0', TWO_53, TWO_63, MAX]) t.deepEqual(parseUint64(s), { ok: true, value: s });
});

test('parseUint64 explains why a string is refused', (t) => {
  const reason = (v: unknown) => {
    const r = parseUint64(v);
    return r.ok ? '(accepted)' : r.reason;
  };
  t.is(reason(TWO_64), `"${TWO_64}" is above 2^64-1 (${MAX})`);
  t.is(reason('123456789012345678901'), '"123456789012345678901" is above 2^64-1 (18446744073709551615)');
  t.is(reason('-1'), '"-1" is negative');
  t.is(reason('01'), '"01" has a leading zero');
  t.is(reason('1e3'), '"1e3" is not a plain decimal integer');
  t.is(reason('0x10'), '"0x10" is not a plain decimal integer');
  t.is(reason(' 1'), '" 1" contains whitespace');
  t.is(reason('1\n'), '"1\\n" contains whitespace');
  t.is(reason(''), 'empty string is not a number');
  // Long junk is cut short in the message.
  t.is(reason('x'.repeat(1000)), `"${'x'.repeat(40)}…" is not a plain decimal integer`);
});

test('parseUint64 accepts non-negative safe-integer numbers as canonical strings', (t) => {
  t.deepEqual(parseUint64(0), { ok: true, value: '0' });
  t.deepEqual(parseUint64(-0), { ok: true, value: '0' });
  t.deepEqual(parseUint64(123456), { ok: true, value: '123456' });
  t.deepEqual(parseUint64(Number.MAX_SAFE_INTEGER), { ok: true, value: '9007199254740991' });
});

test('parseUint64 refuses numbers that lost precision or are not uint64', (t) => {
  const r = parseUint64(2 ** 53);
  t.false(r.ok);
  if (!r.ok) t.regex(r.reason, /above 2\^53-1, so precision was lost/);
  // A real guid arriving as a JSON number has already been rounded by JSON.parse.
  const rounded = parseUint64(JSON.parse('12345678901234567890'));
  t.false(rounded.ok);
  t.false(parseUint64(2 ** 64).ok);
  t.deepEqual(parseUint64(-1), { ok: false, reason: '-1 is negative' });
  t.deepEqual(parseUint64(1.5), { ok: false, reason: '1.5 is not an integer' });
  t.deepEqual(parseUint64(Number.NaN), { ok: false, reason: 'NaN is not a finite number' });
  t.deepEqual(parseUint64(Infinity), { ok: false, reason: 'Infinity is not a finite number' });
});

test('parseUint64 refuses other types', (t) => {
  t.deepEqual(parseUint64(null), { ok: false, reason: 'expected a decimal string or a number, got null' });
  t.deepEqual(parseUint64(undefined), { ok: false, reason: 'expected a decimal string or a number, got undefined' });
  t.deepEqual(parseUint64(['1']), { ok: false, reason: 'expected a decimal string or a number, got array' });
  t.deepEqual(parseUint64(1n), { ok: false, reason: 'expected a decimal string or a number, got bigint' });
  t.false(parseUint64({}).ok);
  t.false(parseUint64(true).ok);
});

test('compareUint64 orders numerically, not lexicographically and not through doubles', (t) => {
  t.is(compareUint64('0', '0'), 0);
  t.is(compareUint64('9', '10'), -1); // lexicographic order would say 1
  t.is(compareUint64('10', '9'), 1);
  t.is(compareUint64(TWO_63, TWO_53), 1);
  t.is(compareUint64(MAX, MAX), 0);
  // Adjacent values above 2^53 are equal as doubles but must not compare equal.
  t.is(compareUint64(TWO_53, '9007199254740993'), -1);
  t.is(compareUint64('18446744073709551614', MAX), -1);
  const sorted = [MAX, '0', TWO_63, '10', '9', TWO_53].sort(compareUint64);
  t.deepEqual(sorted, ['0', '9', '10', TWO_53, TWO_63, MAX]);
});

test('compareUint64 throws on non-canonical input instead of guessing', (t) => {
  for (const bad of ['', ' 1', '01', '0x10', '-1', TWO_64, '1e3']) {
    t.throws(() => compareUint64(bad, '1'), { instanceOf: TypeError }, JSON.stringify(bad));
    t.throws(() => compareUint64('1', bad), { instanceOf: TypeError }, JSON.stringify(bad));
  }
});
