import test from 'ava';
import { nextDelaySeconds, parseInterval } from './daemon.js';

test('intervals: 5m, 90s, 1h, plain seconds', (t) => {
  t.is(parseInterval('5m'), 300);
  t.is(parseInterval('90s'), 90);
  t.is(parseInterval('1h'), 3600);
  t.is(parseInterval('300'), 300);
  t.is(parseInterval('1.5m'), 90);
  t.is(parseInterval('soon'), null);
});

test('waits are jittered ±10 %; an unreachable witness backs off from 30 s, doubling, to at most 30 min', (t) => {
  t.is(nextDelaySeconds(300, 0, () => 0), 270);
  t.is(nextDelaySeconds(300, 0, () => 1), 330);
  const backoff = [1, 2, 3, 4, 8, 20].map((n) => nextDelaySeconds(300, n, () => 0.5));
  t.deepEqual(backoff, [30, 60, 120, 240, 1800, 1800]);
  t.true(nextDelaySeconds(300, 1, () => 0) >= 22.5 && nextDelaySeconds(300, 1, () => 1) <= 37.5);
});
