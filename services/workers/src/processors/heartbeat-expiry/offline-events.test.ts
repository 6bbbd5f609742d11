import test from 'ava';
import { EVENT_DATA_SCHEMAS, compile } from '@zfs-sync/contracts';
import { SystemsRepository, createOrm, createPgPool } from '@zfs-sync/db';
import { createTestDatabase, type TestDatabase } from '@zfs-sync/testkit';
import type { MikroORM } from '@mikro-orm/postgresql';
import type pg from 'pg';

/**
 * system.offline / system.online (issue 10): one event per transition, never one per sweep —
 * also when sweeps race in several worker replicas.
 */
let db: TestDatabase;
let pools: pg.Pool[];
let orm: MikroORM;
let sweepers: SystemsRepository[];

test.before(async () => {
  db = await createTestDatabase();
  orm = await createOrm({ databaseUrl: db.url, poolMax: 2 });
  // Two replicas: each its own pool (its own connections), like two worker processes.
  pools = [createPgPool(db.url, 4), createPgPool(db.url, 4)];
  sweepers = pools.map((p) => new SystemsRepository(orm.em, p));
});
test.after.always(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await orm?.close(true);
  await db?.drop();
});

const count = async (sql: string, params: unknown[] = []) => Number((await pools[0]!.query(sql, params)).rows[0].n);

test.serial('1,000 expired hosts and two sweepers racing: exactly one system.offline per host', async (t) => {
  await pools[0]!.query(
    `insert into systems (hostname, platform, connectivity_status, last_seen)
     select 'race-' || i || '.test', 'linux', 'online', now() - interval '1 hour' from generate_series(1, 1000) as i`,
  );
  // Several rounds of both sweepers at once: the later rounds find nothing left to do.
  const results = [];
  for (let round = 0; round < 3; round++) results.push(...(await Promise.all(sweepers.map((s) => s.expireHeartbeats(60)))));
  const marked = results.reduce((n, r) => n + r.length, 0);
  t.is(marked, 1000, 'each host marked offline by exactly one sweep');
  t.log(`first round: sweeper A ${results[0]!.length}, sweeper B ${results[1]!.length}`);
  t.is(await count(`select count(*) as n from events where type = 'system.offline'`), 1000);
  t.is(await count(`select count(distinct data->>'system_id') as n from events where type = 'system.offline'`), 1000);
  t.is(await count(`select count(*) as n from systems where connectivity_status = 'offline'`), 1000);
});

test.serial('a heartbeat after going offline emits one system.online; further heartbeats emit nothing', async (t) => {
  const { rows } = await pools[0]!.query(`select id from systems where hostname = 'race-1.test'`);
  const id = rows[0].id as string;
  await Promise.all([sweepers[0]!.heartbeat(id, {}), sweepers[1]!.heartbeat(id, {})]);
  await sweepers[0]!.heartbeat(id, {});
  t.is(await count(`select count(*) as n from events where type = 'system.online' and data->>'system_id' = $1`, [id]), 1);
  const event = (await pools[0]!.query(`select data from events where type = 'system.online' and data->>'system_id' = $1`, [id])).rows[0].data;
  t.like(event, { system_id: id, hostname: 'race-1.test', previous: 'offline' });
  // Silent again: offline once more — one more event.
  await pools[0]!.query(`update systems set last_seen = now() - interval '1 hour' where id = $1`, [id]);
  await Promise.all(sweepers.map((s) => s.expireHeartbeats(60)));
  t.is(await count(`select count(*) as n from events where type = 'system.offline' and data->>'system_id' = $1`, [id]), 2);
});

test.serial('system.online and system.offline match their data schemas', async (t) => {
  const { rows } = await pools[0]!.query(`select type, data from events where type in ('system.online', 'system.offline')`);
  t.true(rows.length > 1000);
  const check = { 'system.online': compile(EVENT_DATA_SCHEMAS['system.online']), 'system.offline': compile(EVENT_DATA_SCHEMAS['system.offline']) } as Record<string, ReturnType<typeof compile>>;
  t.deepEqual(rows.filter((r) => !check[r.type]!(r.data).ok), []);
});
