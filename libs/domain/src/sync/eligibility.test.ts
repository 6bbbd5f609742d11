import test from 'ava';
import {
  checkDatasetGlob,
  checkSnapshotPattern,
  compileSnapshotPattern,
  datasetGlobMatches,
  datasetSelected,
  eligibilityRules,
  isEligible,
  MAX_SNAPSHOT_PATTERN_LENGTH,
} from './eligibility.js';
import type { SnapshotRef } from './types.js';

const NOW = 1_000_000;
const at = (name: string, creation: number): SnapshotRef => ({ name, guid: '1', createtxg: '1', creation });

test('accepts ordinary snapshot patterns', (t) => {
  for (const p of ['-000000$', '^auto-\\d{4}-\\d{2}-\\d{2}_\\d{2}:\\d{2}$', '^(daily|weekly)-', '^zrepl_.*', '^auto-\\d{8}(-\\d{6})?$']) {
    t.is(checkSnapshotPattern(p), null, p);
  }
});

test('refuses the classic ReDoS (a+)+$ and other nested or stacked quantifiers', (t) => {
  t.regex(checkSnapshotPattern('(a+)+$')!, /nested quantifier/);
  t.truthy(checkSnapshotPattern('^(\\d+)*$'));
  t.truthy(checkSnapshotPattern('(x+x+)+y'));
  t.truthy(checkSnapshotPattern('(a|aa)*b'));
  t.truthy(checkSnapshotPattern('(.*a){3}'));
});

test('refuses invalid syntax, backreferences, lookaround and overlong patterns', (t) => {
  t.regex(checkSnapshotPattern('(unclosed')!, /invalid regular expression/);
  t.regex(checkSnapshotPattern('(a)\\1')!, /backreference/);
  t.regex(checkSnapshotPattern('a(?=b)')!, /lookaround/);
  t.regex(checkSnapshotPattern('(?<!a)b')!, /lookaround/);
  t.is(checkSnapshotPattern('a'.repeat(MAX_SNAPSHOT_PATTERN_LENGTH)), null);
  t.regex(checkSnapshotPattern('a'.repeat(MAX_SNAPSHOT_PATTERN_LENGTH + 1))!, /longer than 256/);
});

test('compileSnapshotPattern throws with the reason', (t) => {
  t.throws(() => compileSnapshotPattern('(a+)+$'), { message: /nested quantifier/ });
  t.true(compileSnapshotPattern('-000000$').test('daily-2024-01-01-000000'));
});

test('snapshot_pattern filters by short name', (t) => {
  const rules = eligibilityRules({ snapshotPattern: '-000000$', minSnapshotAgeSeconds: 0 }, NOW);
  t.true(isEligible(at('auto-20240101-000000', 0), rules));
  t.false(isEligible(at('auto-20240101-120000', 0), rules));
});

test('no pattern (null or empty) makes every name eligible', (t) => {
  t.true(isEligible(at('anything', 0), eligibilityRules({ snapshotPattern: null, minSnapshotAgeSeconds: 0 }, NOW)));
  t.true(isEligible(at('anything', 0), eligibilityRules({ snapshotPattern: '', minSnapshotAgeSeconds: 0 }, NOW)));
});

test('min_snapshot_age_seconds: exactly old enough is eligible, one second younger is not', (t) => {
  const rules = eligibilityRules({ snapshotPattern: null, minSnapshotAgeSeconds: 600 }, NOW);
  t.true(isEligible(at('s', NOW - 600), rules));
  t.false(isEligible(at('s', NOW - 599), rules));
  t.true(isEligible(at('s', NOW - 601), rules));
});

test('a snapshot from the future (clock skew) is not eligible even with min age 0', (t) => {
  const rules = eligibilityRules({ snapshotPattern: null, minSnapshotAgeSeconds: 0 }, NOW);
  t.true(isEligible(at('s', NOW), rules));
  t.false(isEligible(at('s', NOW + 1), rules));
});

test('* stays within one component, ** crosses components', (t) => {
  t.true(datasetGlobMatches('home/*', 'home/alice'));
  t.false(datasetGlobMatches('home/*', 'home/alice/docs'));
  t.false(datasetGlobMatches('home/*', 'home'));
  t.true(datasetGlobMatches('home/**', 'home/alice/docs'));
  t.true(datasetGlobMatches('home/**', 'home'), 'a trailing /** includes the dataset itself');
  t.false(datasetGlobMatches('home/**', 'homer'));
  t.true(datasetGlobMatches('**/cache', 'cache'));
  t.true(datasetGlobMatches('**/cache', 'a/b/cache'));
  t.false(datasetGlobMatches('**/cache', 'a/bcache'));
  t.true(datasetGlobMatches('vm/**/disk0', 'vm/disk0'));
  t.true(datasetGlobMatches('vm/**/disk0', 'vm/a/b/disk0'));
  t.true(datasetGlobMatches('**', ''));
  t.true(datasetGlobMatches('**', 'a/b/c'));
  t.true(datasetGlobMatches('*', 'top'));
  t.false(datasetGlobMatches('*', 'top/child'));
  t.true(datasetGlobMatches('db-*-prod', 'db-eu-prod'));
  t.true(datasetGlobMatches('my data/*', 'my data/x y'));
  t.true(datasetGlobMatches('', ''), 'an empty glob names the pool root');
  t.false(datasetGlobMatches('', 'a'));
});

test('datasetSelected: include (all when empty) minus exclude', (t) => {
  t.true(datasetSelected('anything/below', { include: [], exclude: [] }));
  t.true(datasetSelected('', { include: [], exclude: [] }));
  const sel = { include: ['home/**', 'srv/*'], exclude: ['**/cache', 'home/tmp/**'] };
  t.true(datasetSelected('home/alice', sel));
  t.true(datasetSelected('srv/www', sel));
  t.false(datasetSelected('srv/www/logs', sel));
  t.false(datasetSelected('home/alice/cache', sel));
  t.false(datasetSelected('home/tmp', sel));
  t.false(datasetSelected('home/tmp/x', sel));
  t.false(datasetSelected('var', sel));
});

test('checkDatasetGlob refuses what can never name a dataset', (t) => {
  t.is(checkDatasetGlob('home/**'), null);
  t.is(checkDatasetGlob('**/cache'), null);
  t.truthy(checkDatasetGlob('a/***'));
  t.truthy(checkDatasetGlob('/leading'));
  t.truthy(checkDatasetGlob('a//b'));
  t.truthy(checkDatasetGlob('a@snap'));
  t.truthy(checkDatasetGlob("it's"));
  t.throws(() => datasetSelected('a', { include: ['a//b'], exclude: [] }), { message: /invalid dataset glob/ });
});

test('matching cost stays linear for adversarial globs', (t) => {
  const glob = '*a*a*a*a*a*a*a*a*b';
  const path = 'a'.repeat(250);
  const started = performance.now();
  for (let i = 0; i < 200; i++) t.false(datasetGlobMatches(glob, path));
  t.true(performance.now() - started < 1000);
});
