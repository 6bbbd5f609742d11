/**
 * What this machine itself can do, measured in the same run as the end-to-end benchmarks so every
 * figure in the report can be put beside its limit:
 *
 *  - PostgreSQL: COPY into a temporary stage + one `INSERT … SELECT … ON CONFLICT DO UPDATE` into
 *    a table created `LIKE snapshots INCLUDING ALL` (the live table's columns, checks, identity
 *    and indexes; no foreign key — `LIKE` never copies one), 10,000 rows per transaction (one
 *    report of 10 datasets × 1,000), with one and with two connections in parallel.
 *  - BullMQ: `addBulk` of small jobs, one Worker (concurrency 50, empty processor) draining them,
 *    and the add → processed latency of one job at a time.
 *  - Redis: round trips with one command in flight, and with 64 in flight over 4 connections.
 *  - A bare heartbeat server (raw/http-server.ts: Node's HTTP server, one Redis script call per
 *    request, nothing else) in 2 processes, driven by the heartbeat benchmark's own client (4
 *    keep-alive connections, one request in flight each): the most heartbeats Node and Redis
 *    answer on this machine at all.
 *
 * The inputs are prepared before the clock starts: these are the stores' limits, not the cost of
 * building the data in JavaScript.
 */
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { redisOptionsFromUrl, workerConnection } from '@zfs-sync/queue';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { summary } from '../ingest/stats.js';
import { freePort } from '../ingest/processes.js';
import { LeanConnection, encodeRequest } from '../lib/lean-http.js';

const round = (x: number) => Math.round(x);

export interface RawLimits {
  postgres: {
    table: string;
    rows_per_transaction: number;
    rows: number;
    /** Best of the one- and two-connection runs: the limit the end-to-end figures are divided by. */
    copy_merge_rows_per_second: number;
    by_connections: Record<string, number>;
    /** The same rows again (every row conflicts, values unchanged): the merge that finds nothing to write. */
    unchanged_merge_rows_per_second: number;
  };
  bullmq: { jobs: number; add_per_second: number; process_per_second: number; handoff_ms: ReturnType<typeof summary> };
  redis: { single_in_flight_round_trips_per_second: number; round_trip_ms: ReturnType<typeof summary>; pipelined_ops_per_second: number };
  http: { processes: number; clients: number; requests: number; requests_per_second: number; latency_ms: ReturnType<typeof summary> };
}

// ---------------------------------------------------------------- PostgreSQL

function copyText(report: number, rowsPerDataset: number, datasets: number): string {
  const lines: string[] = [];
  for (let d = 0; d < datasets; d++) {
    const datasetId = report * datasets + d + 1;
    for (let n = 0; n < rowsPerDataset; n++) {
      // dataset_id, kind, name, guid, createtxg, creation (epoch), used, referenced, userrefs
      const guid = ((BigInt(report * 1_000_003 + d * 10_007 + n) * 11_400_714_819_323_198_485n) % 18_446_744_073_709_551_557n).toString();
      lines.push(`${datasetId}\tsnapshot\tautosnap_2025-01-01_${String(n).padStart(6, '0')}_hourly\t${guid}\t${100 + n}\t${1_735_689_600 + n * 3600}\t${4096 + n}\t${8192 + n}\t\\N\n`);
    }
  }
  return lines.join('');
}

const MERGE = (table: string) => `
  insert into ${table} as s (dataset_id, system_id, kind, name, guid, createtxg, creation, used, referenced, userrefs, report_id)
  select dataset_id, $1, kind, name, guid, createtxg, to_timestamp(creation_epoch), used, referenced, userrefs, 'raw' from raw_stage
  on conflict (dataset_id, kind, name) do update
    set guid = excluded.guid, createtxg = excluded.createtxg, creation = excluded.creation, used = excluded.used,
        referenced = excluded.referenced, userrefs = excluded.userrefs, last_seen = now()
    where (s.guid, s.createtxg, s.creation, s.used, s.referenced, s.userrefs) is distinct from
          (excluded.guid, excluded.createtxg, excluded.creation, excluded.used, excluded.referenced, excluded.userrefs)`;

async function copyMerge(client: pg.Client, text: string, systemId: string): Promise<void> {
  await client.query('begin');
  await client.query(`create temp table raw_stage (dataset_id bigint, kind text, name text, guid numeric(20,0), createtxg numeric(20,0),
    creation_epoch bigint, used numeric(20,0), referenced numeric(20,0), userrefs integer) on commit drop`);
  await pipeline(Readable.from([text]), client.query(copyStreams.from('copy raw_stage from stdin')));
  await client.query(MERGE('raw_snapshots'), [systemId]);
  await client.query('commit');
}

