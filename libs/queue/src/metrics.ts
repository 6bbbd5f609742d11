import type { Worker } from 'bullmq';
import type { Gauge, Registry } from 'prom-client';
import { JOB_STATES, counter, gauge, histogram, withTimeout } from '@zfs-sync/runtime';
import type { Producer } from './producer.js';

/** Per-process job metrics of the BullMQ workers this process runs. */
export function createJobMetrics(registry: Registry) {
  const processed = counter(registry, 'zfs_sync_jobs_processed_total');
  const failed = counter(registry, 'zfs_sync_jobs_failed_total');
  const duration = histogram(registry, 'zfs_sync_job_duration_seconds');
  return {
    observe(worker: Worker) {
      const record = (outcome: 'completed' | 'failed') => (job: { processedOn?: number; finishedOn?: number } | undefined) => {
        (outcome === 'completed' ? processed : failed).inc({ queue: worker.name });
        if (job?.processedOn && job.finishedOn) duration.observe({ queue: worker.name, outcome }, (job.finishedOn - job.processedOn) / 1000);
      };
      worker.on('completed', record('completed'));
      worker.on('failed', record('failed'));
    },
  };
}

/**
 * Queue depth by state, read from Redis at scrape time — registered only by the fleet-metrics
 * exporter, so one process polls Redis however many worker replicas run. Autoscalers and alerts
 * read the backlog: `zfs_sync_queue_jobs{state=~"waiting|prioritized"}`. A scrape that cannot
 * reach Redis leaves the gauge out (and `onError` counts it) rather than reporting zeros.
 */
export function registerQueueDepth(registry: Registry, producer: Producer, queueNames: readonly string[], onError: () => void): Gauge<string> {
  return gauge(registry, 'zfs_sync_queue_jobs', async function collect() {
    this.reset();
    try {
      const read = Promise.all(queueNames.map(async (name) => [name, await producer.queue(name).getJobCounts(...JOB_STATES)] as const));
      const all = await withTimeout(read, 5000, 'reading queue depth');
      for (const [name, counts] of all) for (const state of JOB_STATES) this.set({ queue: name, state }, counts[state] ?? 0);
    } catch {
      this.reset();
      onError();
    }
  });
}
