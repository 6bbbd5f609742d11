import test from 'ava';
import { decideLinkFeedback, failureBackoffSeconds, nextAttemptAfterFailure, syncStatusOf, ARRIVAL_GRACE_SECONDS, type DecideInput, type LiveInstruction } from './feedback.js';
import { planIdentity, samePlan, type PlanIdentity, type PlanSnapshot } from './plan-identity.js';
import type { LinkVerdict } from './types.js';

const NOW = 1_000_000;

/** A verdict whose base/end carry guids when `guids` is true, else only names (the original client). */
const verdict = (v: LinkVerdict['verdict'], base: string | null, end: string | null, guids = true): LinkVerdict => ({
  verdict: v,
  matchedBy: guids ? 'guid' : 'name',
  base: base ? { name: `s${base}`, targetName: `s${base}`, guid: guids ? base : null, kind: 'snapshot' } : null,
  end: end ? { name: `s${end}`, guid: guids ? end : null, createtxg: '1', creation: 1 } : null,
  snapshotCount: 1,
  sourceOnly: { items: [], count: 0 },
  targetOnly: { items: [], count: 0 },
  lagSeconds: 0,
  nameCollisions: [],
  explanation: `${v} explanation`,
});

/** The plan a verdict calls for (what the engine builds), as an identity. */
const planFor = (v: LinkVerdict, over: Partial<PlanIdentity> = {}): PlanIdentity | null =>
  ['behind', 'out_of_sync', 'not_seeded'].includes(v.verdict) && v.end
    ? planIdentity({
        kind: v.base ? 'incremental' : 'full',
        sourceSystemId: 'S',
        targetSystemId: 'T',
        pool: 'tank',
        targetPool: 'backup',
        dataset: 'data',
        startingSnapshot: v.base?.name ?? null,
        startingGuid: v.base?.guid ?? null,
        initialSnapshot: null,
        initialGuid: null,
        endingSnapshot: v.end.name,
        endingGuid: v.end.guid,
        resumeToken: null,
        ...over,
      } as never)
    : null;

const live = (identity: PlanIdentity, over: Partial<LiveInstruction> = {}): LiveInstruction => ({
  identity,
  status: 'pending',
  leaseExpiresAt: null,
  startedAt: null,
  finishedAt: null,
  consecutiveFailures: 0,
  nextAttemptAt: null,
  lastError: null,
  bytesTransferred: null,
  ...over,
});

const decide = (v: LinkVerdict, l: LiveInstruction | null, over: Partial<DecideInput> = {}) =>
  decideLinkFeedback({ verdict: v, wanted: planFor(v), live: l, targetHolds: () => false, targetReportedAt: null, now: NOW, ...over });

test('a link with something to send gets a plan; in sync and conflicts get none', (t) => {
  t.like(decide(verdict('behind', '1', '2'), null), { verdict: 'behind', action: 'create' });
  t.like(decide(verdict('not_seeded', null, '2'), null), { verdict: 'not_seeded', action: 'create' });
  t.like(decide(verdict('in_sync', '2', null), null), { verdict: 'in_sync', action: 'none' });
  t.like(decide(verdict('diverged', '1', null), null), { verdict: 'diverged', action: 'none' });
});

test('plan identity: guids when both sides have them, else names — two guid-less plans are not equal just because their guids are null', (t) => {
  const old = planFor(verdict('behind', '1', '2', false))!;
  const moved = planFor(verdict('behind', '1', '3', false))!;
  t.false(samePlan(old, moved));
  t.true(samePlan(old, planFor(verdict('behind', '1', '2', false))!));
  // A renamed end with the same guid is the same snapshot; the same name with another guid is not.
  const a = planFor(verdict('behind', '1', '2'))!;
  t.true(samePlan(a, { ...a, end: { name: 'renamed', guid: '2' } }));
  t.false(samePlan(a, { ...a, end: { name: a.end!.name, guid: '99' } }));
  // Kind, hosts, pools and the resume token are part of it.
  t.false(samePlan(a, { ...a, kind: 'full', base: null }));
  t.false(samePlan(a, { ...a, targetPool: 'other' }));
  t.false(samePlan(a, { ...a, resumeToken: '1-abc-def' }));
});

test('a guid-less hub that took a new snapshot replaces the live plan (the field defect)', (t) => {
  const handed = live(planFor(verdict('behind', '1', '2', false))!, { status: 'offered', leaseExpiresAt: NOW + 3000 });
  const d = decide(verdict('behind', '1', '3', false), handed);
  t.is(d.action, 'replace');
  t.regex(d.explanation, /end moved from @s2 to @s3/);
});

test('a full send is replaced once the target has the dataset', (t) => {
  const full = live(planFor(verdict('not_seeded', null, '1', false))!, { status: 'offered', leaseExpiresAt: NOW + 3000 });
  const d = decide(verdict('behind', '1', '2', false), full);
  t.is(d.action, 'replace');
  t.regex(d.explanation, /from a full send to an incremental send/);
});

