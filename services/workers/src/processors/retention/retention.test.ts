import test from 'ava';
import { createPgPool } from '@zfs-sync/db';
import { createTestEnvironment, type TestEnvironment } from '@zfs-sync/testkit/stack';
import type pg from 'pg';
import { pruneOld } from './retention.processor.js';

let env: TestEnvironment;
let pool: pg.Pool;

test.before(async () => {
  env = await createTestEnvironment();
  pool = createPgPool(env.db.url, 2);
});
test.after.always(async () => {
  await pool?.end();
  await env?.teardown();
});

const n = async (sql: string) => Number((await pool.query(sql)).rows[0].n);

test('the retention job prunes events and audit entries past their age; recent ones and unrelayed events stay', async (t) => {
  const config = env.config({ events_retention_days: 30, audit_retention_days: 90 });
  // 25,000 old relayed events (more than one delete batch), 100 recent ones, 10 old but never relayed.
  await pool.query(
    `insert into events (type, occurred_at, data, seq, relayed_at)
     select 'inventory.applied', now() - interval '31 days', '{}', nextval('events_seq'), now() from generate_series(1, 25000)`,
  );
  await pool.query(`insert into events (type, data, seq, relayed_at) select 'inventory.applied', '{}', nextval('events_seq'), now() from generate_series(1, 100)`);
  await pool.query(`insert into events (type, occurred_at, data) select 'inventory.applied', now() - interval '31 days', '{}' from generate_series(1, 10)`);
  await pool.query(`insert into audit_log (actor_kind, action, resource_type, at) select 'admin', 'system.updated', 'system', now() - interval '91 days' from generate_series(1, 500)`);
  await pool.query(`insert into audit_log (actor_kind, action, resource_type, at) select 'admin', 'system.updated', 'system', now() - interval '60 days' from generate_series(1, 7)`);
  await pool.query(
    `insert into link_event_marks (group_id, dataset, source_system_id, target_system_id, direction, emitted_at)
     values (gen_random_uuid(), 'd', gen_random_uuid(), gen_random_uuid(), 'a>b', now() - interval '2 days'), (gen_random_uuid(), 'd', gen_random_uuid(), gen_random_uuid(), 'a>b', now())`,
  );
  const pruned = await pruneOld({ pool, config });
  t.deepEqual(pruned, { events: 25_000, audit: 500, marks: 1 });
  t.is(await n('select count(*) as n from events'), 110);
  t.is(await n('select count(*) as n from events where seq is null'), 10, 'unrelayed events are kept until relayed');
  t.is(await n('select count(*) as n from audit_log'), 7);
  t.deepEqual(await pruneOld({ pool, config }), { events: 0, audit: 0, marks: 0 }, 'idempotent');
});
