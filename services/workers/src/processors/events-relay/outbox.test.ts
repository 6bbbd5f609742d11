import test from 'ava';
import { appendEvents, createOrm, createPgPool, withTransaction } from '@zfs-sync/db';
import { createTestDatabase, type TestDatabase } from '@zfs-sync/testkit';
import type { MikroORM } from '@mikro-orm/postgresql';
import type pg from 'pg';

let db: TestDatabase;
let pool: pg.Pool;
let orm: MikroORM;

test.before(async () => {
  db = await createTestDatabase();
  pool = createPgPool(db.url, 4);
  orm = await createOrm({ databaseUrl: db.url, poolMax: 2 });
});
test.after.always(async () => {
  await orm?.close(true);
  await pool?.end();
  await db?.drop();
});

const eventsOfType = async (type: string) => (await pool.query('select id, type, data, seq, relayed_at from events where type = $1 order by outbox_no', [type])).rows;

test.serial('an event commits with its change (pg transaction)', async (t) => {
  const [envelope] = await withTransaction(pool, async (client) => {
    await client.query(`insert into systems (hostname, platform) values ('outbox-commit.example', 'linux')`);
    return appendEvents(client, [{ type: 'system.registered', data: { hostname: 'outbox-commit.example' } }]);
  });
  const rows = await eventsOfType('system.registered');
  t.is(rows.length, 1);
  t.is(rows[0].id, envelope!.id);
  t.deepEqual(rows[0].data, { hostname: 'outbox-commit.example' });
  // Not in the log until the relay gives it a position.
  t.is(rows[0].seq, null);
  t.is(rows[0].relayed_at, null);
  t.regex(envelope!.occurred_at, /^\d{4}-\d\d-\d\dT/);
});

test.serial('a rolled-back change leaves no event (pg transaction)', async (t) => {
  await t.throwsAsync(
    withTransaction(pool, async (client) => {
      await client.query(`insert into systems (hostname, platform) values ('outbox-rollback.example', 'linux')`);
      await appendEvents(client, [{ type: 'system.deleted', data: { hostname: 'outbox-rollback.example' } }]);
      throw new Error('the change fails after its event was written');
    }),
    { message: /the change fails/ },
  );
  t.is((await eventsOfType('system.deleted')).length, 0);
  t.is((await pool.query(`select 1 from systems where hostname = 'outbox-rollback.example'`)).rowCount, 0);
});

test.serial('events join a MikroORM transaction: committed together, rolled back together', async (t) => {
  await orm.em.fork().transactional(async (em) => {
    await em.execute(`insert into systems (hostname, platform) values ('outbox-orm.example', 'linux')`);
    await appendEvents(em, [
      { type: 'system.key_rotated', data: { n: 1 } },
      { type: 'system.key_rotated', data: { n: 2 }, occurred_at: new Date('2026-01-02T03:04:05Z') },
    ]);
  });
  const rows = await eventsOfType('system.key_rotated');
  t.deepEqual(
    rows.map((r) => r.data),
    [{ n: 1 }, { n: 2 }],
    'order within one call is kept',
  );
  await t.throwsAsync(
    orm.em.fork().transactional(async (em) => {
      await appendEvents(em, [{ type: 'system.key_rotated', data: { n: 3 } }]);
      throw new Error('rollback');
    }),
  );
  t.is((await eventsOfType('system.key_rotated')).length, 2);
});
