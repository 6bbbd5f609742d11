import test from 'ava';
import { conflictFromVerdict, remedyStrategiesFor } from './conflicts.js';
import { computeLinkVerdict } from './link-verdict.js';
import { absent, host, NOW, policy, series, snap } from './test-fixtures.js';
import type { HostDatasetView } from './types.js';

const [a, b, c] = series('auto-', 3);
const verdictOf = (source: HostDatasetView, target: HostDatasetView) => computeLinkVerdict({ source, target, policy: policy(), now: NOW });

test('diverged becomes a critical diverged conflict with base, source-only and target-only', (t) => {
  const conflict = conflictFromVerdict(verdictOf(host('S', [a!, b!, c!]), host('T', [a!, snap('local', 10)])));
  t.truthy(conflict);
  t.is(conflict!.type, 'diverged');
  t.is(conflict!.severity, 'critical');
  t.deepEqual(conflict!.details.base, { name: 'auto-0', guid: conflict!.details.base!.guid, kind: 'snapshot' });
  t.deepEqual(conflict!.details.source_only, ['auto-1', 'auto-2']);
  t.deepEqual(conflict!.details.target_only, ['local']);
  t.is(conflict!.details.source_only_count, 2);
  t.is(conflict!.details.target_only_count, 1);
  t.regex(conflict!.explanation, /^diverged/);
});

test('no_common_base becomes a critical conflict without a base', (t) => {
  const conflict = conflictFromVerdict(verdictOf(host('S', [a!]), host('T', [snap('x', 10)])));
  t.is(conflict?.type, 'no_common_base');
  t.is(conflict?.severity, 'critical');
  t.is(conflict?.details.base, null);
  t.deepEqual(conflict?.details.target_only, ['x']);
});

test('a name collision on an otherwise healthy link is a warning', (t) => {
  // The target has an unrelated snapshot called auto-0, older than the real base: harmless for
  // replication, but the names mislead whoever reads them.
  const target = host('T', [snap('auto-0', 9999, '12345'), b!]);
  const v = verdictOf(host('S', [a!, b!, c!]), target);
  t.is(v.verdict, 'behind');
  const conflict = conflictFromVerdict(v);
  t.is(conflict?.type, 'name_collision');
  t.is(conflict?.severity, 'warning');
  t.deepEqual(conflict?.details.name_collisions, ['auto-0']);
});

test('a blocked link outranks a name collision, which stays in the details', (t) => {
  const conflict = conflictFromVerdict(verdictOf(host('S', [a!, b!]), host('T', [a!, snap('auto-1', 100, '999')])));
  t.is(conflict?.type, 'diverged');
  t.deepEqual(conflict?.details.name_collisions, ['auto-1']);
});

test('healthy verdicts are not conflicts', (t) => {
  t.is(conflictFromVerdict(verdictOf(host('S', [a!, b!]), host('T', [a!, b!]))), null);
  t.is(conflictFromVerdict(verdictOf(host('S', [a!, b!]), host('T', [a!]))), null);
  t.is(conflictFromVerdict(verdictOf(host('S', [a!, b!]), absent('T'))), null);
});

test('remedy strategies per conflict type', (t) => {
  t.deepEqual(remedyStrategiesFor('diverged'), ['rollback_target', 'force_receive', 'rename_target', 'full_resend']);
  t.deepEqual(remedyStrategiesFor('no_common_base'), ['full_resend', 'rename_target']);
  t.deepEqual(remedyStrategiesFor('name_collision'), []);
});