async function postgresLimit(databaseUrl: string): Promise<RawLimits['postgres']> {
  const setup = new pg.Client({ connectionString: databaseUrl });
  await setup.connect();
  const datasets = 10;
  const rowsPerDataset = 1000;
  const reportsPerConnection = 10;
  try {
    await setup.query('drop table if exists raw_snapshots');
    await setup.query('create table raw_snapshots (like snapshots including all)');
    const systemId = (await setup.query<{ id: string }>('select gen_random_uuid()::text as id')).rows[0]!.id;
    const clients = await Promise.all(
      [0, 1].map(async () => {
        const c = new pg.Client({ connectionString: databaseUrl });
        await c.connect();
        return c;
      }),
    );
    try {
      const byConnections: Record<string, number> = {};
      let unchanged = 0;
      let reportBase = 0;
      for (const connections of [1, 2]) {
        // Fresh rows for each run (new report numbers), prepared before the clock starts.
        const texts = clients.slice(0, connections).map((_, c) => Array.from({ length: reportsPerConnection }, (_, r) => copyText(reportBase + c * reportsPerConnection + r, rowsPerDataset, datasets)));
        reportBase += connections * reportsPerConnection;
        await setup.query('checkpoint').catch(() => {}); // needs superuser; best effort
        const t0 = performance.now();
        await Promise.all(texts.map(async (list, c) => {
          for (const text of list) await copyMerge(clients[c]!, text, systemId);
        }));
        const seconds = (performance.now() - t0) / 1000;
        byConnections[String(connections)] = round((connections * reportsPerConnection * datasets * rowsPerDataset) / seconds);
        if (connections === 2) {
          // The same rows again: every row conflicts and nothing changes.
          const t1 = performance.now();
          await Promise.all(texts.map(async (list, c) => {
            for (const text of list) await copyMerge(clients[c]!, text, systemId);
          }));
          unchanged = round((connections * reportsPerConnection * datasets * rowsPerDataset) / ((performance.now() - t1) / 1000));
        }
      }
      return {
        table: 'raw_snapshots (LIKE snapshots INCLUDING ALL: columns, checks, identity, indexes; no foreign key)',
        rows_per_transaction: datasets * rowsPerDataset,
        rows: reportBase * datasets * rowsPerDataset,
        copy_merge_rows_per_second: Math.max(...Object.values(byConnections)),
        by_connections: byConnections,
        unchanged_merge_rows_per_second: unchanged,
      };
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  } finally {
    await setup.query('drop table if exists raw_snapshots').catch(() => {});
    await setup.end();
  }
}

// ---------------------------------------------------------------- BullMQ

async function bullmqLimit(redisUrl: string, prefix: string): Promise<RawLimits['bullmq']> {
  const name = 'raw-limit';
  const queue = new Queue(name, { connection: { ...redisOptionsFromUrl(redisUrl), maxRetriesPerRequest: null }, prefix });
  const jobs = 20_000;
  try {
    const batches = Array.from({ length: jobs / 1000 }, (_, b) => Array.from({ length: 1000 }, (_, i) => ({ name: 'noop', data: { i: b * 1000 + i }, opts: { removeOnComplete: true, removeOnFail: true } })));
    const t0 = performance.now();
    for (const batch of batches) await queue.addBulk(batch);
    const addSeconds = (performance.now() - t0) / 1000;

    let done = 0;
    let finished!: () => void;
    const allDone = new Promise<void>((r) => (finished = r));
    const t1 = performance.now();
    const worker = new Worker(name, async () => {
      if (++done === jobs) finished();
    }, { connection: workerConnection(redisUrl), prefix, concurrency: 50 });
    await allDone;
    const processSeconds = (performance.now() - t1) / 1000;
    await worker.close();

    // One job at a time: add → processed, through a waiting worker (the floor under any
    // "report → plan" latency, which is two such hand-offs plus the work).
    const handoff: number[] = [];
    const sent = new Map<number, number>();
    let resolveOne: (() => void) | null = null;
    const single = new Worker(name, async (job) => {
      handoff.push(performance.now() - sent.get(job.data.i as number)!);
      resolveOne?.();
    }, { connection: workerConnection(redisUrl), prefix, concurrency: 1 });
    await single.waitUntilReady();
    for (let i = 0; i < 300; i++) {
      const one = new Promise<void>((r) => (resolveOne = r));
      sent.set(i, performance.now());
      await queue.add('noop', { i }, { removeOnComplete: true });
      await one;
    }
    await single.close();
    return { jobs, add_per_second: round(jobs / addSeconds), process_per_second: round(jobs / processSeconds), handoff_ms: summary(handoff.slice(20), 2) };
  } finally {
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
  }
}

// ---------------------------------------------------------------- Redis

async function redisLimit(redisUrl: string, prefix: string): Promise<RawLimits['redis']> {
  const clients = Array.from({ length: 4 }, () => new Redis({ ...redisOptionsFromUrl(redisUrl), maxRetriesPerRequest: 1 }));
  const key = `${prefix}:raw-rtt`;
  try {
    await Promise.all(clients.map((c) => c.ping()));
    const c0 = clients[0]!;
    const rtts: number[] = [];
    const n1 = 5000;
    const t0 = performance.now();
    for (let i = 0; i < n1; i++) {
      const s = performance.now();
      await c0.set(key, String(i));
      rtts.push(performance.now() - s);
    }
    const single = n1 / ((performance.now() - t0) / 1000);

    // 16 commands in flight per connection, 4 connections: what a busy server answers.
    const perLane = 5000;
    const t1 = performance.now();
    await Promise.all(clients.flatMap((c, ci) => Array.from({ length: 16 }, async (_, lane) => {
      for (let i = 0; i < perLane / 16; i++) await c.set(`${key}:${ci}:${lane}`, String(i));
    })));
    const pipelined = (clients.length * perLane) / ((performance.now() - t1) / 1000);
    return { single_in_flight_round_trips_per_second: round(single), round_trip_ms: summary(rtts, 3), pipelined_ops_per_second: round(pipelined) };
  } finally {
    const keys = await clients[0]!.keys(`${key}*`).catch(() => [] as string[]);
    if (keys.length) await clients[0]!.unlink(...keys).catch(() => {});
    for (const c of clients) c.disconnect();
  }
}

// ---------------------------------------------------------------- HTTP + Redis

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function httpLimit(redisUrl: string, prefix: string, opts = { processes: 2, clients: 4, requests: 20_000 }): Promise<RawLimits['http']> {
  const port = await freePort();
  const server = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./http-server.ts', import.meta.url))], {
    env: { ...process.env, RAW_HTTP_PORT: String(port), RAW_HTTP_PROCESSES: String(opts.processes), RAW_HTTP_REDIS_URL: redisUrl, RAW_HTTP_PREFIX: prefix },
    stdio: ['ignore', 'ignore', 'inherit'],
    detached: true,
  });
  const request = encodeRequest('POST', `127.0.0.1:${port}`, '/heartbeat', { 'Content-Type': 'application/json' }, '{"agent_version":"bench-1.0"}');
  const run = async (total: number) => {
    const conns = Array.from({ length: opts.clients }, () => new LeanConnection('127.0.0.1', port));
    const latencies: number[] = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(conns.map(async (c) => {
      while (next < total) {
        next++;
        const r = await c.send(request);
        if (r.status !== 200) throw new Error(`bare heartbeat server answered ${r.status}`);
        latencies.push(r.ms);
      }
    }));
    const seconds = (performance.now() - t0) / 1000;
    for (const c of conns) c.close();
    return { seconds, latencies };
  };
  try {
    // Every process listening and warm (the cluster's processes start one by one).
    for (let tries = 0; ; tries++) {
      try {
        await run(200);
        break;
      } catch (err) {
        if (tries > 100 || server.exitCode !== null) throw err;
        await sleep(100);
      }
    }
    await run(2000);
    const { seconds, latencies } = await run(opts.requests);
    return { ...opts, requests_per_second: round(opts.requests / seconds), latency_ms: summary(latencies, 2) };
  } finally {
    if (server.pid) process.kill(-server.pid, 'SIGTERM');
    const redis = new Redis({ ...redisOptionsFromUrl(redisUrl), maxRetriesPerRequest: 1 });
    await redis.unlink(`${prefix}:raw-heartbeats`).catch(() => {});
    redis.disconnect();
  }
}

