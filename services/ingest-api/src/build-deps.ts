import { Redis } from 'ioredis';
import type { Config } from '@zfs-sync/config';
import { ConflictsRepository, InstructionsRepository, LinksRepository, SyncGroupsRepository, SyncStatesRepository, SystemsRepository, createOrm, createPgPool, installationId } from '@zfs-sync/db';
import type { Logger } from '@zfs-sync/logger';
import { counter, createMetricsRegistry } from '@zfs-sync/runtime';
import { Producer, producerConnection, whenConnected } from '@zfs-sync/queue';
import { resolveAdminTokenHash } from './auth/admin-token.js';
import { KeyCache } from './auth/key-cache.js';
import { EventTail } from './events/event-tail.js';
import type { ApiDeps } from './deps.js';
import { createApiMetrics } from './ops/metrics.js';

/** Connect everything the API needs. Also used by tests, so they run the real wiring. */
export async function buildApiDeps(config: Readonly<Config>, logger: Logger): Promise<ApiDeps & { close: () => Promise<void>; generatedAdminTokenFile: string | null }> {
  const orm = await createOrm({ databaseUrl: config.databaseUrl, logger });
  const pool = createPgPool(config.databaseUrl);
  const redis = new Redis({ ...producerConnection(config.redisUrl), lazyConnect: false });
  redis.on('error', () => {}); // readiness reports it; an outage must not crash the API
  // Give Redis a moment to connect so the first readiness probe is truthful; start anyway if it
  // is down (readiness will say so, and enqueueing answers 503 until it returns).
  await whenConnected(redis);
  const metrics = createApiMetrics(createMetricsRegistry('ingest-api'));
  const collisions = counter(metrics.registry, 'zfs_sync_job_id_collisions_total');
  const producer = new Producer(config.redisUrl, config.queuePrefix, 2000, {
    jobIdScope: await installationId(pool),
    onCollision: ({ queue, jobId, state }) => {
      collisions.inc({ queue });
      logger.warn({ queue, job_id: jobId, state }, 'a finished job held the id of a new one: replaced it (job id collision)');
    },
  });
  const systems = new SystemsRepository(orm.em, pool);
  const admin = await resolveAdminTokenHash(pool, config.adminToken, config.adminTokenFile);
  const keyCache = new KeyCache(systems, config.authCacheSeconds * 1000, redis, config.queuePrefix, logger);
  await keyCache.start();
  const eventTail = new EventTail(config.redisUrl, config.queuePrefix, logger);
  return {
    config,
    logger,
    orm,
    pool,
    redis,
    producer,
    systems,
    groups: new SyncGroupsRepository(pool),
    instructions: new InstructionsRepository(pool),
    links: new LinksRepository(pool),
    conflicts: new ConflictsRepository(pool),
    syncStates: new SyncStatesRepository(pool),
    adminTokenHash: admin.hash,
    keyCache,
    eventTail,
    metrics,
    generatedAdminTokenFile: admin.generatedFile,
    close: async () => {
      await eventTail.close();
      await keyCache.close();
      await producer.close();
      redis.disconnect();
      await pool.end();
      await orm.close(true);
    },
  };
}
