import { recomputeDatasetPayloadSchema, recomputeGroupPayloadSchema, type RecomputeDatasetPayload, type RecomputeGroupPayload } from './schemas/sync.schema.js';
import { reconcilePayloadSchema, recomputeLinksPayloadSchema, type ReconcilePayload, type RecomputeLinksPayload } from './schemas/inventory.schema.js';

/**
 * The queue and job catalog shared by producers (the API, other processors) and consumers (the
 * workers). Queue and job names appear nowhere else; a payload that does not match its schema is
 * refused by the producer and again by the worker (job data can predate a deploy).
 */
export interface RetryPolicy {
  attempts: number;
  backoff: { type: 'exponential' | 'fixed'; delay: number; jitter?: number };
  removeOnComplete: { age: number; count: number };
  removeOnFail: { age: number; count: number };
}

export interface JobDefinition<Payload> {
  queue: string;
  name: string;
  schema: object;
  retry: RetryPolicy;
  /** Deterministic job id (deduplicates while the job is kept). Never contains ':'. */
  jobId?: (payload: Payload) => string;
  /** Marker so TypeScript keeps the payload type; never set. */
  readonly payload?: Payload;
}

const standardRetry: RetryPolicy = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 1000, jitter: 0.5 },
  removeOnComplete: { age: 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
};

export type HeartbeatSweepPayload = Record<string, never>;

/** A periodic job without payload, run by a job scheduler: one attempt (the next run comes anyway), little history. */
function sweepJob(queue: string): JobDefinition<Record<string, never>> {
  return {
    queue,
    name: 'sweep',
    schema: { type: 'object', additionalProperties: false, properties: {} },
    retry: { ...standardRetry, attempts: 1, removeOnComplete: { age: 600, count: 100 }, removeOnFail: { age: 24 * 3600, count: 1000 } },
  };
}

export const JOBS = {
  heartbeatSweep: sweepJob('heartbeat-expiry') as JobDefinition<HeartbeatSweepPayload>,
  reconcile: {
    queue: 'reconcile',
    name: 'apply-report',
    schema: reconcilePayloadSchema,
    // A payload can be a 1 MiB inventory and Redis must not evict: a completed job is dropped at
    // once (its outcome is in inventory_reports); failed ones are kept for a day and at most 100
    // (their error is in inventory_reports too): at most ~100 MiB whatever the ingest rate.
    retry: { ...standardRetry, removeOnComplete: { age: 0, count: 0 }, removeOnFail: { age: 24 * 3600, count: 100 } },
    // One job per report chunk; a re-sent chunk is the same job while it is kept.
    jobId: (p) => `inv-${p.system_id}-${p.report_id}-${p.chunk_index}`,
  } satisfies JobDefinition<ReconcilePayload> as JobDefinition<ReconcilePayload>,
  recomputeLinks: {
    queue: 'recompute-links',
    name: 'recompute',
    schema: recomputeLinksPayloadSchema,
    retry: standardRetry,
    // One job per (dataset, content version): retried enqueues collapse, and the processor skips
    // versions that a newer job supersedes, so bursts cost one recompute.
    jobId: (p) => `recompute-${p.dataset_id}-${p.version}`,
  } satisfies JobDefinition<RecomputeLinksPayload> as JobDefinition<RecomputeLinksPayload>,
  recomputeDataset: {
    queue: 'recompute-datasets',
    name: 'recompute-dataset',
    schema: recomputeDatasetPayloadSchema,
    retry: standardRetry,
    // No deterministic id: a kept (completed) job with the same id would swallow the next
    // request, and a recompute is idempotent, so a repeated one costs only its time.
  } satisfies JobDefinition<RecomputeDatasetPayload> as JobDefinition<RecomputeDatasetPayload>,
  recomputeGroup: {
    queue: 'recompute-groups',
    name: 'recompute-group',
    schema: recomputeGroupPayloadSchema,
    retry: standardRetry,
  } satisfies JobDefinition<RecomputeGroupPayload> as JobDefinition<RecomputeGroupPayload>,
  inventorySweep: sweepJob('inventory-sweep'),
  syncSweep: sweepJob('sync-sweep'),
  reportSweep: sweepJob('report-sweep'),
  /** Retention (issue 10): prunes old events and audit entries. */
  retentionSweep: sweepJob('retention'),
} as const;

export type JobKey = keyof typeof JOBS;
export type PayloadOf<K extends JobKey> = (typeof JOBS)[K] extends JobDefinition<infer P> ? P : never;

/** Every queue name, for the ops views (Bull Board, metrics). */
export const QUEUE_NAMES = [...new Set(Object.values(JOBS).map((j) => j.queue))];
