import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

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
    machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model ?? null, node: process.version, load_average_at_start: os.loadavg().map((l) => Math.round(l * 100) / 100) },
  };
}

/**
 * Write bench/results/<name>-<timestamp>.json, or to the path in BENCH_RESULT_FILE (how
 * `npm run bench` collects each benchmark's result). Returns the path written, relative to cwd.
 */
export function writeResult(name: string, result: object): string {
  const file = process.env.BENCH_RESULT_FILE ?? join(BENCH_ROOT, 'bench', 'results', `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ ...result, load_average_at_end: os.loadavg().map((l) => Math.round(l * 100) / 100) }, null, 2)}\n`);
  return relative(process.cwd(), file);
}
