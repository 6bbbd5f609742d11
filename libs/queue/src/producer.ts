import { Queue, type JobsOptions } from 'bullmq';
import { JOBS, type JobDefinition, type JobKey, type PayloadOf, compile, type Validation } from '@zfs-sync/contracts';
import { withTimeout } from '@zfs-sync/runtime';
import { producerConnection } from './connection.js';

export class QueueUnavailableError extends Error {
  override name = 'QueueUnavailableError';
}

export class InvalidJobPayloadError extends Error {
  override name = 'InvalidJobPayloadError';
}

export function jobOptions(def: JobDefinition<unknown>, payload: unknown, extra: JobsOptions = {}, scope?: string): JobsOptions {
  const raw = def.jobId?.(payload);
  const jobId = raw !== undefined && scope ? `${scope}-${raw}` : raw;
  if (jobId !== undefined && (jobId.includes(':') || /^\d+$/.test(jobId))) throw new Error(`job id ${jobId} is not allowed by BullMQ`);
  return {
    attempts: def.retry.attempts,
    backoff: def.retry.backoff,
    removeOnComplete: def.retry.removeOnComplete,
    removeOnFail: def.retry.removeOnFail,
    ...(jobId !== undefined ? { jobId } : {}),
    ...extra,
  };
}

const validators = new Map<string, (d: unknown) => Validation<unknown>>();
export function payloadValidator(key: JobKey): (d: unknown) => Validation<unknown> {
  let v = validators.get(key);
  if (!v) {
    v = compile<unknown>(JOBS[key].schema);
    validators.set(key, v);
  }
  return v;
}

export interface ProducerOptions {
  /** Prepended to every deterministic job id: this database's installation id (see installationId()). */
  jobIdScope?: string;
  /** A finished job held the id of a new one (see replaceFinished). */
  onCollision?: (info: { queue: string; jobId: string; state: 'completed' | 'failed' }) => void;
}

/** Typed enqueue over the job catalog; one BullMQ Queue per queue name, created on first use. */
export class Producer {
  private readonly queues = new Map<string, Queue>();
  private readonly schedules = new Map<string, { queue: string; id: string; upsert: () => Promise<void> }>();

  constructor(
    private readonly redisUrl: string,
    readonly prefix: string,
    private readonly timeoutMs = 5000,
    private readonly options: ProducerOptions = {},
  ) {}

  /** The id a catalog job gets for this payload (scoped to this database), or undefined. */
  jobIdOf<K extends JobKey>(key: K, payload: PayloadOf<K>): string | undefined {
    return jobOptions(JOBS[key] as JobDefinition<unknown>, payload, {}, this.options.jobIdScope).jobId;
  }

  /**
   * BullMQ drops, without a word, an add whose job id it still holds. A waiting or running job
   * with the id is the same work (that collapse is the point of deterministic ids); a FINISHED
   * one (completed or failed, kept for inspection) is not: it is removed, the new job added, and
   * the collision counted and logged.
   */
  private async replaceFinished(queue: Queue, ids: string[]): Promise<void> {
    const states = await Promise.all(ids.map((id) => queue.getJobState(id)));
    await Promise.all(
      states.map(async (state, i) => {
        if (state !== 'completed' && state !== 'failed') return;
        this.options.onCollision?.({ queue: queue.name, jobId: ids[i]!, state });
        await queue.remove(ids[i]!).catch(() => {});
      }),
    );
  }

