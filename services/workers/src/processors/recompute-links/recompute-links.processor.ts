import {
  ConflictsRepository,
  InstructionsRepository,
  SyncGroupsRepository,
  addRecomputeResults,
  datasetContentVersion,
  datasetPathsOf,
  emptyRecomputeResult,
  linkedDatasetsOf,
  loadGroupContext,
  protectionDueForRefresh,
  recomputeGroupDataset,
  type RecomputeOptions,
} from '@zfs-sync/db';
import { defineWorker } from '@zfs-sync/queue';
import type { ProcessorDefinition } from '../../processor.js';

/** A host report or resolution not processed after this long had its job lost: the sweep re-drives it. */
const REDRIVE_AFTER_SECONDS = 10;

/**
 * Recompute links: the only writer of link state (verdicts, plans, conflicts, transitions).
 * Inputs:
 * - `recompute-links` jobs, one per (system, dataset, content version) that an inventory changed:
 *   every group the system belongs to recomputes that dataset path. A job whose version a newer
 *   one supersedes is skipped, so a burst of reports costs one recompute.
 * - `recompute-datasets` jobs for one (group, dataset): a host reported on a plan, an operator
 *   confirmed a resolution, or the sweep found time-driven work.
 * - `recompute-groups` jobs after a group or its membership changed: every dataset path any
 *   member holds (and every path that still has a link) is recomputed.
 * - the `sync-sweep` schedule (see below).
 */
export const recomputeLinksProcessor: ProcessorDefinition = {
  name: 'recompute-links',
  async start(deps) {
    const groups = new SyncGroupsRepository(deps.pool);
    const instructions = new InstructionsRepository(deps.pool);
    const conflicts = new ConflictsRepository(deps.pool);
    const options = (): RecomputeOptions => ({
      backoff: { baseSeconds: deps.config.failureBackoffSeconds, maxSeconds: deps.config.failureBackoffMaxSeconds },
      flapWindowSeconds: deps.config.eventsFlapWindowSeconds,
    });
    const common = { redisUrl: deps.config.redisUrl, prefix: deps.config.queuePrefix, logger: deps.logger };

    const datasetWorker = defineWorker({
      ...common,
      key: 'recomputeLinks',
      concurrency: deps.config.workerConcurrency,
      handler: async (payload, { logger }) => {
        const current = await datasetContentVersion(deps.pool, payload.dataset_id);
        if (current !== undefined && BigInt(current) > BigInt(payload.version)) return { skipped: `superseded by version ${current}` };
        let total = emptyRecomputeResult();
        for (const group of await groups.groupsOfSystem(payload.system_id)) {
          const ctx = await loadGroupContext(groups, group.id);
          if (ctx) total = addRecomputeResults(total, await recomputeGroupDataset(deps.pool, ctx, group.id, payload.dataset, options()));
        }
        if (total.transitions > 0) logger.info({ system_id: payload.system_id, dataset: payload.dataset, ...total }, 'links recomputed');
        return total;
      },
    });
    const feedbackWorker = defineWorker({
      ...common,
      key: 'recomputeDataset',
      concurrency: deps.config.workerConcurrency,
      handler: async (payload, { logger }) => {
        const ctx = await loadGroupContext(groups, payload.group_id);
        if (!ctx) return { skipped: 'group deleted' };
        const result = await recomputeGroupDataset(deps.pool, ctx, payload.group_id, payload.dataset, options());
        if (result.transitions > 0 || result.resolutionsApplied > 0) logger.info({ group_id: payload.group_id, dataset: payload.dataset, reason: payload.reason, ...result }, 'links recomputed');
        return result;
      },
    });
    const groupWorker = defineWorker({
      ...common,
      key: 'recomputeGroup',
      concurrency: 1,
      handler: async (payload, { logger }) => {
        const ctx = await loadGroupContext(groups, payload.group_id);
        if (!ctx) return { skipped: 'group deleted' };
        const paths = new Set([...(await datasetPathsOf(deps.pool, ctx.members.map((m) => m.systemId))), ...(await linkedDatasetsOf(deps.pool, payload.group_id))]);
        let total = emptyRecomputeResult();
        for (const path of paths) total = addRecomputeResults(total, await recomputeGroupDataset(deps.pool, ctx, payload.group_id, path, options()));
        logger.info({ group_id: payload.group_id, reason: payload.reason, datasets: paths.size, ...total }, 'group recomputed');
        return total;
      },
    });
    // Time alone changes some verdicts: a snapshot becomes old enough to send
    // (min_snapshot_age_seconds), a snapshot turns a day old (the protection view), a started
    // transfer's run lease runs out, a host report or an
    // operator's resolution whose job was lost waits to be processed. upsertJobScheduler is
    // idempotent across replicas.
    const sweepWorker = defineWorker({
      ...common,
      key: 'syncSweep',
      handler: async () => {
        const timeDependent = await groups.timeDependent();
        await deps.producer.enqueueBulk('recomputeGroup', timeDependent.map((id) => ({ group_id: id, reason: 'periodic sweep (min_snapshot_age_seconds)' })));
        const due = [...(await instructions.dueForRecompute(REDRIVE_AFTER_SECONDS)), ...(await conflicts.pendingResolutions(REDRIVE_AFTER_SECONDS)).map((r) => ({ ...r, reason: 'a confirmed resolution not processed yet' }))];
        // Protection rows whose day-old snapshot the clock has moved (see assessProtection).
        due.push(...(await protectionDueForRefresh(deps.pool)));
        await deps.producer.enqueueBulk('recomputeDataset', due);
        return { groups: timeDependent.length, datasets: due.length };
      },
    });
    await deps.producer.scheduleEvery('syncSweep', 'sync-sweep', deps.config.syncSweepSeconds * 1000, {});
    return { workers: [datasetWorker, feedbackWorker, groupWorker, sweepWorker] };
  },
};
