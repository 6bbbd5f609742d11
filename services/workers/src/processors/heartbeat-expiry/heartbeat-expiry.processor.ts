import { defineWorker, heartbeatsSinceLastFlush, markHeartbeatsFlushed } from '@zfs-sync/queue';
import type { ProcessorDefinition, WorkerDeps } from '../../processor.js';

/** Heartbeats recorded this long before the previous flush are read again: sweeps that raced lose nothing. */
const FLUSH_OVERLAP_MS = 5000;

/**
 * The sweep: first the heartbeats the API recorded in Redis since the last sweep go to PostgreSQL
 * in one set-based UPDATE (last_seen only moves forward), then one UPDATE marks offline every
 * system silent for longer than the timeout — judged at the moment the heartbeats were read, so a
 * heartbeat recorded after that read can never count as missing. Returns the systems it marked
 * offline.
 */
export async function sweepHeartbeats(deps: Pick<WorkerDeps, 'systems' | 'config' | 'logger' | 'redis'>) {
  const { readAt, entries } = await heartbeatsSinceLastFlush(deps.redis, deps.config.queuePrefix, FLUSH_OVERLAP_MS);
  const flushed = await deps.systems.flushHeartbeats(entries);
  await markHeartbeatsFlushed(deps.redis, deps.config.queuePrefix, readAt, flushed.unknown);
  const expired = await deps.systems.expireHeartbeats(deps.config.heartbeatTimeoutSeconds, readAt);
  for (const s of expired) {
    deps.logger.warn({ system_id: s.id, hostname: s.hostname, last_seen: s.last_seen, from: s.previous, to: 'offline' }, 'system went offline: no heartbeat within the timeout');
  }
  return Object.assign(expired, { flushed: flushed.updated });
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
      handler: async () => {
        const expired = await sweepHeartbeats(deps);
        return { expired: expired.length, flushed: expired.flushed };
      },
    });
    await deps.producer.scheduleEvery('heartbeatSweep', 'heartbeat-expiry-sweep', deps.config.heartbeatSweepSeconds * 1000, {});
    return { workers: [worker] };
  },
};
