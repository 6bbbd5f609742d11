import test from 'ava';
import { FULL_LOAD, runLoad } from './run-load.js';

/**
 * The short form of `npm run test:load` that runs inside `npm test`: the same 1,000 hosts
 * heartbeating every 10 s and 500-snapshot inventories through the real API and worker
 * processes on loopback, for 60 s instead of 5 minutes (each host reports once in two minutes,
 * so about half report here). It asserts what a fleet relies on, not speed: no errors besides
 * intended 429s, the queues drained within a minute after the load stops, Redis memory bounded,
 * and API and worker RSS flat after warm-up — within 25 % here rather than the full run's 10 %:
 * in its first minute a Node process's heap is still settling (more so while the rest of the
 * suite competes for the cores), and a leak that matters shows in the 5-minute run.
 * Speeds are in `npm run bench`.
 */
test('sustained load (short form): no errors, queues drain, memory flat and bounded', async (t) => {
  t.timeout(240_000);
  const result = await runLoad({ ...FULL_LOAD, durationS: 60, warmupS: 30, reportEveryS: 120, rssGrowthLimit: 0.25, log: (m) => t.log(m) });
  for (const [name, c] of Object.entries(result.checks)) t.log(`${c.ok ? 'ok' : 'FAIL'} ${name}: ${c.detail}`);
  t.log(`heartbeat p50/p99 ${result.latency_ms.heartbeat.p50}/${result.latency_ms.heartbeat.p99} ms; report p50/p99 ${result.latency_ms.report.p50}/${result.latency_ms.report.p99} ms`);
  t.true(result.requests.heartbeats > 0 && result.requests.reports > 0, 'the load ran');
  t.deepEqual(
    Object.entries(result.checks).filter(([, c]) => !c.ok).map(([name, c]) => `${name}: ${c.detail}`),
    [],
  );
});
