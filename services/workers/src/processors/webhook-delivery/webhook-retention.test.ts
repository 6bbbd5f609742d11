import test from 'ava';
import { createPgPool, WebhooksRepository } from '@zfs-sync/db';
import { pgQuery } from '@zfs-sync/testkit';
import { createTestEnvironment, type TestEnvironment } from '@zfs-sync/testkit/stack';
import type pg from 'pg';
import { pruneDeliveries } from './webhook-delivery.processor.js';

let env: TestEnvironment;
let pool: pg.Pool;
test.before(async () => {
  env = await createTestEnvironment();
  pool = createPgPool(env.db.url);
});
test.after.always(async () => {
  await pool?.end();
  await env?.teardown();
});

test('retention prunes deliveries (and their attempts) older than the configured age, and only those', async (t) => {
  const repo = new WebhooksRepository(pool);
  const e = await repo.create({ url: 'https://hooks.example.com/x', description: null, event_types: ['*'], sync_group_ids: null, enabled: true, secret: 'whsec_AAAA' });
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const d = await repo.createDirectDelivery(e.id, { id: crypto.randomUUID(), type: 'webhook.test', occurred_at: new Date().toISOString(), data: {} });
    await repo.recordAttempt({ deliveryId: d.id, endpointId: e.id, attempt: 1, startedAt: new Date(), durationMs: 5, statusCode: 200, error: null, responseBody: 'ok', status: 'succeeded', nextAttemptAt: null, failingSince: null, disableReason: null });
    ids.push(d.id);
  }
  await pgQuery(env.db.url, `update webhook_deliveries set created_at = now() - interval '2 days' where id = any($1::uuid[])`, [ids.slice(0, 3)]);
  t.is(await pruneDeliveries(repo, 86_400), 3);
  const left = await repo.listDeliveries(e.id, { limit: 10, status: null });
  t.deepEqual(left.map((d) => d.delivery.id).sort(), ids.slice(3).sort());
  t.is(Number((await pgQuery(env.db.url, 'select count(*) from webhook_attempts')).rows[0].count), 2);
});
