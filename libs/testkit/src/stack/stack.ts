import { spawn, type ChildProcess } from 'node:child_process';
import type { Config } from '@zfs-sync/config';
import { createLogger } from '@zfs-sync/logger';
import { startWorkers, type RunningWorkers } from '@zfs-sync/workers';
import { createTestEnvironment, startTestApi, type TestApi, type TestEnvironment } from './api-harness.js';

/** The whole service for one test file: its own database and queue prefix, the real API and workers. */
export interface TestStack {
  env: TestEnvironment;
  api: TestApi;
  workers: RunningWorkers;
  stop: () => Promise<void>;
}

export type { RunningWorkers };

export async function startTestStack(overrides: Record<string, unknown> = {}): Promise<TestStack> {
  const env = await createTestEnvironment();
  const config = env.config(overrides);
  const api = await startTestApi(config);
  const workers = await startWorkers(config, createLogger('workers-test', config));
  const stack: TestStack = {
    env,
    api,
    // A test may stop the workers and start others (a subset of processors): stop() stops whichever run now.
    workers,
    stop: async () => {
      await stack.workers.stop(5000);
      await api.close();
      await env.teardown();
    },
  };
  return stack;
}

const repoRoot = new URL('../../../../', import.meta.url).pathname;

/** The real worker entry point as a child process (for kill and signal tests). */
export function spawnWorkerProcess(config: Readonly<Config>, extraEnv: Record<string, string> = {}, stdio: 'ignore' | 'pipe' = 'ignore'): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'services/workers/src/main.ts'], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: config.databaseUrl,
      REDIS_URL: config.redisUrl,
      ZFS_SYNC_QUEUE_PREFIX: config.queuePrefix,
      ZFS_SYNC_OPS_PORT: '0',
      ZFS_SYNC_LOG_FORMAT: 'json',
      ...extraEnv,
    },
    stdio: ['ignore', stdio, stdio],
  });
}
