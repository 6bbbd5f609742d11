import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, dropQueuePrefix, testQueuePrefix, testServices, type TestDatabase } from '@zfs-sync/testkit';
import { BenchHttp } from '../ingest/http.js';
import { freePort, prepareServices, startService, type Service } from '../ingest/processes.js';
import { BENCH_ROOT } from './result.js';

export interface BenchStack {
  database: TestDatabase;
  redisUrl: string;
  prefix: string;
  port: number;
  adminToken: string;
  apis: Service[];
  workers: Service[];
  http: BenchHttp;
  logDir: string;
  /** Register `n` systems; returns their ids and keys. */
  register: (n: number, tag?: string) => Promise<Array<{ id: string; key: string }>>;
  stop: () => Promise<void>;
}

export interface BenchStackOptions {
  /** API processes behind the port (ZFS_SYNC_API_PROCESSES). */
  apiProcesses?: number;
  /** Worker processes, each with these processors (WORKER_PROCESSORS). */
  workerProcesses?: number;
  processors?: string;
  env?: Record<string, string>;
  /** A process per API replica on its own port instead of ZFS_SYNC_API_PROCESSES on one port. */
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The environment every benchmarked service gets: its own database and queue prefix, quiet logs. */
export function serviceEnv(o: { databaseUrl: string; redisUrl: string; prefix: string; adminToken: string }): Record<string, string> {
  return { DATABASE_URL: o.databaseUrl, REDIS_URL: o.redisUrl, ZFS_SYNC_QUEUE_PREFIX: o.prefix, ZFS_SYNC_ADMIN_TOKEN: o.adminToken, ZFS_SYNC_LOG_LEVEL: 'warn' };
}

/**
 * The real API and worker processes — compiled, as production runs them, or from source with
 * BENCH_FROM_SOURCE=1 (processes.ts) — on a throwaway database (cloned from the migrated test
 * template) and a queue prefix of their own; `stop()` removes both.
 */
export async function startBenchStack(opts: BenchStackOptions = {}): Promise<BenchStack> {
  await prepareServices();
  const { redisUrl } = await testServices();
  const database = await createTestDatabase();
  const prefix = testQueuePrefix();
  const port = await freePort();
  const adminToken = `zs_admin_bench-${randomBytes(16).toString('hex')}`;
  const logDir = mkdtempSync(join(os.tmpdir(), 'zfs-sync-bench-'));
  const common = { ...serviceEnv({ databaseUrl: database.url, redisUrl, prefix, adminToken }), ...opts.env };
  // BENCH_CPU_PROF=<dir>: run the services under `node --cpu-prof` (profiles in <dir>/api, <dir>/worker).
  const prof = (name: string) => (process.env.BENCH_CPU_PROF ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${join(process.env.BENCH_CPU_PROF, name)}`] } : {});
  const apis = [startService('api', 'api', { ...common, PORT: String(port), ZFS_SYNC_HOST: '127.0.0.1', ZFS_SYNC_API_PROCESSES: String(opts.apiProcesses ?? 1) }, { cwd: BENCH_ROOT, logDir, ...prof('api') })];
  const workers = Array.from({ length: opts.workerProcesses ?? 1 }, (_, i) =>
    startService(i ? `worker${i + 1}` : 'worker', 'workers', { ...common, ZFS_SYNC_OPS_PORT: '0', ...(opts.processors ? { WORKER_PROCESSORS: opts.processors } : {}) }, { cwd: BENCH_ROOT, logDir, ...prof('worker') }),
  );
  const http = new BenchHttp(new URL(`http://127.0.0.1:${port}/api/v1`), 64);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    http.close();
    await Promise.all([...apis, ...workers].map((s) => s.stop()));
    await dropQueuePrefix(redisUrl, prefix).catch(() => {});
    await database.drop().catch(() => {});
  };
  process.once('exit', () => {
    for (const s of [...apis, ...workers]) if (s.child.exitCode === null) s.child.kill('SIGKILL');
  });
  try {
    const readyBy = Date.now() + 90_000;
    for (;;) {
      for (const s of [...apis, ...workers]) if (s.child.exitCode !== null) throw new Error(`${s.name} exited during start-up:\n${s.tail()}`);
      const r = await http.request('GET', '/health/ready').catch(() => null);
      if (r?.status === 200) break;
      if (Date.now() > readyBy) throw new Error(`the API was not ready after 90 s:\n${apis[0]!.tail()}`);
      await sleep(200);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const tagBase = randomBytes(3).toString('hex');
  const register = async (n: number, tag = tagBase) => {
    const out: Array<{ id: string; key: string }> = [];
    let next = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      for (;;) {
        const i = next++;
        if (i >= n) return;
        const r = await http.request('POST', '/systems', { headers: { authorization: `Bearer ${adminToken}` }, body: JSON.stringify({ hostname: `bench-${tag}-${i}.example.net`, platform: 'linux' }) });
        if (r.status !== 201) throw new Error(`registering system ${i}: ${r.status} ${r.text}`);
        const body = JSON.parse(r.text) as { id: string; api_key: string };
        out[i] = { id: body.id, key: body.api_key };
      }
    }));
    return out;
  };
  return { database, redisUrl, prefix, port, adminToken, apis, workers, http, logDir, register, stop };
}
