import test from 'ava';
import { Redis } from 'ioredis';
import { loadConfig } from '@zfs-sync/config';
import { SystemsRepository, createOrm, createPgPool } from '@zfs-sync/db';
import { createLogger } from '@zfs-sync/logger';
import { chaosEnvPerFile, type ChaosEnv } from '@zfs-sync/testkit/chaos';
import { sweepHeartbeats } from '../../../services/workers/src/processors/heartbeat-expiry/heartbeat-expiry.processor.js';

let env: ChaosEnv;
chaosEnvPerFile(test, (e) => (env = e));

test.serial('two heartbeat sweepers racing over 1,000 expired hosts: every host goes offline exactly once', async (t) => {
  await env.query(`insert into systems (hostname, platform, connectivity_status, last_seen) select 'race-' || g || '.test', 'linux', 'online', now() - interval '1 hour' from generate_series(1, 1000) g`);
  const config = loadConfig({ env: {}, cwd: '/nonexistent', overrides: { database_url: env.databaseUrl, redis_url: env.redis.url, log_level: 'silent', heartbeat_timeout_seconds: 60 } });
  const logger = createLogger('race', config);
  const sweepers = await Promise.all(
    [1, 2].map(async () => {
      const orm = await createOrm({ databaseUrl: env.databaseUrl, poolMax: 2 });
      const pool = createPgPool(env.databaseUrl, 4);
      const redis = new Redis(env.redis.url);
      return { deps: { config, logger, redis, systems: new SystemsRepository(orm.em, pool) }, close: async () => (redis.disconnect(), await pool.end(), await orm.close(true)) };
    }),
  );
  try {
    const seen = new Map<string, number>();
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all(sweepers.map((s) => sweepHeartbeats(s.deps)));
      for (const r of results) for (const s of r) seen.set(s.id, (seen.get(s.id) ?? 0) + 1);
    }
    t.is(seen.size, 1000, 'every silent host was marked offline');
    t.deepEqual([...seen.values()].filter((n) => n !== 1), [], 'and none twice');
    t.deepEqual(await env.query(`select connectivity_status as s, count(*)::int as n from systems group by 1`), [{ s: 'offline', n: 1000 }]);
  } finally {
    await Promise.all(sweepers.map((s) => s.close()));
  }
});
