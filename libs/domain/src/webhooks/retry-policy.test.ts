import test from 'ava';
import { classifyResponse, decideRetry, parseDurationMs, parseRetryAfterMs } from './retry-policy.js';

const now = new Date('2026-12-01T00:00:00Z');
const schedule = [5000, 300_000];
const base = { scheduleMs: schedule, now, failingSince: null, disableAfterMs: 5 * 86_400_000 };

test('2xx succeeds, 3xx fails, 410 is gone, 429/503 carry Retry-After', (t) => {
  t.deepEqual(classifyResponse(204, undefined, now), { kind: 'success' });
  t.deepEqual(classifyResponse(302, '10', now), { kind: 'failure', retryAfterMs: null });
  t.deepEqual(classifyResponse(410, undefined, now), { kind: 'gone' });
  t.deepEqual(classifyResponse(429, '7', now), { kind: 'failure', retryAfterMs: 7000 });
  t.deepEqual(classifyResponse(503, 'Tue, 01 Dec 2026 00:01:00 GMT', now), { kind: 'failure', retryAfterMs: 60_000 });
  t.deepEqual(classifyResponse(500, '7', now), { kind: 'failure', retryAfterMs: null });
});

test('failures follow the schedule, then give up', (t) => {
  const f = { kind: 'failure', retryAfterMs: null } as const;
  t.deepEqual(decideRetry({ ...base, attempt: 1, outcome: f }).nextAttemptAt, new Date(now.getTime() + 5000));
  t.deepEqual(decideRetry({ ...base, attempt: 2, outcome: f }).nextAttemptAt, new Date(now.getTime() + 300_000));
  t.is(decideRetry({ ...base, attempt: 3, outcome: f }).status, 'dead');
  t.is(decideRetry({ ...base, attempt: 3, outcome: f }).disableReason, null);
  t.is(decideRetry({ ...base, attempt: 1, outcome: { kind: 'failure', retryAfterMs: 42_000 } }).nextAttemptAt!.getTime(), now.getTime() + 42_000);
});

test('an endpoint failing longer than the limit is disabled; 410 disables at once; success clears', (t) => {
  const f = { kind: 'failure', retryAfterMs: null } as const;
  const long = decideRetry({ ...base, attempt: 1, outcome: f, failingSince: new Date(now.getTime() - 6 * 86_400_000) });
  t.is(long.status, 'dead');
  t.truthy(long.disableReason);
  t.truthy(decideRetry({ ...base, attempt: 1, outcome: { kind: 'gone' } }).disableReason);
  t.is(decideRetry({ ...base, attempt: 1, outcome: { kind: 'success' }, failingSince: now }).failingSince, null);
});

test('durations', (t) => {
  t.is(parseDurationMs('5s'), 5000);
  t.is(parseDurationMs('10h'), 36_000_000);
  t.is(parseDurationMs('250ms'), 250);
  t.throws(() => parseDurationMs('5 minutes'));
  t.is(parseRetryAfterMs(undefined, now), null);
  t.is(parseRetryAfterMs('soon', now), null);
});
