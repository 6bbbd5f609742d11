/**
 * Ingest benchmark (issue 3): full inventories posted concurrently through the real API to the real
 * reconcile workers, then the same inventories again unchanged, then the original-compatible
 * /snapshots/batch endpoint in sequential chunks of 1,000. Everything runs against a throwaway
 * database (cloned from the migrated test template) and a queue prefix of its own, both removed
 * at the end, also after a failure or Ctrl-C.
 *
 *   npm run bench:ingest                      # full size: 100 systems × 10 datasets × 1,000 snapshots
 *   npm run bench:ingest -- --systems 10      # quick check
 *   npm run bench:ingest -- --concurrency 2,4,8 --skip-batch   # compare worker concurrency
 *
 * Prints a table and writes bench/results/ingest-<ISO timestamp>.json.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createTestDatabase, dropQueuePrefix, testQueuePrefix, testServices } from '@zfs-sync/testkit';
import { parseArgs, type BenchArgs } from './ingest/args.js';
import { batchChunks, inventoryBody, inventoryDatasetsJson } from './ingest/data.js';
import { BenchHttp, mapLimit, type HttpResult } from './ingest/http.js';
import { Sampler, freePort, prepareServices, round, startService, type Service } from './ingest/processes.js';
import { profilesIn, summarizeProfile, type ProfileSummary } from './ingest/profile.js';
import { fmtInt, fmtNum, summary, table } from './ingest/stats.js';
import { writeResult } from './lib/result.js';
import { serviceEnv } from './lib/stack.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const TARGET_NEW = 40_000;
/**
 * Extra node flags for the API (experiments, e.g. BENCH_API_NODE_ARGS=--max-old-space-size=160); none by default, as in
 * production (whose heap settings the entry point applies itself: libs/runtime/src/heap.ts; a flag given here wins).
 */
const API_NODE_ARGS = (process.env.BENCH_API_NODE_ARGS ?? '').split(' ').filter(Boolean);
/** The same for the worker processes (BENCH_WORKER_NODE_ARGS). */
const WORKER_NODE_ARGS = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
const TARGET_UNCHANGED = 150_000;

// ---------------------------------------------------------------- cleanup (also on Ctrl-C)

const cleanups: Array<{ name: string; run: () => Promise<void> }> = [];
let cleaning: Promise<void> | undefined;
function onCleanup(name: string, run: () => Promise<void>): () => void {
  const entry = { name, run };
  cleanups.push(entry);
  return () => {
    const i = cleanups.indexOf(entry);
    if (i >= 0) cleanups.splice(i, 1);
  };
}
function cleanupAll(): Promise<void> {
  cleaning ??= (async () => {
    while (cleanups.length) {
      const c = cleanups.pop()!;
      try {
        await c.run();
      } catch (err) {
        process.stderr.write(`cleanup ${c.name} failed: ${(err as Error).message}\n`);
      }
    }
  })();
  return cleaning;
}
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write(`\n${sig}: stopping the services and dropping the benchmark database…\n`);
    void cleanupAll().finally(() => process.exit(130));
  });
}
process.on('unhandledRejection', (err) => {
  if (interrupted) return;
  process.stderr.write(`\nbenchmark failed (unhandled): ${(err as Error)?.stack ?? err}\n`);
  void cleanupAll().finally(() => process.exit(1));
});
/** Last resort: whatever happens, no service outlives the benchmark. */
const children = new Set<Service>();
process.on('exit', () => {
  for (const s of children) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
});

const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- one round

interface RegisteredSystem {
  id: string;
  key: string;
}

interface JobTiming {
  waitMs: number;
  applyMs: number;
  attempts: number;
  payloadBytes: number;
}

