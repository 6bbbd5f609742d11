import { defineWorker } from '@zfs-sync/queue';
import type { ProcessorDefinition } from '../../processor.js';

/**
 * Recompute links: consumes the jobs reconcile produces for every changed (system, dataset).
 * The sync engine (link verdicts, plans, conflicts) plugs in here; until then it only skips
 * versions that a newer job supersedes, so the queue drains and the contract is exercised.
 */
export const recomputeLinksProcessor: ProcessorDefinition = {
  name: 'recompute-links',
  async start(deps) {
    const worker = defineWorker({
      key: 'recomputeLinks',
      redisUrl: deps.config.redisUrl,
      prefix: deps.config.queuePrefix,
      logger: deps.logger,
      concurrency: deps.config.workerConcurrency,
      handler: async (payload) => {
        const { rows } = await deps.pool.query<{ content_version: string }>('select content_version from datasets where id = $1', [payload.dataset_id]);
        const current = rows[0]?.content_version;
        if (current === undefined) return { skipped: 'dataset deleted' };
        if (BigInt(current) > BigInt(payload.version)) return { skipped: `superseded by version ${current}` };
        return { recomputed: false, version: payload.version };
      },
    });
    return { worker };
  },
};
