import { defineWorker } from '@zfs-sync/queue';
import { JOBS } from '@zfs-sync/contracts';
import type { ProcessorDefinition, WorkerDeps } from '../../processor.js';

/** The sweep itself: one set-based UPDATE; returns the systems it marked offline. */
export async function sweepHeartbeats(deps: Pick<WorkerDeps, 'systems' | 'config' | 'logger'>) {
  const expired = await deps.systems.expireHeartbeats(deps.config.heartbeatTimeoutSeconds);
  for (const s of expired) {
    deps.logger.warn({ system_id: s.id, hostname: s.hostname, last_seen: s.last_seen, from: s.previous, to: 'offline' }, 'system went offline: no heartbeat within the timeout');
  }
  return expired;
}

/**
 * Heartbeat expiry. A BullMQ job scheduler fires the sweep every `heartbeat_sweep_seconds`;
 * upsertJobScheduler is idempotent, so every replica can register it and the sweep still runs
 * once per period.
 */
export const heartbeatExpiryProcessor: ProcessorDefinition = {
  name: 'heartbeat-expiry',
  async start(deps) {
    const worker = defineWorker({
      key: 'heartbeatSweep',
      redisUrl: deps.config.redisUrl,
      prefix: deps.config.queuePrefix,
      logger: deps.logger,
      concurrency: 1,
      handler: async () => ({ expired: (await sweepHeartbeats(deps)).length }),
    });
    const queue = deps.producer.queue(JOBS.heartbeatSweep.queue);
    await queue.upsertJobScheduler(
      'heartbeat-expiry-sweep',
      { every: deps.config.heartbeatSweepSeconds * 1000 },
      { name: JOBS.heartbeatSweep.name, data: {}, opts: { removeOnComplete: JOBS.heartbeatSweep.retry.removeOnComplete, removeOnFail: JOBS.heartbeatSweep.retry.removeOnFail } },
    );
    return { workers: [worker] };
  },
};