export async function measureRawLimits(opts: { databaseUrl: string; redisUrl: string; prefix: string; log?: (msg: string) => void }): Promise<RawLimits> {
  const log = opts.log ?? (() => {});
  log('raw limits: PostgreSQL COPY + merge…');
  const postgres = await postgresLimit(opts.databaseUrl);
  log(`  ${postgres.copy_merge_rows_per_second.toLocaleString('en-US')} rows/s (${JSON.stringify(postgres.by_connections)} by connections)`);
  log('raw limits: BullMQ add / process…');
  const bullmq = await bullmqLimit(opts.redisUrl, opts.prefix);
  log(`  add ${bullmq.add_per_second.toLocaleString('en-US')}/s, process ${bullmq.process_per_second.toLocaleString('en-US')}/s, hand-off p50 ${bullmq.handoff_ms.p50} ms`);
  log('raw limits: Redis round trips…');
  const redis = await redisLimit(opts.redisUrl, opts.prefix);
  log(`  ${redis.single_in_flight_round_trips_per_second.toLocaleString('en-US')}/s one in flight, ${redis.pipelined_ops_per_second.toLocaleString('en-US')}/s 64 in flight`);
  log('raw limits: a bare Node HTTP server with one Redis script call per request…');
  const http = await httpLimit(opts.redisUrl, opts.prefix);
  log(`  ${http.requests_per_second.toLocaleString('en-US')} req/s (p50 ${http.latency_ms.p50} ms, p99 ${http.latency_ms.p99} ms)`);
  return { postgres, bullmq, redis, http };
}
