import type { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { Config } from '@zfs-sync/config';
import { SystemsRepository, createOrm, createPgPool, installationId } from '@zfs-sync/db';
import type { Logger } from '@zfs-sync/logger';
import { Producer, createJobMetrics, producerConnection, whenConnected } from '@zfs-sync/queue';
import { counter, createMetricsRegistry, withTimeout } from '@zfs-sync/runtime';
import type { Registry } from 'prom-client';
import { createWorkerMetrics } from './metrics.js';
import type { ProcessorDefinition, WorkerDeps } from './processor.js';
import { selectProcessors } from './registry.js';

export interface RunningWorkers {
  deps: WorkerDeps;
  workers: Worker[];
  /** Stop taking jobs, let active ones finish (bounded), release connections. */
  stop: (timeoutMs?: number) => Promise<void>;
  checks: Record<string, () => Promise<void>>;
  /** Served at /metrics by the process's ops server. */
  registry: Registry;
}

/**
 * Start the selected processors. Dependencies are checked first: a worker never takes a job it
 * cannot finish because PostgreSQL is missing.
 */
export async function startWorkers(config: Readonly<Config>, logger: Logger): Promise<RunningWorkers> {
  const processors = selectProcessors(config.workerProcessors);
  const orm = await createOrm({ databaseUrl: config.databaseUrl, logger, poolMax: 2 });
  const pool = createPgPool(config.databaseUrl, Math.max(4, config.workerConcurrency * processors.length + 2));
  await pool.query('select 1');
  const registry = createMetricsRegistry('workers');
  const collisions = counter(registry, 'zfs_sync_job_id_collisions_total');
  // Deterministic job ids carry this database's identity (row 16 of issue 8).
  const producer = new Producer(config.redisUrl, config.queuePrefix, 5000, {
    jobIdScope: await installationId(pool),
    onCollision: ({ queue, jobId, state }) => {
      collisions.inc({ queue });
      logger.warn({ queue, job_id: jobId, state }, 'a finished job held the id of a new one: replaced it (job id collision)');
    },
  });
  const redis = new Redis({ ...producerConnection(config.redisUrl) });
  redis.on('error', () => {});
  await whenConnected(redis);
  const deps: WorkerDeps = { config, logger, pool, systems: new SystemsRepository(orm.em, pool), producer, redis, registry, metrics: createWorkerMetrics(registry) };

  const started: Array<Awaited<ReturnType<ProcessorDefinition["start"]>>> = [];
  for (const p of processors) {
    const s = await p.start({ ...deps, logger: logger.child({ processor: p.name }) });
    started.push(s);
  }
  const workers = started.flatMap((s) => s.workers);
  const jobMetrics = createJobMetrics(registry);
  for (const w of workers) jobMetrics.observe(w);
  for (const w of workers) void w.run().catch((err) => logger.error({ err }, 'worker stopped with an error'));
  // Redis may come back empty (no persistence, a failover): every process re-creates the job
  // schedulers it owns within one report-sweep interval, so the periodic sweeps never stop.
  const scheduleGuard = setInterval(() => {
    producer
      .ensureSchedules()
      .then((ids) => {
        if (ids.length) logger.warn({ schedulers: ids }, 'job schedulers were missing from Redis; re-created');
      })
      .catch((err: Error) => logger.warn({ err: err.message }, 'cannot check the job schedulers (Redis unavailable?)'));
  }, config.reportSweepSeconds * 1000);
  scheduleGuard.unref();
  logger.info({ processors: processors.map((p) => p.name) }, 'workers started');

  return {
    deps,
    workers,
    registry,
    checks: {
      postgres: async () => {
        await pool.query('select 1');
      },
      redis: async () => {
        await redis.ping();
      },
    },
    stop: async (timeoutMs = config.shutdownTimeoutMs) => {
      clearInterval(scheduleGuard);
      try {
        await withTimeout(Promise.all(workers.map((w) => w.close())), timeoutMs, 'closing workers');
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'forcing workers closed');
        await Promise.allSettled(workers.map((w) => w.close(true)));
      }
      await Promise.allSettled(started.map((s) => s.stop?.()));
      await producer.close();
      redis.disconnect();
      await pool.end();
      await orm.close(true);
    },
  };
}