  queue(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: producerConnection(this.redisUrl), prefix: this.prefix });
      // Errors surface on the add() that hit them; an idle disconnection must not crash the API.
      q.on('error', () => {});
      this.queues.set(name, q);
    }
    return q;
  }

  /**
   * Add a job. The payload is checked against its schema unless the caller built it from input
   * that was just validated (`prevalidated`: the API's large reports, where a second full pass
   * costs more than the enqueue); the worker checks every payload again either way.
   */
  async enqueue<K extends JobKey>(key: K, payload: PayloadOf<K>, extra?: JobsOptions, opts: { prevalidated?: boolean } = {}): Promise<string | undefined> {
    const def = JOBS[key] as JobDefinition<unknown>;
    if (!opts.prevalidated) {
      const check = payloadValidator(key)(payload);
      if (!check.ok) throw new InvalidJobPayloadError(`${def.queue}/${def.name}: ${check.error.detail}`);
    }
    try {
      // BullMQ waits for a connection that may never come back; the API must answer at once.
      const opts = jobOptions(def, payload, extra, this.options.jobIdScope);
      const queue = this.queue(def.queue);
      const add = async () => {
        if (opts.jobId) await this.replaceFinished(queue, [opts.jobId]);
        return queue.add(def.name, payload, opts);
      };
      const job = await withTimeout(add(), this.timeoutMs, `adding to ${def.queue}`);
      return job.id;
    } catch (err) {
      throw new QueueUnavailableError(`queue ${def.queue} unavailable: ${(err as Error).message}`);
    }
  }

  async enqueueBulk<K extends JobKey>(key: K, payloads: PayloadOf<K>[]): Promise<void> {
    if (payloads.length === 0) return;
    const def = JOBS[key] as JobDefinition<unknown>;
    const validate = payloadValidator(key);
    for (const p of payloads) {
      const check = validate(p);
      if (!check.ok) throw new InvalidJobPayloadError(`${def.queue}/${def.name}: ${check.error.detail}`);
    }
    try {
      const jobs = payloads.map((data) => ({ name: def.name, data, opts: jobOptions(def, data, {}, this.options.jobIdScope) }));
      const queue = this.queue(def.queue);
      const ids = jobs.map((j) => j.opts.jobId).filter((id): id is string => id !== undefined);
      const add = async () => {
        if (ids.length) await this.replaceFinished(queue, ids);
        await queue.addBulk(jobs);
      };
      await withTimeout(add(), this.timeoutMs, `adding to ${def.queue}`);
    } catch (err) {
      throw new QueueUnavailableError(`queue ${def.queue} unavailable: ${(err as Error).message}`);
    }
  }

  /**
   * Run a catalog job every `everyMs`. Idempotent: every replica may call it and the schedule
   * still exists once (BullMQ job schedulers are keyed by id).
   */
  async scheduleEvery<K extends JobKey>(key: K, schedulerId: string, everyMs: number, payload: PayloadOf<K>): Promise<void> {
    const def = JOBS[key] as JobDefinition<unknown>;
    const upsert = async () => {
      await this.queue(def.queue).upsertJobScheduler(schedulerId, { every: everyMs }, { name: def.name, data: payload, opts: { removeOnComplete: def.retry.removeOnComplete, removeOnFail: def.retry.removeOnFail } });
    };
    this.schedules.set(`${def.queue}/${schedulerId}`, { queue: def.queue, id: schedulerId, upsert });
    await upsert();
  }

  /**
   * Re-create the job schedulers this process registered that Redis no longer has (restarted
   * empty, a failover to a replica that missed them): without this, the periodic sweeps stop for
   * good until a worker restarts. Existing ones are left alone (re-upserting would move their
   * next run). Returns the ids re-created.
   */
  async ensureSchedules(): Promise<string[]> {
    const recreated: string[] = [];
    for (const s of this.schedules.values()) {
      const existing = await withTimeout(this.queue(s.queue).getJobScheduler(s.id), this.timeoutMs, `reading scheduler ${s.id}`);
      if (existing) continue;
      await withTimeout(s.upsert(), this.timeoutMs, `re-creating scheduler ${s.id}`);
      recreated.push(s.id);
    }
    return recreated;
  }

  /** Readiness: the connection enqueueing uses answers (not only some other client). */
  async ping(): Promise<void> {
    await withTimeout(this.queue(JOBS.reconcile.queue).getJobCounts('waiting'), this.timeoutMs, 'reading the queue');
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}
