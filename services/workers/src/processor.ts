import type { Worker } from 'bullmq';
import type { Config } from '@zfs-sync/config';
import type { SystemsRepository } from '@zfs-sync/db';
import type { Logger } from '@zfs-sync/logger';
import type { Producer } from '@zfs-sync/queue';
import type pg from 'pg';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { WorkerMetrics } from './metrics.js';

/** What every processor gets: shared connections, built once per worker process. */
export interface WorkerDeps {
  config: Readonly<Config>;
  logger: Logger;
  pool: pg.Pool;
  systems: SystemsRepository;
  producer: Producer;
  /** Plain Redis client (offline queue off) for small shared state such as the applied-generation cache. */
  redis: Redis;
  /** This process's metrics registry (its ops server serves it) and the processors' counters. */
  registry: Registry;
  metrics: WorkerMetrics;
}

/**
 * A processor: a named unit of work with its BullMQ worker and, optionally, the job schedulers
 * it owns. WORKER_PROCESSORS picks processors by these names.
 */
export interface ProcessorDefinition {
  name: string;
  start: (deps: WorkerDeps) => Promise<{ workers: Worker[]; stop?: () => Promise<void> }>;
}
