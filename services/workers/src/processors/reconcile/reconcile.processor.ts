import { UnrecoverableError } from 'bullmq';
import { ReportRejectedError, ReportsRepository, applyReport, legacyQuietSeconds, markReportFailed, pruneNotReReported } from '@zfs-sync/db';
import { JOBS } from '@zfs-sync/contracts';
import { appliedGenerationKey, datasetHashesKey, defineWorker, reportRegistryKey } from '@zfs-sync/queue';
import { unavailableDependency } from '@zfs-sync/runtime';
import type { ProcessorDefinition } from '../../processor.js';

/** The API records a report, then queues its job (bounded by 2 s): younger reports are not judged yet. */
const ACCEPT_GRACE_SECONDS = 5;
export const LOST_MESSAGE = 'the queue lost this report before it was applied (Redis restarted without its data?); re-send it — the same report_id is accepted again';

/**
 * Reconcile: apply one inventory report (chunk) to PostgreSQL in one transaction, then produce a
 * recompute-links job per changed dataset. A crash before commit rolls everything back and
 * BullMQ retries the job; a crash after commit is caught by the replay path (the report is
 * already applied, its recorded recompute jobs are enqueued again under the same job ids).
 */
export const reconcileProcessor: ProcessorDefinition = {
  name: 'reconcile',
  async start(deps) {
    const worker = defineWorker({
      key: 'reconcile',
      redisUrl: deps.config.redisUrl,
      prefix: deps.config.queuePrefix,
      logger: deps.logger,
      concurrency: deps.config.workerConcurrency,
      // The worker renews the lock while it runs (however long a 300k-row report takes); the lock
      // bounds how soon a job whose worker died is taken over: lock + stalled check ≤ 25 s by default.
      workerOptions: { lockDuration: deps.config.jobLockMs, stalledInterval: Math.max(1000, Math.min(10_000, Math.floor(deps.config.jobLockMs / 2))) },
      handler: async (payload, { job, logger }) => {
        // Visible to GET /reports as `applying` (a status hint, not state). A chunk of a larger
        // report may only be stored, so only single-chunk reports say so before they apply.
        if (payload.chunk_count === 1) {
          const key = reportRegistryKey(deps.config.queuePrefix, payload.system_id, payload.report_id);
          await deps.redis.multi().hset(key, 'applying_since', new Date().toISOString()).expire(key, 7 * 24 * 3600).exec().catch(() => {});
        }
        let outcome;
        try {
          outcome = await applyReport(deps.pool, payload);
        } catch (err) {
          // PostgreSQL away: not this report's fault; defineWorker retries it without an attempt.
          if (unavailableDependency(err)) throw err;
          const final = err instanceof ReportRejectedError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
          if (final) {
            await markReportFailed(deps.pool, payload, (err as Error).message).catch(() => {});
            // The API compared this report's datasets with hashes that never reached PostgreSQL:
            // the system's next inventory must be sent whole.
            await deps.redis.del(datasetHashesKey(deps.config.queuePrefix, payload.system_id)).catch(() => {});
            deps.metrics.reportsFailed.inc({ mode: payload.mode });
          }
          if (err instanceof ReportRejectedError) throw new UnrecoverableError(err.message);
          throw err;
        }
        if (outcome.status === 'applied') {
          if (!outcome.replayed) {
            deps.metrics.reportsApplied.inc({ mode: payload.mode });
            for (const change of ['added', 'removed', 'changed', 'unchanged'] as const) deps.metrics.rowsApplied.inc({ change }, outcome.counts[change]);
          }
          await deps.producer.enqueueBulk('recomputeLinks', outcome.recompute);
          if (payload.generation !== null) {
            await deps.redis.set(appliedGenerationKey(deps.config.queuePrefix, payload.system_id), String(payload.generation)).catch(() => {});
          }
          logger.info({ system_id: payload.system_id, report_id: payload.report_id, counts: outcome.counts, recompute: outcome.recompute.length, replayed: outcome.replayed }, 'report applied');
        } else {
          logger.info({ system_id: payload.system_id, report_id: payload.report_id, ...outcome }, `report ${outcome.status}`);
        }
        return outcome.status === 'applied' ? { status: 'applied', counts: outcome.counts } : outcome;
      },
    });
    // Snapshots that batch-only (original) clients stopped re-reporting leave the view once a
    // run is over (legacy-prune.ts); their links are recomputed like after any report.
    const sweeper = defineWorker({
      key: 'inventorySweep',
      redisUrl: deps.config.redisUrl,
      prefix: deps.config.queuePrefix,
      logger: deps.logger,
      handler: async (_payload, { logger }) => {
        const staleAfterSeconds = deps.config.legacyStaleAfterSeconds;
        const pruned = await pruneNotReReported(deps.pool, { staleAfterSeconds, quietSeconds: legacyQuietSeconds(staleAfterSeconds) });
        await deps.producer.enqueueBulk('recomputeLinks', pruned.recompute);
        if (pruned.removed > 0) logger.info({ systems: pruned.systems, removed: pruned.removed }, 'snapshots not re-reported by batch-only clients moved to history');
        return { systems: pruned.systems, removed: pruned.removed };
      },
    });
    await deps.producer.scheduleEvery('inventorySweep', 'inventory-sweep', deps.config.syncSweepSeconds * 1000, {});

    // Nothing accepted is lost silently: a report the API recorded as queued whose job Redis no
    // longer has (and whose chunk was not stored either) is marked `lost`, counted and logged;
    // GET /reports/{id} asks the host to re-send it.
    const reports = new ReportsRepository(deps.pool);
    const reportSweeper = defineWorker({
      key: 'reportSweep',
      redisUrl: deps.config.redisUrl,
      prefix: deps.config.queuePrefix,
      logger: deps.logger,
      handler: async (_payload, { logger }) => {
        const queue = deps.producer.queue(JOBS.reconcile.queue);
        let lost = 0;
        const candidates = await reports.queuedBefore(ACCEPT_GRACE_SECONDS);
        for (const r of candidates) {
          const missing: number[] = [];
          for (const chunk of r.accepted_chunks) {
            const jobId = deps.producer.jobIdOf('reconcile', { system_id: r.system_id, report_id: r.report_id, chunk_index: chunk } as never);
            if (!jobId || !(await queue.getJob(jobId))) missing.push(chunk);
          }
          if (missing.length === 0) continue;
          if (await reports.markLost(r.system_id, r.report_id, missing, ACCEPT_GRACE_SECONDS, LOST_MESSAGE)) {
            lost++;
            deps.metrics.reportsLost.inc();
            // Later reports may have been compared with this one's dataset hashes: the next inventory goes whole.
            await deps.redis.del(datasetHashesKey(deps.config.queuePrefix, r.system_id)).catch(() => {});
            logger.error({ system_id: r.system_id, report_id: r.report_id, chunks: missing }, 'accepted report lost by the queue (Redis lost its job); marked lost, the host must re-send it');
          }
        }
        return { checked: candidates.length, lost };
      },
    });
    await deps.producer.scheduleEvery('reportSweep', 'report-sweep', deps.config.reportSweepSeconds * 1000, {});
    return { workers: [worker, sweeper, reportSweeper] };
  },
};
