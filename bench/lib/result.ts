import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The machine's CPU time so far (Linux /proc/stat, in clock ticks): all of it, the idle part, and
 * the part the hypervisor gave to other guests (steal) — on a shared virtual machine a benchmark
 * can lose a third of its CPU that way without any process of this machine showing it.
 */
function cpuTimes(): { total: number; idle: number; steal: number } | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [, , , idle = 0, iowait = 0, , , steal = 0] = fields;
    return { total: fields.slice(0, 8).reduce((a, b) => a + b, 0), idle: idle + iowait, steal };
  } catch {
    return null;
  }
}

/** What every result file says about where and when it was measured. */
export function benchMeta(benchmark: string, script = `bench:${benchmark}`) {
  let commit: string | null = null;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: BENCH_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    /* not a checkout */
  }
  return {
    benchmark,
    command: `npm run ${script}${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    started_at: new Date().toISOString(),
    git_commit: commit,
    machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model ?? null, node: process.version, load_average_at_start: os.loadavg().map((l) => Math.round(l * 100) / 100), cpu_times_at_start: cpuTimes() },
  };
}

/**
 * Write bench/results/<name>-<timestamp>.json, or to the path in BENCH_RESULT_FILE (how
 * `npm run bench` collects each benchmark's result). Returns the path written, relative to cwd.
 */
export function writeResult(name: string, result: object): string {
  const file = process.env.BENCH_RESULT_FILE ?? join(BENCH_ROOT, 'bench', 'results', `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(dirname(file), { recursive: true });
  const start = (result as { machine?: { cpu_times_at_start?: ReturnType<typeof cpuTimes> } }).machine?.cpu_times_at_start;
  const end = cpuTimes();
  // Of the time the machine was not idle, the share the hypervisor took for other guests.
  const busy = start && end ? end.total - start.total - (end.idle - start.idle) : 0;
  const stolen = start && end && busy > 0 ? Math.round(((end.steal - start.steal) / busy) * 1000) / 1000 : null;
  writeFileSync(file, `${JSON.stringify({ ...result, load_average_at_end: os.loadavg().map((l) => Math.round(l * 100) / 100), cpu_steal_of_busy: stolen }, null, 2)}\n`);
  return relative(process.cwd(), file);
}