interface PhaseResult {
  name: string;
  rows: number;
  requests: number;
  reports: number;
  accepted: number;
  rejected: number;
  shed_503_retried: number;
  first_error: string | null;
  /** First POST → last POST answered. */
  post_seconds: number;
  /** First POST → last report applied. */
  e2e_seconds: number;
  rows_per_second: number;
  accept_rows_per_second: number;
  latency_ms: ReturnType<typeof summary>;
  statuses: Record<string, number>;
  counts: { added: number; changed: number; unchanged: number; removed: number };
  jobs: { wait_ms: ReturnType<typeof summary>; apply_ms: ReturnType<typeof summary>; apply_seconds_total: number; retried: number; payload_bytes_mean: number };
  peak_rss_mib: Record<string, number>;
  cpu_seconds: Record<string, number>;
  machine_busy: number;
  progress: Array<[number, number]>;
}

async function waitForReports(db: pg.Client, systemIds: string[], reportIds: () => string[], expected: () => number | null, t0: number, timeoutS: number, services: Service[]): Promise<{ doneAt: number; statuses: Record<string, number>; progress: Array<[number, number]> }> {
  const progress: Array<[number, number]> = [];
  let lastProgress = -1;
  const deadline = t0 + timeoutS * 1000;
  for (;;) {
    const ids = reportIds();
    const { rows } = await db.query<{ status: string; n: number }>('select status, count(*)::int as n from inventory_reports where system_id = any($1::uuid[]) and report_id = any($2::text[]) group by status', [systemIds, ids]);
    const now = performance.now();
    const statuses = Object.fromEntries(rows.map((r) => [r.status, r.n]));
    const final = (statuses.applied ?? 0) + (statuses.failed ?? 0) + (statuses.superseded ?? 0);
    const sec = Math.floor((now - t0) / 1000);
    if (sec !== lastProgress) {
      progress.push([round((now - t0) / 1000, 1), statuses.applied ?? 0]);
      lastProgress = sec;
    }
    const want = expected();
    if (want !== null && final >= want) {
      progress.push([round((now - t0) / 1000, 2), statuses.applied ?? 0]);
      return { doneAt: now, statuses, progress };
    }
    for (const s of services) if (s.child.exitCode !== null || s.child.signalCode !== null) throw new Error(`${s.name} exited (${s.child.exitCode ?? s.child.signalCode}) while reports were pending:\n${s.tail()}`);
    if (now > deadline) throw new Error(`reports not applied after ${timeoutS}s: ${JSON.stringify(statuses)} of ${want ?? '?'}`);
    await sleep(100);
  }
}

async function jobTimings(redis: Redis, prefix: string, jobIds: string[]): Promise<JobTiming[]> {
  const pipe = redis.pipeline();
  for (const id of jobIds) {
    pipe.hmget(`${prefix}:reconcile:${id}`, 'timestamp', 'processedOn', 'finishedOn', 'atm', 'attemptsMade');
    pipe.hstrlen(`${prefix}:reconcile:${id}`, 'data');
  }
  const res = (await pipe.exec()) ?? [];
  const out: JobTiming[] = [];
  for (let i = 0; i < jobIds.length; i++) {
    const [ts, processed, finished, atm, attemptsMade] = (res[2 * i]?.[1] as Array<string | null>) ?? [];
    const bytes = Number(res[2 * i + 1]?.[1] ?? 0);
    if (!ts || !processed || !finished) continue;
    out.push({ waitMs: Number(processed) - Number(ts), applyMs: Number(finished) - Number(processed), attempts: Number(atm ?? attemptsMade ?? 1), payloadBytes: bytes });
  }
  return out;
}

async function reportCounts(db: pg.Client, systemIds: string[], reportIds: string[]) {
  const { rows } = await db.query<{ added: string; changed: string; unchanged: string; removed: string }>(
    `select coalesce(sum((counts->>'added')::bigint), 0) as added, coalesce(sum((counts->>'changed')::bigint), 0) as changed,
            coalesce(sum((counts->>'unchanged')::bigint), 0) as unchanged, coalesce(sum((counts->>'removed')::bigint), 0) as removed
       from inventory_reports where system_id = any($1::uuid[]) and report_id = any($2::text[])`,
    [systemIds, reportIds],
  );
  const r = rows[0]!;
  return { added: Number(r.added), changed: Number(r.changed), unchanged: Number(r.unchanged), removed: Number(r.removed) };
}

