import { defineWorker } from '@zfs-sync/queue';
import { pruneAudit, pruneEvents, pruneLinkEventMarks } from '@zfs-sync/db';
import type { ProcessorDefinition, WorkerDeps } from '../../processor.js';

/**
 * Retention (issue 10): events older than `events_retention_days` and audit entries older than
 * `audit_retention_days` are deleted, in bounded batches, so the tables stay bounded however long
 * the service runs. Flapping marks older than the longest possible window go too.
 */
export async function pruneOld(deps: Pick<WorkerDeps, 'pool' | 'config'>): Promise<{ events: number; audit: number; marks: number }> {
  const events = await pruneEvents(deps.pool, deps.config.eventsRetentionDays);
  const audit = await pruneAudit(deps.pool, deps.config.auditRetentionDays);
  const marks = await pruneLinkEventMarks(deps.pool);
  return { events, audit, marks };
}

export const retentionProcessor: ProcessorDefinition = {
  name: 'retention',
  async start(deps) {
    const worker = defineWorker({
      key: 'retentionSweep',
      redisUrl: deps.config.redisUrl,
      prefix: deps.config.queuePrefix,
      logger: deps.logger,
      concurrency: 1,
      handler: async () => {
        const pruned = await pruneOld(deps);
        if (pruned.events || pruned.audit) deps.logger.info(pruned, 'retention: pruned old events and audit entries');
        return pruned;
      },
    });
    await deps.producer.scheduleEvery('retentionSweep', 'retention-sweep', deps.config.retentionSweepSeconds * 1000, {});
    return { workers: [worker] };
  },
};
