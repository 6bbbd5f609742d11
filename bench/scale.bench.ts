/**
 * Scale-out on one machine: `npm run bench:scale`. The same ingest (new, then unchanged) and
 * heartbeat runs with 1 API process + 1 worker process, then 2 + 2, and the ratio. On a 2-core
 * machine the second pair can only help as far as the first left cores idle: the report says how
 * busy the machine was and where the CPU went, i.e. what saturated.
 *
 *   npm run bench:scale               # 40 systems × 10 × 1,000 rows, 10,000 heartbeats per setup
 *   npm run bench:scale -- --quick
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { BENCH_ROOT, benchMeta, writeResult } from './lib/result.js';

const quick = process.argv.includes('--quick');
const systems = quick ? '8' : '40';
const heartbeats = quick ? '3000' : '10000';
const log = (m: string) => process.stderr.write(`[scale] ${m}\n`);

function run(script: string, args: string[]): any {
  const file = join(os.tmpdir(), `zfs-sync-scale-${process.pid}-${Math.random().toString(36).slice(2)}.json`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { cwd: BENCH_ROOT, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, BENCH_RESULT_FILE: file } });
  if (r.status !== 0 || !existsSync(file)) throw new Error(`${script} ${args.join(' ')} failed (${r.status ?? r.signal})`);
  const out = JSON.parse(readFileSync(file, 'utf8'));
  rmSync(file, { force: true });
  return out;
}

const meta = benchMeta('scale');
const runs: any[] = [];
for (const n of [1, 2]) {
  const label = `${n} API process${n > 1 ? 'es' : ''} + ${n} worker${n > 1 ? 's' : ''}`;
  log(`${label}: ingest…`);
  const ingest = run('bench/ingest.bench.ts', ['--systems', systems, '--skip-batch', '--api-processes', String(n), '--worker-processes', String(n)]);
  log(`${label}: heartbeats…`);
  const hb = run('bench/heartbeat.bench.ts', ['--requests', heartbeats, '--api-processes', String(n)]);
  const phase = (name: string) => ingest.rounds[0].phases.find((p: any) => p.name === name);
  runs.push({
    label,
    api_processes: n,
    worker_processes: n,
    new_rows_per_second: phase('new')?.rows_per_second,
    unchanged_rows_per_second: phase('unchanged')?.rows_per_second,
    heartbeats_per_second: hb.result.requests_per_second,
    heartbeat_p99_ms: hb.result.latency_ms.p99,
    machine_busy: phase('new')?.machine_busy,
    cpu_seconds: phase('new')?.cpu_seconds,
    cpu_seconds_unchanged: phase('unchanged')?.cpu_seconds,
    load_average: [ingest.machine.load_average_at_start, hb.machine?.load_average_at_start],
  });
}
const [one, two] = runs;
const ratios = { new: two.new_rows_per_second / one.new_rows_per_second, unchanged: two.unchanged_rows_per_second / one.unchanged_rows_per_second, heartbeats: two.heartbeats_per_second / one.heartbeats_per_second };
const busy = Math.max(one.machine_busy ?? 0, two.machine_busy ?? 0);
const saturation =
  busy > 0.9
    ? `Both setups kept the machine ${Math.round((one.machine_busy ?? 0) * 100)} % / ${Math.round((two.machine_busy ?? 0) * 100)} % busy: it saturates on CPU (2 cores shared by the API, the workers, PostgreSQL, Redis and the load generator), so a second pair of processes can only shift CPU between them — more throughput needs more cores, i.e. replicas on other nodes.`
    : `The single pair left the machine ${Math.round((one.machine_busy ?? 0) * 100)} % busy; the second pair used the idle share.`;
const file = writeResult('scale', { ...meta, finished_at: new Date().toISOString(), params: { systems: Number(systems), heartbeats: Number(heartbeats) }, runs, ratios, saturation });
process.stdout.write(`${JSON.stringify({ runs: runs.map((r) => ({ label: r.label, new: r.new_rows_per_second, unchanged: r.unchanged_rows_per_second, heartbeats: r.heartbeats_per_second })), ratios, saturation }, null, 2)}\nresults: ${file}\n`);