interface PhaseInput {
  name: string;
  rows: number;
  systems: RegisteredSystem[];
  /** Posts everything; calls `sent` with each answered request. Resolves when the last POST is answered. */
  post: (sent: (r: HttpResult, reportId: string | null, systemId: string) => void) => Promise<void>;
  expectedReports: number;
}

async function runPhase(ctx: { db: pg.Client; redis: Redis; prefix: string; services: Service[]; timeoutS: number; dbName: string }, input: PhaseInput): Promise<PhaseResult> {
  const sampler = new Sampler(Object.fromEntries(ctx.services.map((s) => [s.name, s.pid])), ctx.dbName);
  const latencies: number[] = [];
  const reportIds: string[] = [];
  const jobIds: string[] = [];
  let requests = 0;
  let shed = 0;
  let rejected = 0;
  let firstError: string | null = null;
  let postsDone = false;
  const systemIds = input.systems.map((s) => s.id);

  sampler.start();
  const t0 = performance.now();
  const posting = input
    .post((r, reportId, systemId) => {
      requests++;
      shed += r.shed ?? 0;
      latencies.push(r.ms);
      if (r.status !== 202 && r.status !== 201) {
        rejected++;
        firstError ??= `${r.status} ${r.text.slice(0, 300)}`;
        return;
      }
      // The inventory answer names its report; the batch answer (the original's array of
      // snapshots) names it in Location.
      const answer = JSON.parse(r.text) as { report_id?: string };
      const id = reportId ?? answer.report_id ?? decodeURIComponent(r.location?.split('/').pop() ?? '');
      reportIds.push(id);
      jobIds.push(`inv-${systemId}-${id}-0`);
    })
    .then(() => {
      postsDone = true;
      return performance.now();
    });
  posting.catch(() => {});
  const waited = waitForReports(ctx.db, systemIds, () => reportIds, () => (postsDone ? reportIds.length : null), t0, ctx.timeoutS, ctx.services);
  waited.catch(() => {});
  const postedAt = await posting;
  const { doneAt, statuses, progress } = await waited;
  const sampled = sampler.stop();

  const timings = await jobTimings(ctx.redis, ctx.prefix, jobIds);
  const counts = await reportCounts(ctx.db, systemIds, reportIds);
  const e2e = (doneAt - t0) / 1000;
  const post = (postedAt - t0) / 1000;
  return {
    name: input.name,
    rows: input.rows,
    requests,
    reports: reportIds.length,
    accepted: requests - rejected,
    rejected,
    shed_503_retried: shed,
    first_error: firstError,
    post_seconds: round(post, 3),
    e2e_seconds: round(e2e, 3),
    rows_per_second: Math.round(input.rows / e2e),
    accept_rows_per_second: Math.round(input.rows / post),
    latency_ms: summary(latencies),
    statuses,
    counts,
    jobs: {
      wait_ms: summary(timings.map((t) => t.waitMs), 0),
      apply_ms: summary(timings.map((t) => t.applyMs), 0),
      apply_seconds_total: round(timings.reduce((a, t) => a + t.applyMs, 0) / 1000, 2),
      retried: timings.filter((t) => t.attempts > 1).length,
      payload_bytes_mean: timings.length ? Math.round(timings.reduce((a, t) => a + t.payloadBytes, 0) / timings.length) : 0,
    },
    peak_rss_mib: sampled.peakRssMiB,
    cpu_seconds: sampled.cpu.seconds,
    machine_busy: sampled.cpu.machineBusy,
    progress,
  };
}