test('succeeded is syncing until the target shows the end (by guid, or by name without guids), then complete', (t) => {
  const v = verdict('behind', '1', '2');
  const ok = live(planFor(v)!, { status: 'succeeded', finishedAt: NOW - 10 });
  t.like(decide(v, ok), { verdict: 'syncing', action: 'keep' });
  const holds2 = (s: PlanSnapshot) => s.guid === '2';
  t.like(decide(verdict('in_sync', '2', null), ok, { targetHolds: holds2 }), { verdict: 'in_sync', action: 'complete' });
  t.like(decide(verdict('behind', '2', '3'), ok, { targetHolds: holds2 }), { verdict: 'behind', action: 'complete_and_create' });
  const nameless = live(planFor(verdict('behind', '1', '2', false))!, { status: 'succeeded', finishedAt: NOW - 10 });
  t.like(decide(verdict('in_sync', '2', null, false), nameless, { targetHolds: (s) => s.name === 's2' }), { action: 'complete' });
});

test('a success the target never shows is not believed forever', (t) => {
  const v = verdict('behind', '1', '2');
  const ok = live(planFor(v)!, { status: 'succeeded', finishedAt: NOW - 1000 });
  t.like(decide(v, ok, { targetReportedAt: NOW - 1000 + ARRIVAL_GRACE_SECONDS - 1 }), { verdict: 'syncing', action: 'keep' });
  const d = decide(v, ok, { targetReportedAt: NOW - 1000 + ARRIVAL_GRACE_SECONDS });
  t.like(d, { verdict: 'behind', action: 'replace' });
  t.regex(d.explanation, /reported succeeded .* do not show @s2/);
});

test('a started plan under its lease is syncing; a silent host makes it offerable again, and the link says so', (t) => {
  const v = verdict('behind', '1', '2');
  t.like(decide(verdict('behind', '1', '3'), live(planFor(v)!, { status: 'started', leaseExpiresAt: NOW + 10, startedAt: NOW - 5 })), { verdict: 'syncing', action: 'keep' });
  const silent = decide(v, live(planFor(v)!, { status: 'started', leaseExpiresAt: NOW - 1, startedAt: NOW - 4000 }));
  t.like(silent, { verdict: 'behind', action: 'keep' });
  t.regex(silent.explanation, /transfer started at .* reported nothing since/);
});

test('a failed transfer shows the computed verdict with its error; three in a row show error; it stays until the plan changes', (t) => {
  const v = verdict('behind', '1', '2');
  const once = decide(v, live(planFor(v)!, { status: 'failed', consecutiveFailures: 1, lastError: 'pool is full', nextAttemptAt: NOW + 60 }));
  t.like(once, { verdict: 'behind', action: 'keep' });
  t.regex(once.explanation, /failed \(1 in a row\): pool is full; next attempt in 1m/);
  t.like(decide(verdict('out_of_sync', '1', '2'), live(planFor(verdict('out_of_sync', '1', '2'))!, { status: 'failed', consecutiveFailures: 3, lastError: 'x' })), { verdict: 'error', action: 'keep' });
  t.like(decide(verdict('in_sync', '2', null), live(planFor(v)!, { status: 'failed', consecutiveFailures: 5 })), { verdict: 'in_sync', action: 'supersede' });
  t.like(decide(verdict('behind', '1', '3'), live(planFor(v)!, { status: 'failed', consecutiveFailures: 1, lastError: 'x' })), { verdict: 'behind', action: 'replace' });
});

test('a remedy stays until its condition is gone', (t) => {
  const remedy = live({ ...planFor(verdict('behind', '1', '2'))!, kind: 'remedy', strategy: 'rollback_target' });
  const waiting = decide(verdict('diverged', '1', null), remedy);
  t.like(waiting, { verdict: 'diverged', action: 'keep' });
  t.regex(waiting.explanation, /rollback_target is waiting to run/);
  t.like(decide(verdict('diverged', '1', null), { ...remedy, status: 'started', leaseExpiresAt: NOW + 5 }), { verdict: 'syncing', action: 'keep' });
  t.like(decide(verdict('behind', '1', '2'), remedy), { verdict: 'behind', action: 'replace' });
  t.like(decide(verdict('in_sync', '2', null), remedy), { verdict: 'in_sync', action: 'supersede' });
  // A rollback-only remedy (nothing to send) is done when the conflict is gone.
  const rollbackOnly = live({ ...remedy.identity, end: null }, { status: 'succeeded', finishedAt: NOW });
  t.like(decide(verdict('in_sync', '1', null), rollbackOnly), { action: 'complete' });
  t.like(decide(verdict('diverged', '1', null), rollbackOnly), { verdict: 'syncing', action: 'keep' });
});

test('backoff doubles and is capped; the engine sets it once per failure', (t) => {
  t.deepEqual([1, 2, 3, 4].map((n) => failureBackoffSeconds(n)), [60, 120, 240, 480]);
  t.is(failureBackoffSeconds(30), 6 * 3600);
  t.is(failureBackoffSeconds(3, { baseSeconds: 1, maxSeconds: 3 }), 3);
  const failed = live(planFor(verdict('behind', '1', '2'))!, { status: 'failed', consecutiveFailures: 2, finishedAt: NOW - 5 });
  t.is(nextAttemptAfterFailure(failed, NOW), NOW - 5 + 120);
  t.is(nextAttemptAfterFailure({ ...failed, nextAttemptAt: NOW + 1 }, NOW), null);
  t.is(nextAttemptAfterFailure({ ...failed, status: 'pending' }, NOW), null);
});

test('coarse statuses of the original API', (t) => {
  t.is(syncStatusOf('diverged'), 'conflict');
  t.is(syncStatusOf('behind'), 'out_of_sync');
  t.is(syncStatusOf('not_seeded'), 'out_of_sync');
  t.is(syncStatusOf('syncing'), 'syncing');
  t.is(syncStatusOf('error'), 'error');
});
