import { Worker, UnrecoverableError, type Job, type WorkerOptions } from 'bullmq';
import { JOBS, type JobKey, type PayloadOf } from '@zfs-sync/contracts';
import type { Logger } from '@zfs-sync/logger';
import { workerConnection } from './connection.js';
import { payloadValidator } from './producer.js';

export interface WorkerContext {
  job: Job;
  /** The job's lock token (for job.moveToDelayed and the like). */
  token: string | undefined;
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
      return opts.handler(job.data as PayloadOf<K>, { job, token, logger: logger.child({ jobId: job.id }) });
    },
    {
      connection: workerConnection(opts.redisUrl),
      prefix: opts.prefix,
      concurrency: opts.concurrency ?? 1,
      autorun: false,
      ...opts.workerOptions,
    },
  );
  worker.on('failed', (job, err) => logger.warn({ jobId: job?.id, attempts: job?.attemptsMade, err: err.message }, 'job failed'));
  worker.on('error', (err) => logger.error({ err: err.message }, 'worker error'));
  return worker;
}
