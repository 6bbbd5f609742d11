import test from 'ava';
import { Redis } from 'ioredis';
import { appendEvents, createPgPool, relayOutboxBatch, withTransaction, envelopeOf, type LoggedEvent } from '@zfs-sync/db';
import { createLogger } from '@zfs-sync/logger';
import { appendToEventStreamOnce, eventStreamKey, forgetRelayed, producerConnection, readEventStream, relayMarksKey } from '@zfs-sync/queue';
import { createTestEnvironment, eventually, spawnWorkerProcess, type TestEnvironment } from '@zfs-sync/testkit/stack';
import type pg from 'pg';
import { startEventsRelay } from './events-relay.processor.js';

let env: TestEnvironment;
let pool: pg.Pool;
let redis: Redis;

test.before(async () => {
  env = await createTestEnvironment();
  pool = createPgPool(env.db.url, 4);
  redis = new Redis(producerConnection(env.redisUrl));
});
test.after.always(async () => {
  redis?.disconnect();
  await pool?.end();
  await env?.teardown();
});

const streamEntries = async () => readEventStream(redis, env.prefix, '0-0', 1, 100_000).catch(() => []);
const unrelayed = async () => Number((await pool.query('select count(*) from events where seq is null')).rows[0].count);
const append = (n: number, tag: string) =>
  withTransaction(pool, (client) => appendEvents(client, Array.from({ length: n }, (_, i) => ({ type: 'inventory.applied' as const, data: { tag, i } }))));

test.serial('a NOTIFY on commit moves an event to the stream at once (the sweep is a minute away)', async (t) => {
  const config = env.config({ events_relay_poll_ms: 60_000 });
  const relay = startEventsRelay({ config, logger: createLogger('relay-test', config), pool, redis });
  try {
    // Let the LISTEN connection come up (its first drain runs on connect).
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    const [event] = await append(1, 'notify');
    const entries = await eventually(streamEntries, (es) => es.some((e) => e.envelope.id === event!.id), 2000);
    const took = Date.now() - started;
    t.log(`committed → on the stream in ${took} ms`);
    const entry = entries.find((e) => e.envelope.id === event!.id)!;
    t.deepEqual(entry.envelope, event);
    const row = (await pool.query('select seq::text as seq, relayed_at from events where id = $1', [event!.id])).rows[0];
    t.is(entry.seq, row.seq, 'the stream entry carries the log position');
    t.truthy(row.relayed_at);
  } finally {
    await relay.stop();
  }
});

test.serial('events committed while the relay was SIGKILLed reach the stream when a relay runs again; nothing is lost', async (t) => {
  const config = env.config({ events_relay_poll_ms: 200 });
  const child = spawnWorkerProcess(config, { WORKER_PROCESSORS: 'events-relay' });
  try {
    const [probe] = await append(1, 'child-alive');
    await eventually(streamEntries, (es) => es.some((e) => e.envelope.id === probe!.id), 30_000);
    // Kill it without warning while events keep being committed.
    const writes = Promise.all([append(200, 'killed'), append(200, 'killed')]);
    await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const written = (await writes).flat();
    // A fresh relay (another replica, or the restarted pod) sweeps what was left.
    const relay = startEventsRelay({ config, logger: createLogger('relay-test', config), pool, redis });
    try {
      await eventually(unrelayed, (n) => n === 0, 10_000);
      const seen = new Set((await streamEntries()).map((e) => e.envelope.id));
      t.deepEqual(
        written.filter((e) => !seen.has(e.id)),
        [],
        'every committed event is on the stream',
      );
      const onStream = (await streamEntries()).filter((e) => (e.envelope.data as { tag?: string }).tag === 'killed');
      t.is(onStream.length, 400, 'and each once');
      const seqs = (await pool.query(`select seq from events where data->>'tag' = 'killed'`)).rows.map((r) => r.seq);
      t.is(new Set(seqs).size, 400, 'each event got one log position');
    } finally {
      await relay.stop();
    }
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test.serial('a batch that reached Redis but died before its commit is taken again without a second copy on the stream; the event keeps its position', async (t) => {
  const publish = (events: LoggedEvent[]) => appendToEventStreamOnce(redis, env.prefix, events.map((e) => ({ envelope: envelopeOf(e), seq: e.seq })), 1000);
  const written = await append(3, 'crash-before-commit');
  // A newer event committed while the first attempt ran is relayed with the retry, after them.
  let firstSeqs: string[] = [];
  await t.throwsAsync(
    relayOutboxBatch(pool, 500, async (events) => {
      firstSeqs = await publish(events);
      throw new Error('the process dies here');
    }),
    { message: 'the process dies here' },
  );
  t.is(await unrelayed(), 3, 'nothing was stamped relayed');
  const [late] = await append(1, 'crash-before-commit');
  const moved = await relayOutboxBatch(pool, 500, publish);
  t.is(moved.length, 4);
  await forgetRelayed(redis, env.prefix, moved.map((e) => e.id));
  const entries = (await streamEntries()).filter((e) => (e.envelope.data as { tag?: string }).tag === 'crash-before-commit');
  t.deepEqual(
    entries.map((e) => e.envelope.id),
    [...written.map((e) => e.id), late!.id],
    'each event once on the stream, in order',
  );
  const { rows } = await pool.query(`select id, seq::text as seq from events where data->>'tag' = 'crash-before-commit' order by seq`);
  t.deepEqual(rows.map((r) => r.id), [...written.map((e) => e.id), late!.id], 'positions follow the outbox order');
  t.deepEqual(rows.slice(0, 3).map((r) => r.seq), firstSeqs, 'the positions the stream already shows');
  t.deepEqual(entries.map((e) => e.seq), rows.map((r) => r.seq), 'the stream and the log agree');
  t.is(await redis.hlen(relayMarksKey(env.prefix)), 0, 'no marks left after the commit');
});

test.serial('the stream stays bounded (MAXLEN ~)', async (t) => {
  const config = env.config({ events_stream_max_length: 100 });
  await append(1000, 'bounded');
  const relay = startEventsRelay({ config, logger: createLogger('relay-test', config), pool, redis });
  try {
    await relay.drain();
    await eventually(unrelayed, (n) => n === 0, 10_000);
  } finally {
    await relay.stop();
  }
  const length = await redis.xlen(eventStreamKey(env.prefix));
  t.true(length < 400, `stream length ${length}`);
  t.is(Number((await pool.query(`select count(*) from events where data->>'tag' = 'bounded'`)).rows[0].count), 1000, 'PostgreSQL keeps the record');
});
