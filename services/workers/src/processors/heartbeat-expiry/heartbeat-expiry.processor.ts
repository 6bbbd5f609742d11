import { defineWorker } from '@zfs-sync/queue';
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
    await deps.producer.scheduleEvery('heartbeatSweep', 'heartbeat-expiry-sweep', deps.config.heartbeatSweepSeconds * 1000, {});
    return { workers: [worker] };
  },
};
