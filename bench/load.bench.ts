/**
 * `npm run test:load`: 1,000 simulated hosts heartbeating every 10 s and reporting 500-snapshot
 * inventories every 60 s, for 5 minutes, loopback only. Exits non-zero when a check fails:
 * errors other than intended 429s, a backlog that does not drain within a minute after the load
 * stops, API or worker RSS growing ≥ 10 % after warm-up, Redis memory beyond its bound.
 *
 *   npm run test:load -- --duration 300 --hosts 1000 --api-processes 1
 */
import { FULL_LOAD, runLoad, type LoadOptions } from './load/run-load.js';
import { benchMeta, writeResult } from './lib/result.js';

function flag(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
}
const opts: LoadOptions = {
  ...FULL_LOAD,
  hosts: flag('hosts', FULL_LOAD.hosts),
  durationS: flag('duration', FULL_LOAD.durationS),
  heartbeatEveryS: flag('heartbeat-every', FULL_LOAD.heartbeatEveryS),
  reportEveryS: flag('report-every', FULL_LOAD.reportEveryS),
  apiProcesses: flag('api-processes', FULL_LOAD.apiProcesses),
  log: (m) => process.stderr.write(`[load] ${m}\n`),
};
opts.warmupS = flag('warmup', Math.min(FULL_LOAD.warmupS, Math.round(opts.durationS * 0.3)));
const meta = benchMeta('load', 'test:load');
const result = await runLoad(opts);
for (const [name, c] of Object.entries(result.checks)) process.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'} ${name}: ${c.detail}\n`);
process.stdout.write(`heartbeat p50/p99 ${result.latency_ms.heartbeat.p50}/${result.latency_ms.heartbeat.p99} ms; report p50/p99 ${result.latency_ms.report.p50}/${result.latency_ms.report.p99} ms; ${result.rows_reported.toLocaleString('en-US')} rows reported\n`);
const file = writeResult('load', { ...meta, finished_at: new Date().toISOString(), ...result });
process.stdout.write(`results: ${file}\n`);
process.exit(Object.values(result.checks).every((c) => c.ok) ? 0 : 1);
