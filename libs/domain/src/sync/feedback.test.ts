import test from 'ava';
import { decideLinkFeedback, failureBackoffSeconds, syncStatusOf, type LiveInstruction } from './feedback.js';
import type { LinkVerdict } from './types.js';

const verdict = (v: LinkVerdict['verdict'], base: string | null, end: string | null): LinkVerdict => ({
  verdict: v,
  matchedBy: 'guid',
  base: base ? { name: `b${base}`, targetName: `b${base}`, guid: base, kind: 'snapshot' } : null,
  end: end ? { name: `e${end}`, guid: end, createtxg: '1', creation: 1 } : null,
  snapshotCount: 1,
  sourceOnly: { items: [], count: 0 },
  targetOnly: { items: [], count: 0 },
  lagSeconds: 0,
  nameCollisions: [],
  explanation: 'x',
});
const live = (over: Partial<LiveInstruction> = {}): LiveInstruction => ({ kind: 'transfer', status: 'pending', startingGuid: '1', endingGuid: '2', leaseExpiresAt: null, consecutiveFailures: 0, ...over });
const nobody = () => false;
const NOW = 1000;

test('a behind link without an instruction gets one; an in-sync link none', (t) => {
  t.like(decideLinkFeedback({ verdict: verdict('behind', '1', '2'), live: null, targetHas: nobody, now: NOW }), { verdict: 'behind', action: 'create' });
  t.like(decideLinkFeedback({ verdict: verdict('not_seeded', null, '2'), live: null, targetHas: nobody, now: NOW }), { verdict: 'not_seeded', action: 'create' });
  t.like(decideLinkFeedback({ verdict: verdict('in_sync', '2', null), live: null, targetHas: nobody, now: NOW }), { verdict: 'in_sync', action: 'none' });
  t.like(decideLinkFeedback({ verdict: verdict('diverged', '1', null), live: null, targetHas: nobody, now: NOW }), { verdict: 'diverged', action: 'none' });
});

test('succeeded is syncing until the target shows the end guid, then in sync', (t) => {
  const ok = live({ status: 'succeeded' });
  t.like(decideLinkFeedback({ verdict: verdict('behind', '1', '2'), live: ok, targetHas: nobody, now: NOW }), { verdict: 'syncing', action: 'keep' });
  t.like(decideLinkFeedback({ verdict: verdict('in_sync', '2', null), live: ok, targetHas: (g) => g === '2', now: NOW }), { verdict: 'in_sync', action: 'complete' });
  // Arrived, but a newer snapshot exists meanwhile: complete and plan the next transfer.
  t.like(decideLinkFeedback({ verdict: verdict('behind', '2', '3'), live: ok, targetHas: (g) => g === '2', now: NOW }), { verdict: 'behind', action: 'complete_and_create' });
});

test('a started plan under lease is kept (syncing); an expired lease makes it offerable again', (t) => {
  t.like(decideLinkFeedback({ verdict: verdict('behind', '1', '3'), live: live({ status: 'started', leaseExpiresAt: NOW + 10 }), targetHas: nobody, now: NOW }), { verdict: 'syncing', action: 'keep' });
  t.like(decideLinkFeedback({ verdict: verdict('behind', '1', '2'), live: live({ status: 'started', leaseExpiresAt: NOW - 1 }), targetHas: nobody, now: NOW }), { verdict: 'behind', action: 'keep' });
  t.like(decideLinkFeedback({ verdict: verdict('behind', '1', '3'), live: live({ status: 'offered', leaseExpiresAt: NOW - 1 }), targetHas: nobody, now: NOW }), { action: 'replace' });
});

test('a new end snapshot replaces a pending plan; failures turn into error after three in a row', (t) => {
  t.like(decideLinkFeedback({ verdict: verdict('behind', '1', '3'), live: live(), targetHas: nobody, now: NOW }), { verdict: 'behind', action: 'replace' });
  t.like(decideLinkFeedback({ verdict: verdict('behind', '1', '2'), live: live({ status: 'failed', consecutiveFailures: 2 }), targetHas: nobody, now: NOW }), { verdict: 'behind', action: 'keep' });
  t.like(decideLinkFeedback({ verdict: verdict('out_of_sync', '1', '2'), live: live({ status: 'failed', consecutiveFailures: 3 }), targetHas: nobody, now: NOW }), { verdict: 'error', action: 'keep' });
  t.like(decideLinkFeedback({ verdict: verdict('in_sync', '2', null), live: live({ status: 'failed', consecutiveFailures: 5 }), targetHas: nobody, now: NOW }), { verdict: 'in_sync', action: 'supersede' });
});

test('a remedy stays until its condition is gone', (t) => {
  const remedy = live({ kind: 'remedy', startingGuid: null, endingGuid: null });
  t.like(decideLinkFeedback({ verdict: verdict('diverged', '1', null), live: remedy, targetHas: nobody, now: NOW }), { verdict: 'diverged', action: 'keep' });
  t.like(decideLinkFeedback({ verdict: verdict('behind', '1', '2'), live: remedy, targetHas: nobody, now: NOW }), { verdict: 'behind', action: 'replace' });
  t.like(decideLinkFeedback({ verdict: verdict('in_sync', '2', null), live: remedy, targetHas: nobody, now: NOW }), { verdict: 'in_sync', action: 'supersede' });
});

test('backoff doubles and is capped; coarse statuses', (t) => {
  t.deepEqual([1, 2, 3, 4].map(failureBackoffSeconds), [60, 120, 240, 480]);
  t.is(failureBackoffSeconds(30), 6 * 3600);
  t.is(syncStatusOf('diverged'), 'conflict');
  t.is(syncStatusOf('behind'), 'out_of_sync');
  t.is(syncStatusOf('not_seeded'), 'out_of_sync');
  t.is(syncStatusOf('syncing'), 'syncing');
});
