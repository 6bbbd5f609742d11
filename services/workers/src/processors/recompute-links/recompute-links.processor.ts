import { SyncGroupsRepository, datasetPathsOf, loadGroupContext, recomputeGroupDataset, refreshStaleProtection, type RecomputeResult } from '@zfs-sync/db';
import { defineWorker } from '@zfs-sync/queue';
import type { ProcessorDefinition } from '../../processor.js';

const sum = (a: RecomputeResult, b: RecomputeResult): RecomputeResult => ({
  links: a.links + b.links,
  transitions: a.transitions + b.transitions,
  instructionsCreated: a.instructionsCreated + b.instructionsCreated,
  conflictsOpened: a.conflictsOpened + b.conflictsOpened,
  conflictsClosed: a.conflictsClosed + b.conflictsClosed,
});
const empty = (): RecomputeResult => ({ links: 0, transitions: 0, instructionsCreated: 0, conflictsOpened: 0, conflictsClosed: 0 });

/**
 * Recompute links. Two inputs:
 * - `recompute-links` jobs, one per (system, dataset, content version) that an inventory changed:
 *   every group the system belongs to recomputes that dataset path. A job whose version a newer
 *   one supersedes is skipped, so a burst of reports costs one recompute.
 * - `recompute-groups` jobs after a group or its membership changed: every dataset path any
 *   member holds (and every path that still has a link) is recomputed.
 */
export const recomputeLinksProcessor: ProcessorDefinition = {
  name: 'recompute-links',
  async start(deps) {
    const groups = new SyncGroupsRepository(deps.pool);
    const datasetWorker = defineWorker({
      key: 'recomputeLinks',
      redisUrl: deps.config.redisUrl,
      prefix: deps.config.queuePrefix,
      logger: deps.logger,
      concurrency: deps.config.workerConcurrency,
      handler: async (payload, { logger }) => {
        const { rows } = await deps.pool.query<{ content_version: string }>('select content_version from datasets where id = $1', [payload.dataset_id]);
        const current = rows[0]?.content_version;
        if (current !== undefined && BigInt(current) > BigInt(payload.version)) return { skipped: `superseded by version ${current}` };
        let total = empty();
        for (const group of await groups.groupsOfSystem(payload.system_id)) {
          const ctx = await loadGroupContext(groups, group.id);
          if (ctx) total = sum(total, await recomputeGroupDataset(deps.pool, ctx, group.id, payload.dataset));
        }
        if (total.transitions > 0) logger.info({ system_id: payload.system_id, dataset: payload.dataset, ...total }, 'links recomputed');
        return total;
      },
    });
    const groupWorker = defineWorker({
      key: 'recomputeGroup',
      redisUrl: deps.config.redisUrl,
      prefix: deps.config.queuePrefix,
      logger: deps.logger,
      concurrency: 1,
      handler: async (payload, { logger }) => {
        const ctx = await loadGroupContext(groups, payload.group_id);
        if (!ctx) return { skipped: 'group deleted' };
        const { rows } = await deps.pool.query<{ dataset: string }>('select distinct dataset from sync_links where group_id = $1', [payload.group_id]);
        const paths = new Set([...(await datasetPathsOf(deps.pool, ctx.members.map((m) => m.systemId))), ...rows.map((r) => r.dataset)]);
        let total = empty();
        for (const path of paths) total = sum(total, await recomputeGroupDataset(deps.pool, ctx, payload.group_id, path));
        logger.info({ group_id: payload.group_id, reason: payload.reason, datasets: paths.size, ...total }, 'group recomputed');
        return total;
      },
    });
    // Time alone changes verdicts only through min_snapshot_age_seconds (a snapshot becomes old
    // enough to send): such groups are recomputed on a schedule. It also moves the protection
    // view's day-old snapshot: those rows are refreshed one by one when due. upsertJobScheduler is idempotent
    // across replicas.
    const sweepWorker = defineWorker({
      key: 'syncSweep',
      redisUrl: deps.config.redisUrl,
      prefix: deps.config.queuePrefix,
      logger: deps.logger,
      handler: async () => {
        const { rows } = await deps.pool.query<{ id: string }>('select id from sync_groups where enabled and min_snapshot_age_seconds > 0');
        await deps.producer.enqueueBulk('recomputeGroup', rows.map((r) => ({ group_id: r.id, reason: 'periodic sweep (min_snapshot_age_seconds)' })));
        // Protection rows whose day-old snapshot moved with the clock (see assessProtection).
        const protectionRefreshed = await refreshStaleProtection(deps.pool, (id) => loadGroupContext(groups, id));
        return { groups: rows.length, protection_refreshed: protectionRefreshed };
      },
    });
    await deps.producer.scheduleEvery('syncSweep', 'sync-sweep', deps.config.syncSweepSeconds * 1000, {});
    return { workers: [datasetWorker, groupWorker, sweepWorker] };
  },
};
