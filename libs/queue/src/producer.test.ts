import test from 'ava';
import { Worker } from 'bullmq';
import { testQueuePrefix, dropQueuePrefix, testServices } from '@zfs-sync/testkit';
import { JOBS, type RecomputeLinksPayload } from '@zfs-sync/contracts';
import { workerConnection } from './connection.js';
import { Producer } from './producer.js';

test('row 16: a deterministic job id carries the database scope, and a finished job holding the id is replaced (counted), never a silent drop', async (t) => {
  const { redisUrl } = await testServices();
  const prefix = testQueuePrefix();
  const collisions: string[] = [];
  const producer = new Producer(redisUrl, prefix, 5000, { jobIdScope: 'a1b2c3d4e5f6', onCollision: ({ jobId, state }) => collisions.push(`${jobId}:${state}`) });
  const payload: RecomputeLinksPayload = { system_id: '00000000-0000-4000-8000-000000000001', dataset_id: '1', pool: 'tank', dataset: 'data', version: '1' };
  const id = producer.jobIdOf('recomputeLinks', payload)!;
  t.is(id, 'a1b2c3d4e5f6-recompute-1-1');
  let runs = 0;
  const worker = new Worker(JOBS.recomputeLinks.queue, async () => void runs++, { connection: workerConnection(redisUrl), prefix });
  try {
    await producer.enqueueBulk('recomputeLinks', [payload]);
    const q = producer.queue(JOBS.recomputeLinks.queue);
    for (let i = 0; i < 100 && (await q.getJobState(id)) !== 'completed'; i++) await new Promise((r) => setTimeout(r, 50));
    t.is(await q.getJobState(id), 'completed', 'kept after completion (removeOnComplete keeps an hour)');
    // The same id again (a database restored from a backup rewinds its ids): queued and run again.
    await producer.enqueueBulk('recomputeLinks', [payload]);
    for (let i = 0; i < 100 && runs < 2; i++) await new Promise((r) => setTimeout(r, 50));
    t.is(runs, 2);
    t.deepEqual(collisions, [`${id}:completed`]);
  } finally {
    await worker.close();
    await producer.close();
    await dropQueuePrefix(redisUrl, prefix);
  }
});

test('row 14: bounded Redis — a reconcile job (up to a 1 MiB inventory) is dropped as soon as it completes, and at most 100 failed ones are kept', (t) => {
  const r = JOBS.reconcile.retry;
  t.deepEqual(r.removeOnComplete, { age: 0, count: 0 });
  t.true(r.removeOnFail.count <= 100 && r.removeOnFail.age <= 24 * 3600);
  // Every other queue keeps bounded history too.
  for (const def of Object.values(JOBS)) t.true(def.retry.removeOnComplete.count <= 10_000 && def.retry.removeOnFail.count <= 10_000, def.queue);
});
