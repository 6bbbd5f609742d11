import { DelayedError, Worker, UnrecoverableError, type Job, type WorkerOptions } from 'bullmq';
import { JOBS, type JobKey, type PayloadOf } from '@zfs-sync/contracts';
import type { Logger } from '@zfs-sync/logger';
import { unavailableDependency } from '@zfs-sync/runtime';
import { workerConnection } from './connection.js';
import { payloadValidator } from './producer.js';

export interface WorkerContext {
  job: Job;
  logger: Logger;
}

export interface DefineWorkerOptions<K extends JobKey> {
  key: K;
  redisUrl: string;
  prefix: string;
  logger: Logger;
  concurrency?: number;
  handler: (payload: PayloadOf<K>, ctx: WorkerContext) => Promise<unknown>;
  workerOptions?: Partial<WorkerOptions>;
}

/** Default job lock and stalled-check period (see the Worker options below). */
export const JOB_LOCK_MS = 15_000;
export const STALLED_CHECK_MS = 10_000;

/** Retry step (plus up to as much jitter) of a job whose store is unavailable. */
export const DEPENDENCY_RETRY_MS = 1000;

/**
 * A BullMQ Worker bound to one catalog entry. It validates every payload again (job data may
 * predate a deploy: invalid data fails at once, without retries) and lets handler errors
 * propagate so BullMQ owns retries and backoff.
 */
export function defineWorker<K extends JobKey>(opts: DefineWorkerOptions<K>): Worker {
  const def = JOBS[opts.key];
  const validate = payloadValidator(opts.key);
  const logger = opts.logger.child({ queue: def.queue });
  const worker = new Worker(
    def.queue,
    async (job: Job, token?: string) => {
      if (job.name !== def.name) throw new UnrecoverableError(`queue ${def.queue} has no handler for job ${job.name}`);
      const check = validate(job.data);
      if (!check.ok) throw new UnrecoverableError(`invalid payload: ${check.error.detail}`);
      try {
        return await opts.handler(job.data as PayloadOf<K>, { job, logger: logger.child({ jobId: job.id }) });
      } catch (err) {
        // PostgreSQL or Redis away is nobody's fault: retry in short steps, without spending one
        // of the job's attempts, so an outage of any length neither fails work for good nor
        // leaves it waiting minutes of exponential backoff after the store is back.
        const dependency = unavailableDependency(err);
        if (dependency && token && !(err instanceof UnrecoverableError)) {
          logger.warn({ jobId: job.id, dependency, err: (err as Error).message }, 'dependency unavailable: job delayed, not failed');
          await job.moveToDelayed(Date.now() + DEPENDENCY_RETRY_MS + Math.floor(Math.random() * DEPENDENCY_RETRY_MS), token);
          throw new DelayedError();
        }
        throw err;
      }
    },
    {
      connection: workerConnection(opts.redisUrl),
      prefix: opts.prefix,
      concurrency: opts.concurrency ?? 1,
      autorun: false,
      // A live worker renews its lock every lockDuration/2 however long the job runs; these
      // bound only how long a job whose worker DIED waits: lock expiry plus the next stalled
      // check, ≤ 25 s (BullMQ's defaults: up to 60 s).
      lockDuration: JOB_LOCK_MS,
      stalledInterval: STALLED_CHECK_MS,
      ...opts.workerOptions,
    },
  );
  worker.on('failed', (job, err) => logger.warn({ jobId: job?.id, attempts: job?.attemptsMade, err: err.message }, 'job failed'));
  worker.on('error', (err) => logger.error({ err: err.message }, 'worker error'));
  return worker;
}
