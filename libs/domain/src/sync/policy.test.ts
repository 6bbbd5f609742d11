import test from 'ava';
import { checkSyncPolicy, DEFAULT_MAX_LAG_SECONDS, defaultSyncPolicy } from './policy.js';

test('defaults follow the issue', (t) => {
  const p = defaultSyncPolicy('g');
  t.is(p.transferMode, 'push');
  t.is(p.snapshotPattern, null);
  t.is(p.minSnapshotAgeSeconds, 0);
  t.is(p.maxLagSeconds, DEFAULT_MAX_LAG_SECONDS);
  t.is(DEFAULT_MAX_LAG_SECONDS, 72 * 3600);
  t.deepEqual(p.sendOptions, { compressed: true, raw: false });
  t.deepEqual(p.receiveOptions, { resumable: true, unmounted: false });
  t.deepEqual(p.datasets, { include: [], exclude: [] });
  t.false(p.directional);
  t.deepEqual(checkSyncPolicy(p), []);
});

test('a directional group needs a hub that is a member', (t) => {
  t.deepEqual(checkSyncPolicy(defaultSyncPolicy('g', { directional: true })), ['hub_system_id is required when directional is true']);
  t.deepEqual(checkSyncPolicy(defaultSyncPolicy('g', { directional: true, hubSystemId: 'x' }), ['a', 'b']), ['hub_system_id must be a member of the group']);
  t.deepEqual(checkSyncPolicy(defaultSyncPolicy('g', { directional: true, hubSystemId: 'a' }), ['a', 'b']), []);
});

test('every invalid field is reported', (t) => {
  const problems = checkSyncPolicy(
    defaultSyncPolicy('g', {
      transferMode: 'sideways' as 'push',
      snapshotPattern: '(a+)+$',
      minSnapshotAgeSeconds: -1,
      maxLagSeconds: 1.5,
      datasets: { include: ['a//b'], exclude: ['ok/**'] },
      targetPools: { stranger: '1bad' },
    }),
    ['a'],
  );
  t.is(problems.length, 7, problems.join('\n'));
  t.true(problems.some((p) => /snapshot_pattern: nested quantifier/.test(p)));
  t.true(problems.some((p) => /target_pools: stranger is not a member/.test(p)));
  t.true(problems.some((p) => /must start with a letter/.test(p)));
});