async function runRound(args: BenchArgs, workerConcurrency: number, logDir: string) {
  const { redisUrl } = await testServices();
  log(`round: worker concurrency ${workerConcurrency}; creating a throwaway database and queue prefix`);
  const database = await createTestDatabase();
  const undoDb = onCleanup(`drop database ${database.name}`, async () => {
    if (args.keep) log(`kept database ${database.name}`);
    else await database.drop();
  });
  const prefix = testQueuePrefix();
  const undoPrefix = onCleanup(`drop queue prefix ${prefix}`, async () => {
    if (args.keep) log(`kept queue prefix ${prefix}`);
    else await dropQueuePrefix(redisUrl, prefix);
  });

  const port = await freePort();
  const adminToken = `bench-admin-${randomBytes(16).toString('hex')}`;
  const common = { ...serviceEnv({ databaseUrl: database.url, redisUrl, prefix, adminToken }), ZFS_SYNC_WORKER_CONCURRENCY: String(workerConcurrency) };
  const roundLogDir = join(logDir, `c${workerConcurrency}`);
  mkdirSync(roundLogDir, { recursive: true });
  const prof = (name: string) => (args.profile ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${join(roundLogDir, `prof-${name}`)}`] } : {});
  const api = startService('api', 'api', { ...common, PORT: String(port), ZFS_SYNC_HOST: '127.0.0.1', ZFS_SYNC_API_PROCESSES: String(args.apiProcesses) }, { cwd: ROOT, logDir: roundLogDir, fromSource: args.fromSource, ...(args.profile ? prof('api') : { nodeArgs: API_NODE_ARGS }) });
  const undoApi = onCleanup('stop api', () => api.stop());
  const workers = Array.from({ length: args.workerProcesses }, (_, i) => {
    const name = i === 0 ? 'worker' : `worker${i + 1}`;
    return startService(name, 'workers', { ...common, ZFS_SYNC_OPS_PORT: '0', WORKER_PROCESSORS: 'reconcile,recompute-links' }, { cwd: ROOT, logDir: roundLogDir, fromSource: args.fromSource, ...(args.profile ? prof(name) : { nodeArgs: WORKER_NODE_ARGS }) });
  });
  const worker = workers[0]!;
  const undoWorker = onCleanup('stop workers', async () => {
    await Promise.all(workers.map((w) => w.stop()));
  });
  const services = [api, ...workers];
  for (const s of services) children.add(s);

  const http = new BenchHttp(new URL(`http://127.0.0.1:${port}/api/v1`), Math.max(args.clientConcurrency, args.batchSystems, 8));
  const db = new pg.Client({ connectionString: database.url });
  await db.connect();
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  const undoClients = onCleanup('close clients', async () => {
    http.close();
    redis.disconnect();
    await db.end().catch(() => {});
  });

  // Ready?
  const readyBy = Date.now() + 90_000;
  for (;;) {
    for (const s of services) if (s.child.exitCode !== null) throw new Error(`${s.name} exited during start-up (${s.child.exitCode}):\n${s.tail()}`);
    const r = await http.request('GET', '/health/ready').catch(() => null);
    if (r?.status === 200) break;
    if (Date.now() > readyBy) throw new Error(`the API was not ready after 90 s:\n${api.tail()}`);
    await sleep(200);
  }
  log(`API ready on port ${port} (pid ${api.pid}), worker pid ${worker.pid}; logs in ${roundLogDir}`);

  // Systems: the inventory ones, the batch ones and one for the warm-up.
  const admin = { authorization: `Bearer ${adminToken}` };
  const tag = randomBytes(3).toString('hex');
  const batchCount = args.skipBatch ? 0 : args.batchSystems;
  const registered = await mapLimit(Array.from({ length: args.systems + batchCount + 1 }, (_, i) => i), 8, async (i) => {
    const r = await http.request('POST', '/systems', { headers: admin, body: JSON.stringify({ hostname: `bench-${tag}-${i}.example.net`, platform: 'linux' }) });
    if (r.status !== 201) throw new Error(`registering system ${i}: ${r.status} ${r.text}`);
    const body = JSON.parse(r.text) as { id: string; api_key: string };
    return { id: body.id, key: body.api_key };
  });
  const invSystems = registered.slice(0, args.systems);
  const batchSystems = registered.slice(args.systems, args.systems + batchCount);
  const warmSystem = registered.at(-1)!;
  log(`registered ${registered.length} systems`);

  const ctx = { db, redis, prefix, services, timeoutS: args.timeoutS, dbName: database.name };
  const shape = { datasets: args.datasets, snapshotsPerDataset: args.snapshotsPerDataset };
  const inventoryRows = args.systems * args.datasets * args.snapshotsPerDataset;

  // Warm-up (not measured): one small inventory and one small batch, so module loading (and tsx
  // compilation, from source), JIT and connection pools are warm before the clock starts.
  {
    const body = inventoryBody('bench-warmup', 1, inventoryDatasetsJson(1_000_001, { datasets: 2, snapshotsPerDataset: 200 }));
    await runPhase(ctx, {
      name: 'warm-up',
      rows: 400,
      systems: [warmSystem],
      expectedReports: 2,
      post: async (sent) => {
        const r = await http.request('POST', `/systems/${warmSystem.id}/inventory`, { headers: { authorization: `Bearer ${warmSystem.key}` }, body });
        sent(r, 'bench-warmup', warmSystem.id);
        const [chunk] = batchChunks(1_000_002, warmSystem.id, 200, 1, 200);
        const b = await http.request('POST', '/snapshots/batch', { headers: { 'x-api-key': warmSystem.key }, body: chunk! });
        sent(b, null, warmSystem.id);
      },
    });
    log('warm-up applied');
  }

  log(`building ${args.systems} inventories of ${args.datasets} × ${args.snapshotsPerDataset} snapshots…`);
  const datasetsJson = invSystems.map((_, i) => inventoryDatasetsJson(i, shape));
  const bodyMiB = datasetsJson.reduce((a, s) => a + s.length, 0) / args.systems / 1024 / 1024;
  const generation = Date.now();

  const postInventories = (phase: string, gen: number) => async (sent: (r: HttpResult, reportId: string | null, systemId: string) => void) => {
    const bodies = invSystems.map((_, i) => Buffer.from(inventoryBody(`bench-${phase}-${i}`, gen, datasetsJson[i]!)));
    await mapLimit(invSystems, args.clientConcurrency, async (s, i) => {
      const r = await http.send('POST', `/systems/${s.id}/inventory`, { headers: { authorization: `Bearer ${s.key}` }, body: bodies[i]! });
      sent(r, `bench-${phase}-${i}`, s.id);
    });
  };

  const phases: PhaseResult[] = [];
  log(`phase new: posting ${args.systems} inventories (${fmtInt(inventoryRows)} rows, ${bodyMiB.toFixed(2)} MiB each), ${args.clientConcurrency} in flight`);
  phases.push(await runPhase(ctx, { name: 'new', rows: inventoryRows, systems: invSystems, expectedReports: args.systems, post: postInventories('new', generation) }));
  log(`phase new: ${fmtInt(phases.at(-1)!.rows_per_second)} rows/s`);

  if (!args.skipUnchanged) {
    log(`phase unchanged: re-posting the same ${args.systems} inventories (generation +1)`);
    phases.push(await runPhase(ctx, { name: 'unchanged', rows: inventoryRows, systems: invSystems, expectedReports: args.systems, post: postInventories('again', generation + 1) }));
    log(`phase unchanged: ${fmtInt(phases.at(-1)!.rows_per_second)} rows/s`);
  }

  if (batchCount > 0) {
    const chunks = batchSystems.map((s, i) => batchChunks(5000 + i, s.id, args.batchRowsPerSystem, args.datasets, args.batchChunk).map((c) => Buffer.from(c)));
    const total = chunks.reduce((a, c) => a + c.length, 0);
    log(`phase batch: ${batchCount} systems × ${fmtInt(args.batchRowsPerSystem)} rows in sequential requests of ${args.batchChunk} (${total} requests), ${args.batchConcurrency} systems at once`);
    phases.push(
      await runPhase(ctx, {
        name: 'batch',
        rows: batchCount * args.batchRowsPerSystem,
        systems: batchSystems,
        expectedReports: total,
        post: async (sent) => {
          // Each system posts its chunks one after another (as the original client does);
          // `--batch-concurrency` systems at once.
          await mapLimit(batchSystems, args.batchConcurrency, async (s, i) => {
            for (const body of chunks[i]!) {
              const r = await http.send('POST', '/snapshots/batch', { headers: { 'x-api-key': s.key }, body });
              sent(r, null, s.id);
            }
          });
        },
      }),
    );
    log(`phase batch: ${fmtInt(phases.at(-1)!.rows_per_second)} rows/s`);
  }

  // What is stored must be exactly what was sent.
  const stored = await db.query<{ system_id: string; n: number }>('select system_id, count(*)::int as n from snapshots where system_id = any($1::uuid[]) group by system_id', [registered.map((s) => s.id)]);
  const storedOf = new Map(stored.rows.map((r) => [r.system_id, r.n]));
  const invStored = invSystems.reduce((a, s) => a + (storedOf.get(s.id) ?? 0), 0);
  const batchStored = batchSystems.reduce((a, s) => a + (storedOf.get(s.id) ?? 0), 0);
  const verification = {
    inventory_rows_stored: invStored,
    inventory_rows_expected: inventoryRows,
    batch_rows_stored: batchStored,
    batch_rows_expected: batchCount * args.batchRowsPerSystem,
    ok: invStored === inventoryRows && batchStored === batchCount * args.batchRowsPerSystem,
  };
  if (!verification.ok) log(`WARNING: stored rows differ from what was sent: ${JSON.stringify(verification)}`);

  // Tear down this round (the cleanup stack would do it too, but rounds run one after another).
  for (const undo of [undoClients, undoWorker, undoApi]) undo();
  http.close();
  redis.disconnect();
  await db.end();
  await Promise.all([api.stop(), ...workers.map((w) => w.stop())]);
  undoPrefix();
  undoDb();
  if (args.keep) log(`kept database ${database.name} and queue prefix ${prefix}`);
  else {
    await dropQueuePrefix(redisUrl, prefix);
    await database.drop();
  }
  const profiles: Record<string, ProfileSummary[]> = {};
  if (args.profile) for (const name of ['api', 'worker']) profiles[name] = profilesIn(join(roundLogDir, `prof-${name}`)).map((f) => summarizeProfile(f));
  return { worker_concurrency: workerConcurrency, inventory_body_mib: round(bodyMiB, 3), phases, verification, logs: roundLogDir, ...(args.profile ? { profiles } : {}) };
}

// ---------------------------------------------------------------- report

type Round = Awaited<ReturnType<typeof runRound>>;

function printRound(r: Round): void {
  const ph = r.phases;
  const col = (f: (p: PhaseResult) => string) => ph.map(f);
  const rows: string[][] = [
    ['rows', ...col((p) => fmtInt(p.rows))],
    ['HTTP requests (rejected; 503s retried)', ...col((p) => `${fmtInt(p.requests)} (${p.rejected}; ${p.shed_503_retried})`)],
    ['end-to-end rows/s (first POST → last applied)', ...col((p) => fmtInt(p.rows_per_second))],
    ['end-to-end seconds', ...col((p) => fmtNum(p.e2e_seconds, 2))],
    ['accept rows/s (first POST → last 202)', ...col((p) => fmtInt(p.accept_rows_per_second))],
    ['POST latency p50 ms', ...col((p) => fmtNum(p.latency_ms.p50))],
    ['POST latency p90 ms', ...col((p) => fmtNum(p.latency_ms.p90))],
    ['POST latency p99 ms', ...col((p) => fmtNum(p.latency_ms.p99))],
    ['POST latency max ms', ...col((p) => fmtNum(p.latency_ms.max))],
    ['job queue wait p50 / max ms', ...col((p) => `${fmtInt(p.jobs.wait_ms.p50)} / ${fmtInt(p.jobs.wait_ms.max)}`)],
    ['job apply p50 / p99 ms', ...col((p) => `${fmtInt(p.jobs.apply_ms.p50)} / ${fmtInt(p.jobs.apply_ms.p99)}`)],
    ['job apply total s (sum over jobs)', ...col((p) => fmtNum(p.jobs.apply_seconds_total, 1))],
    ['job payload in Redis, mean KiB', ...col((p) => fmtNum(p.jobs.payload_bytes_mean / 1024, 0))],
    ['jobs retried', ...col((p) => String(p.jobs.retried))],
    ['reports applied / failed', ...col((p) => `${p.statuses.applied ?? 0} / ${p.statuses.failed ?? 0}`)],
    ['counts added / changed / unchanged / removed', ...col((p) => `${fmtInt(p.counts.added)} / ${fmtInt(p.counts.changed)} / ${fmtInt(p.counts.unchanged)} / ${fmtInt(p.counts.removed)}`)],
    ['peak RSS API MiB', ...col((p) => fmtNum(p.peak_rss_mib.api, 0))],
    ['peak RSS worker MiB', ...col((p) => fmtNum(p.peak_rss_mib.worker, 0))],
    ['machine busy (of 2 cores)', ...col((p) => `${Math.round(p.machine_busy * 100)}%`)],
  ];
  const groups = [...new Set(ph.flatMap((p) => Object.keys(p.cpu_seconds)))].sort((a, b) => (ph[0]!.cpu_seconds[b] ?? 0) - (ph[0]!.cpu_seconds[a] ?? 0));
  for (const g of groups) rows.push([`CPU s: ${g}`, ...col((p) => fmtNum(p.cpu_seconds[g] ?? 0, 1))]);
  process.stdout.write(`\nworker concurrency ${r.worker_concurrency} — inventory body ${r.inventory_body_mib} MiB per system\n`);
  process.stdout.write(`${table(['', ...ph.map((p) => p.name)], rows)}\n`);
  process.stdout.write(`stored rows check: ${r.verification.ok ? 'ok' : 'MISMATCH'} (${fmtInt(r.verification.inventory_rows_stored)} inventory, ${fmtInt(r.verification.batch_rows_stored)} batch)\n`);
  for (const [name, list] of Object.entries(r.profiles ?? {})) {
    for (const p of list) {
      process.stdout.write(`\nCPU profile of the ${name} (whole process life, ${fmtInt(p.total_ms)} ms on CPU; ${p.file})\n`);
      process.stdout.write(`${table(['self ms', '%', 'module'], p.modules.slice(0, 15).map((m) => [fmtInt(m.self_ms), fmtNum(m.share), m.module]))}\n\n`);
      process.stdout.write(`${table(['self ms', '%', 'function'], p.functions.slice(0, 20).map((f) => [fmtInt(f.self_ms), fmtNum(f.share), f.fn]))}\n`);
    }
  }
}

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

async function serverInfo() {
  const { pgUrl, redisUrl } = await testServices();
  const c = new pg.Client({ connectionString: pgUrl });
  await c.connect();
  const settings: Record<string, string> = {};
  try {
    const v = await c.query<{ v: string }>('select version() as v');
    const { rows } = await c.query<{ name: string; setting: string; unit: string | null }>(
      `select name, setting, unit from pg_settings where name in ('shared_buffers','work_mem','maintenance_work_mem','synchronous_commit','fsync','wal_level','max_wal_size','checkpoint_timeout','max_connections')`,
    );
    for (const r of rows) settings[r.name] = r.unit ? `${r.setting} (${r.unit})` : r.setting;
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
    const info = await redis.info('server');
    redis.disconnect();
    return { postgres: { version: v.rows[0]!.v.split(' on ')[0], settings }, redis: { version: /redis_version:(\S+)/.exec(info)?.[1] ?? null } };
  } finally {
    await c.end();
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  const logDir = mkdtempSync(join(os.tmpdir(), 'zfs-sync-bench-'));
  const load = os.loadavg();
  log(`load average ${load.map((l) => l.toFixed(2)).join(' ')} on ${os.cpus().length} cores${load[0]! > 0.5 ? ' — other work on this machine will lower the numbers' : ''}`);
  const servers = await serverInfo();
  await prepareServices(args.fromSource);
  log(args.fromSource ? 'services: from the TypeScript sources through tsx (--from-source)' : 'services: the compiled bundles in dist/ (built now), as production runs them');

  const rounds: Round[] = [];
  for (const c of args.concurrency) {
    rounds.push(await runRound(args, c, logDir));
    printRound(rounds.at(-1)!);
  }

  const best = rounds.reduce((a, b) => ((b.phases[0]?.rows_per_second ?? 0) > (a.phases[0]?.rows_per_second ?? 0) ? b : a));
  const rate = (r: Round, name: string) => r.phases.find((p) => p.name === name)?.rows_per_second ?? null;
  if (rounds.length > 1) {
    process.stdout.write(`\n${table(['worker concurrency', 'new rows/s', 'unchanged rows/s', 'batch rows/s'], rounds.map((r) => [String(r.worker_concurrency), fmtInt(rate(r, 'new')), fmtInt(rate(r, 'unchanged')), fmtInt(rate(r, 'batch'))]))}\n`);
  }
  const fullSize = args.systems === 100 && args.datasets === 10 && args.snapshotsPerDataset === 1000;
  const newRate = rate(best, 'new');
  const unchangedRate = rate(best, 'unchanged');
  const verdict = (v: number | null, target: number) => (v === null ? 'not run' : v >= target ? 'met' : 'MISSED');
  process.stdout.write(
    `\ntargets${fullSize ? '' : ' (apply to the full size only)'}: new ≥ ${fmtInt(TARGET_NEW)} rows/s: ${verdict(newRate, TARGET_NEW)} (${fmtInt(newRate)}); ` +
      `unchanged ≥ ${fmtInt(TARGET_UNCHANGED)} rows/s: ${verdict(unchangedRate, TARGET_UNCHANGED)} (${fmtInt(unchangedRate)}) — worker concurrency ${best.worker_concurrency}\n`,
  );

  const result = {
    benchmark: 'ingest',
    command: `npm run bench:ingest${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    started_at: startedAt.toISOString(),
    finished_at: new Date().toISOString(),
    git_commit: gitCommit(),
    machine: {
      cpus: os.cpus().length,
      cpu_model: os.cpus()[0]?.model ?? null,
      memory_gib: round(os.totalmem() / 1024 ** 3, 1),
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      load_average_at_start: load.map((l) => round(l, 2)),
    },
    servers,
    params: {
      systems: args.systems,
      datasets: args.datasets,
      snapshots_per_dataset: args.snapshotsPerDataset,
      inventory_rows: args.systems * args.datasets * args.snapshotsPerDataset,
      client_concurrency: args.clientConcurrency,
      worker_concurrency: args.concurrency,
      batch: args.skipBatch ? null : { systems: args.batchSystems, rows_per_system: args.batchRowsPerSystem, chunk: args.batchChunk, in_flight: args.batchConcurrency },
      api_processes: args.apiProcesses,
      worker_processes: args.workerProcesses,
      services: args.fromSource ? 'source (tsx)' : 'compiled (dist/)',
    },
    targets: { new_rows_per_second: TARGET_NEW, unchanged_rows_per_second: TARGET_UNCHANGED, full_size: fullSize, new: verdict(newRate, TARGET_NEW), unchanged: verdict(unchangedRate, TARGET_UNCHANGED), worker_concurrency: best.worker_concurrency },
    rounds,
  };
  if (args.write) process.stdout.write(`results: ${writeResult('ingest', result)}\n`);
}

try {
  await main();
  await cleanupAll();
} catch (err) {
  if (!interrupted) process.stderr.write(`\nbenchmark failed: ${(err as Error).stack ?? err}\n`);
  await cleanupAll();
  process.exitCode = interrupted ? 130 : 1;
}
