import type { Worker } from 'bullmq';
import { Gauge, Histogram, type Registry } from 'prom-client';
import type { Producer } from './producer.js';

const STATES = ['waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed'] as const;

/**
 * Queue metrics for Prometheus: job counts per queue and state, read from Redis when scraped
 * (so every replica reports the same, and a scrape costs one round trip per queue), and job
 * durations observed by this process's workers. Autoscalers use the backlog:
 * `sum by (queue) (zfs_sync_queue_jobs{state=~"waiting|prioritized"})`.
 */
export function registerQueueMetrics(registry: Registry, producer: Producer, queueNames: readonly string[]): { observe: (worker: Worker) => void } {
  new Gauge({
    name: 'zfs_sync_queue_jobs',
    help: 'Jobs per queue and state (from Redis, at scrape time)',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      await Promise.all(
        queueNames.map(async (name) => {
          const counts = await producer.queue(name).getJobCounts(...STATES);
          for (const state of STATES) this.set({ queue: name, state }, counts[state] ?? 0);
        }),
      ).catch(() => {
        // Redis unreachable: the gauge stays empty for this scrape; readiness reports the outage.
      });
    },
  });
  const duration = new Histogram({
    name: 'zfs_sync_job_duration_seconds',
    help: 'Time from a job starting to finishing in this process, by queue and outcome',
    labelNames: ['queue', 'outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  return {
    observe(worker: Worker) {
      const record = (outcome: string) => (job: { processedOn?: number; finishedOn?: number } | undefined) => {
        if (job?.processedOn && job.finishedOn) duration.observe({ queue: worker.name, outcome }, (job.finishedOn - job.processedOn) / 1000);
      };
      worker.on('completed', record('completed'));
      worker.on('failed', record('failed'));
    },
  };
}
