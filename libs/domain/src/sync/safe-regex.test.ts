import test from 'ava';
import { compileRegexNode, compileSafePattern, rx, type SafeMatcher } from './safe-regex.js';

function compile(pattern: string): SafeMatcher {
  const result = compileSafePattern(pattern);
  if (!result.ok) throw new Error(`${pattern}: ${result.reason}`);
  return result.matcher;
}

function reasonFor(pattern: string): string | null {
  const result = compileSafePattern(pattern);
  return result.ok ? null : result.reason;
}

const SAMPLE_INPUTS = [
  '', 'a', 'ab', 'abc', 'aaa', 'b', 'auto-2024-01-01_00:00', 'auto-2024-01-01-000000', 'daily-000000',
  'hourly-120000', 'zrepl_20240101_000000_000', 'x y z', 'with space', 'a.b', 'a\nb', '{', '{}', '-', ']',
  'autosnap_2024-01-01_00:00:00_daily', 'A1_b2', '%', 'é', '\u2028', '\t', 'xaaab', '1234', '12-34',
];

const AGREEING_PATTERNS = [
  '', 'a', '^a', 'a$', '^a$', '^$', 'abc', 'a|b', '^(a|b)$', 'a*', '^a*$', 'a+b', 'a?b', '^a{2}$', '^a{1,2}$',
  '^a{2,}', '.', '^.$', '[abc]', '[^abc]', '[a-z]+', '^[a-z]+$', '[\\d-]', '[-a]', '[a-]', '[]', '[^]', '\\d+',
  '^\\d{4}$', '\\D', '\\w+', '\\W', '\\s', '\\S+', '-000000$', '^auto-\\d{4}-\\d{2}-\\d{2}', '(?:daily|hourly)-',
  '^(?<kind>daily|hourly)-\\d{6}$', '\\.', '\\-', 'x\\ y', '\\x41', '\\u0041', '\\t', '\\n', '[\\b]', '{', 'a{',
  'a{,2}', '}', ']', '^(ab)*$', '^(ab)+c?$', '^(-\\d{2})?$', 'a*?b', 'a+?', '^\\d*\\d*\\d*x', '.*x.*y',
  '^auto-\\d{8}(-\\d{6})?$', '[%]', 'é', '\\cA', '\\0', '$a', 'a^', '(a)(b)(c)', '(?:)', '()',
  '^(a|bc|d)*$', '[\\s\\S]', '[^\\d]', 'a{0}b', '^[a-c-e]+$', '^[--a]$',
];

test('matches exactly like RegExp#test on a sample of patterns and inputs', (t) => {
  for (const pattern of AGREEING_PATTERNS) {
    const ours = compile(pattern);
    const native = new RegExp(pattern);
    for (const input of SAMPLE_INPUTS) {
      t.is(ours.test(input), native.test(input), `pattern ${JSON.stringify(pattern)} on ${JSON.stringify(input)}`);
    }
  }
});

test('agrees with RegExp#test on random inputs (fuzz)', (t) => {
  const alphabet = ['a', 'b', '1', '-', '_', ' ', ':', '0', 'x', 'y'];
  let seed = 12345;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (const pattern of AGREEING_PATTERNS) {
    const ours = compile(pattern);
    const native = new RegExp(pattern);
    for (let k = 0; k < 60; k++) {
      let input = '';
      const len = random(12);
      for (let i = 0; i < len; i++) input += alphabet[random(alphabet.length)];
      t.is(ours.test(input), native.test(input), `pattern ${JSON.stringify(pattern)} on ${JSON.stringify(input)}`);
    }
  }
});

test('refuses backreferences, lookaround and unsupported escapes with a reason', (t) => {
  t.regex(reasonFor('(a)\\1')!, /backreference/);
  t.regex(reasonFor('(?<x>a)\\k<x>')!, /backreference/);
  t.regex(reasonFor('a(?=b)')!, /lookaround/);
  t.regex(reasonFor('a(?!b)')!, /lookaround/);
  t.regex(reasonFor('(?<=a)b')!, /lookaround/);
  t.regex(reasonFor('(?<!a)b')!, /lookaround/);
  t.regex(reasonFor('\\bword')!, /word-boundary/);
  t.regex(reasonFor('\\p{L}')!, /property/);
  t.regex(reasonFor('\\a')!, /unknown escape/);
  t.regex(reasonFor('[\\d-z]')!, /range/);
  t.regex(reasonFor('a{300}')!, /repeat count/);
});

test('refuses invalid syntax with the engine message', (t) => {
  for (const bad of ['(', 'a)', '[a', '*a', 'a**', '[z-a]', '\\', 'a{2,1}']) {
    t.regex(reasonFor(bad)!, /invalid regular expression/, bad);
  }
});

test('refuses nested quantifiers and repeated overlapping alternatives', (t) => {
  for (const bad of ['(a+)+$', '(a*)*', '(a+)*b', '(\\d+)?', '(a|a)*', '(a|ab)+', '((a|b)|a)*', '(a|)*', '(x\\d*){2}']) {
    t.truthy(reasonFor(bad), bad);
  }
  // Fixed counts offer no choice; distinct first characters make alternatives unambiguous.
  for (const good of ['(-\\d{6})?', '(ab)*', '(?:daily|hourly)*', '(a|b)+', '(a+){1}']) {
    t.is(reasonFor(good), null, good);
  }
});

test('matching time stays linear where a backtracking engine explodes', (t) => {
  // Natively `\d*\d*\d*x` takes over a second on one 255-digit name; `(1|1)…` and `1?…` far longer.
  const digits = '1'.repeat(255);
  const patterns = ['\\d*\\d*\\d*\\d*\\d*x', '.*.*.*.*x', `${'1?'.repeat(60)}${'1'.repeat(60)}x`, `${'(1|2)'.repeat(40)}x`];
  for (const pattern of patterns) {
    const matcher = compile(pattern);
    const started = performance.now();
    for (let i = 0; i < 1000; i++) t.false(matcher.test(digits));
    const elapsed = performance.now() - started;
    t.log(`${pattern.slice(0, 30)}…: 1000 × 255 chars in ${elapsed.toFixed(1)} ms`);
    t.true(elapsed < 2000);
  }
});

test('ASTs built in code compile too (used for globs)', (t) => {
  const matcher = compileRegexNode(rx.seq(rx.start(), rx.star(rx.anyCharExcept('/')), rx.char('!'), rx.end()));
  t.true(matcher.test('abc!'));
  t.false(matcher.test('a/c!'));
  t.true(compileRegexNode(rx.seq(rx.start(), rx.optional(rx.char('x')), rx.end())).test(''));
});

test('non-ASCII input is handled like RegExp does', (t) => {
  const matcher = compile('^.{2}$');
  t.true(matcher.test('éé'));
  t.false(matcher.test('é\u2028'));
});
