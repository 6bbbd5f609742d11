/**
 * The machine's own limits (PostgreSQL COPY + merge, BullMQ add/process, Redis round trips) on a
 * throwaway database and queue prefix: `npm run bench:raw`. `npm run bench` runs it first and
 * divides every end-to-end figure by these.
 */
import { createTestDatabase, dropQueuePrefix, testQueuePrefix, testServices } from '@zfs-sync/testkit';
import { measureRawLimits } from './raw/limits.js';
import { benchMeta, writeResult } from './lib/result.js';

const { redisUrl } = await testServices();
const database = await createTestDatabase();
const prefix = testQueuePrefix();
try {
  const meta = benchMeta('raw');
  const limits = await measureRawLimits({ databaseUrl: database.url, redisUrl, prefix, log: (m) => process.stderr.write(`${m}\n`) });
  const file = writeResult('raw', { ...meta, finished_at: new Date().toISOString(), limits });
  process.stdout.write(`${JSON.stringify(limits, null, 2)}\nresults: ${file}\n`);
} finally {
  await dropQueuePrefix(redisUrl, prefix);
  await database.drop();
}
