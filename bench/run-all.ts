/**
 * `npm run bench`: every benchmark in one run, on this machine, one after another — the machine's
 * own limits first (PostgreSQL COPY + merge, BullMQ, Redis), then ingest (new / unchanged /
 * original batch), heartbeats, report → plan latency, sustained load and scale-out — and one
 * report: bench/results/*.json (one per benchmark, not committed) and bench/results/summary.md
 * (committed), with each end-to-end figure beside its raw limit.
 *
 *   npm run bench                        # everything (~20–30 min on 2 cores)
 *   npm run bench -- --quick             # smaller sizes, to check the harness (numbers not comparable)
 *   npm run bench -- --only raw,heartbeat
 *
 * Other people's work on the machine lowers every number: the load average is recorded at the
 * start and end of each benchmark and printed in the summary.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { BENCH_ROOT } from './lib/result.js';
import { renderSummary, updateReadme, type RunFiles } from './summary.js';

const quick = process.argv.includes('--quick');
const onlyIdx = process.argv.indexOf('--only');
const only = onlyIdx >= 0 ? new Set((process.argv[onlyIdx + 1] ?? '').split(',')) : null;
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const resultsDir = join(BENCH_ROOT, 'bench', 'results');

const STEPS: Array<{ name: keyof RunFiles; script: string; args: string[]; quickArgs: string[] }> = [
  { name: 'raw', script: 'bench/raw.bench.ts', args: [], quickArgs: [] },
  { name: 'ingest', script: 'bench/ingest.bench.ts', args: [], quickArgs: ['--systems', '10', '--batch-systems', '4', '--batch-rows', '2000'] },
  { name: 'heartbeat', script: 'bench/heartbeat.bench.ts', args: [], quickArgs: ['--requests', '3000'] },
  { name: 'plan', script: 'bench/plan.bench.ts', args: [], quickArgs: ['--rounds', '100', '--stored-rows', '100000'] },
  { name: 'load', script: 'bench/load.bench.ts', args: ['--duration', '120', '--warmup', '40'], quickArgs: ['--duration', '40', '--warmup', '10', '--report-every', '120'] },
  { name: 'scale', script: 'bench/scale.bench.ts', args: [], quickArgs: ['--quick'] },
];

const files: RunFiles = {};
const failures: string[] = [];
for (const step of STEPS) {
  if (only && !only.has(step.name)) continue;
  const file = join(resultsDir, `${step.name}-${stamp}.json`);
  const args = quick ? step.quickArgs : step.args;
  process.stderr.write(`\n=== ${step.name}: node --import tsx ${step.script} ${args.join(' ')} (load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')})\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', step.script, ...args], { cwd: BENCH_ROOT, stdio: 'inherit', env: { ...process.env, BENCH_RESULT_FILE: file } });
  if (existsSync(file)) files[step.name] = JSON.parse(readFileSync(file, 'utf8'));
  if (r.status !== 0) failures.push(`${step.name} exited ${r.status ?? r.signal}`);
}

const md = renderSummary(files, { command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`, quick, failures });
if (!only) {
  writeFileSync(join(resultsDir, 'summary.md'), md);
  if (!quick) updateReadme(md);
  process.stdout.write(`\n${md}\nwritten: bench/results/summary.md${quick ? '' : ' and README.md (Performance)'}\n`);
} else {
  writeFileSync(join(resultsDir, `summary-${stamp}.md`), md);
  process.stdout.write(`\n${md}\n(partial run: written to bench/results/summary-${stamp}.md, summary.md untouched)\n`);
}
process.exit(failures.length ? 1 : 0);
