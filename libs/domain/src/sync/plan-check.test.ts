import test from 'ava';
import { buildTransferPlan } from './commands.js';
import { checkPlanAgainstInventories } from './plan-check.js';
import { absent, byDataset, host, member, NOW, policy, series, type HostOptions, type SnapSpec } from './test-fixtures.js';
import { planGroupLinks } from './topology.js';
import type { HostDatasetView } from './types.js';

const [a, b, c, d] = series('auto-', 4);
const members = [member('S'), member('T')];
const S = (snaps: SnapSpec[], opts: HostOptions = {}) => host('S', snaps, opts);
const T = (snaps: SnapSpec[], opts: HostOptions = {}) => host('T', snaps, { pool: 'backup', ...opts });

function planOf(source: HostDatasetView, target: HostDatasetView) {
  const p = policy({ directional: true, hubSystemId: 'S' });
  const [link] = planGroupLinks({ policy: p, members, datasetViews: byDataset(source, target), now: NOW });
  return buildTransferPlan(link!, { policy: p, members })!;
}

test('a plan is runnable against the inventories it was made from', (t) => {
  const s = S([a!, b!, c!]);
  t.deepEqual(checkPlanAgainstInventories(planOf(s, T([a!])), s, T([a!])), { ok: true });
  t.deepEqual(checkPlanAgainstInventories(planOf(s, absent('T')), s, null), { ok: true });
  t.deepEqual(checkPlanAgainstInventories(planOf(s, absent('T')), s, absent('T')), { ok: true });
});

test('an incremental is refused once the target\'s newest snapshot is not the base', (t) => {
  const s = S([a!, b!, c!]);
  const p = planOf(s, T([a!]));
  const r = checkPlanAgainstInventories(p, s, T([a!, b!]));
  t.false(r.ok);
  t.regex((r as { reason: string }).reason, /newest snapshot is now @auto-1, not the base @auto-0/);
  t.false(checkPlanAgainstInventories(p, s, absent('T')).ok);
  t.false(checkPlanAgainstInventories(p, s, T([])).ok);
  // guid-less hosts compare names.
  const sn = S([a!, b!, c!], { noGuids: true });
  const pn = planOf(sn, T([a!], { noGuids: true }));
  t.true(checkPlanAgainstInventories(pn, sn, T([a!], { noGuids: true })).ok);
  t.false(checkPlanAgainstInventories(pn, sn, T([a!, b!], { noGuids: true })).ok);
});

test('a full send is refused once the target has the dataset', (t) => {
  const s = S([a!, b!]);
  const r = checkPlanAgainstInventories(planOf(s, absent('T')), s, T([]));
  t.false(r.ok);
  t.regex((r as { reason: string }).reason, /destination exists/);
});

test('a plan whose end or base is gone from the source is refused', (t) => {
  const p = planOf(S([a!, b!, c!]), T([a!]));
  t.regex((checkPlanAgainstInventories(p, S([a!, b!]), T([a!])) as { reason: string }).reason, /no longer has tank\/data@auto-2/);
  t.regex((checkPlanAgainstInventories(p, S([b!, c!]), T([a!])) as { reason: string }).reason, /no longer has the base @auto-0/);
  t.regex((checkPlanAgainstInventories(p, absent('S'), T([a!])) as { reason: string }).reason, /no longer has tank\/data/);
  void d;
});

test('a resume plan needs the very token the target holds', (t) => {
  const s = S([a!, b!, c!]);
  const p = planOf(s, T([a!], { receiveResumeToken: '1-aa-bb-cc' }));
  t.is(p.kind, 'resume');
  t.true(checkPlanAgainstInventories(p, s, T([a!], { receiveResumeToken: '1-aa-bb-cc' })).ok);
  t.false(checkPlanAgainstInventories(p, s, T([a!], { receiveResumeToken: '1-aa-bb-dd' })).ok);
  t.false(checkPlanAgainstInventories(p, s, T([a!])).ok);
});
