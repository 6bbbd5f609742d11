/**
 * Plan benchmark (issue 4):
 *  1. report → plan latency: a hub reports a new snapshot; how long until the spoke's transfer
 *     plan (ending at that snapshot) is available from GET /sync/instructions — p50/p99 over many
 *     rounds, through the real API and workers, with background ingest running;
 *  2. the instructions endpoint's latency with a million snapshot rows stored;
 *  3. recomputing one dataset with 10,000 snapshots on each of three hosts (in-process, the
 *     processor's own function), p50/p99.
 *
 *   npm run bench:plan                       # 1,000 rounds
 *   npm run bench:plan -- --rounds 200       # quicker
 *
 * Everything runs on a throwaway database (cloned from the migrated test template) and a queue
 * prefix of its own, removed at the end. Prints a table and writes bench/results/plan-<ISO>.json.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { SyncGroupsRepository, loadGroupContext, recomputeGroupDataset } from '@zfs-sync/db';
import { DEFAULT_BACKOFF } from '@zfs-sync/domain';
import { createTestDatabase, dropQueuePrefix, testQueuePrefix, testServices } from '@zfs-sync/testkit';
import { BenchHttp } from './ingest/http.js';
import { freePort, prepareServices, startService, type Service } from './ingest/processes.js';
import { fmtNum, summary, table } from './ingest/stats.js';
import { writeResult } from './lib/result.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const ADMIN = `zs_admin_bench-${randomBytes(16).toString('hex')}`; // at least 32 characters, as the API requires

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} must be a non-negative integer`);
  return v;
}
const ROUNDS = arg('rounds', 1000);
const BACKGROUND_SYSTEMS = arg('background-systems', 8);
const MILLION = arg('stored-rows', 1_000_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string) => process.stderr.write(`${msg}\n`);

/** Deterministic distinct guids (decimal strings; never a JS number). */
const guid = (a: number, b: number) => ((BigInt(a) * 1_000_003n + BigInt(b) + 1n) * 11_400_714_819_323_198_485n % 18_446_744_073_709_551_557n).toString();

function snapshots(seed: number, count: number) {
  return Array.from({ length: count }, (_, n) => ({ name: `auto-${n}`, guid: guid(seed, n), createtxg: String(100 + n), creation: 1_700_000_000 + n * 60 }));
}

const cleanups: Array<() => Promise<void>> = [];
async function cleanup() {
  while (cleanups.length) await cleanups.pop()!().catch((err) => log(`cleanup: ${(err as Error).message}`));
}
process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));

async function main() {
  const loadAtStart = os.loadavg().map((l) => Math.round(l * 100) / 100);
  await prepareServices();
  const { redisUrl } = await testServices();
  const db = await createTestDatabase();
  cleanups.push(() => db.drop());
  const prefix = testQueuePrefix();
  cleanups.push(() => dropQueuePrefix(redisUrl, prefix));
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  cleanups.push(() => pool.end());

  const port = await freePort();
  const logDir = mkdtempSync(join(os.tmpdir(), 'zfs-sync-bench-plan-'));
  const env = {
    DATABASE_URL: db.url,
    REDIS_URL: redisUrl,
    PORT: String(port),
    ZFS_SYNC_HOST: '127.0.0.1',
    ZFS_SYNC_QUEUE_PREFIX: prefix,
    ZFS_SYNC_ADMIN_TOKEN: ADMIN,
    ZFS_SYNC_LOG_LEVEL: 'warn',
    ZFS_SYNC_OPS_PORT: '0',
    ZFS_SYNC_WORKER_CONCURRENCY: '4',
  };
  const services: Service[] = [startService('api', 'api', env, { cwd: ROOT, logDir }), startService('workers', 'workers', env, { cwd: ROOT, logDir })];
  cleanups.push(async () => {
    for (const s of services) await s.stop();
  });
  const http = new BenchHttp(new URL(`http://127.0.0.1:${port}/api/v1`), 32);
  cleanups.push(async () => http.close());
  for (let i = 0; ; i++) {
    const r = await http.request('GET', '/health/ready').catch(() => null);
    if (r?.status === 200) break;
    if (i > 600) throw new Error(`API not ready: ${services[0]!.tail()}`);
    await sleep(100);
  }

  const json = async (method: string, path: string, body?: unknown, key = ADMIN) => {
    const r = await http.request(method, path, { ...(body !== undefined ? { body: JSON.stringify(body) } : {}), headers: { 'x-api-key': key } });
    if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${r.text}`);
    return { ...r, body: r.text ? JSON.parse(r.text) : undefined };
  };
  const register = async (name: string) => (await json('POST', '/systems', { hostname: `${name}.bench.test`, platform: 'linux' })).body as { id: string; api_key: string };
  const waitApplied = async (systemId: string, reportId: string) => {
    for (;;) {
      const { rows } = await pool.query(`select status from inventory_reports where system_id = $1 and report_id = $2`, [systemId, reportId]);
      if (rows[0] && rows[0].status !== 'queued') return rows[0].status as string;
      await sleep(5);
    }
  };

  // ---- setup: hub + spoke sharing 1,000 snapshots; a million rows stored for other systems ----
  log('setting up…');
  const hub = await register('hub');
  const spoke = await register('spoke');
  const base = snapshots(1, 1000);
  let generation = 1;
  const report = async (sys: { id: string; api_key: string }, datasets: unknown[], complete = false) => {
    const reportId = `g${generation}`;
    await json('POST', `/systems/${sys.id}/inventory`, { report_id: reportId, generation: generation++, complete, datasets }, sys.api_key);
    return reportId;
  };
  await waitApplied(hub.id, await report(hub, [{ pool: 'tank', dataset: 'bench/plan', snapshots: base }]));
  await waitApplied(spoke.id, await report(spoke, [{ pool: 'backup', dataset: 'bench/plan', snapshots: base }]));
  const group = (await json('POST', '/sync-groups', { name: 'bench', directional: true, hub_system_id: hub.id, system_ids: [hub.id, spoke.id] })).body as { id: string };

  // A million stored rows: 100 systems × 10 datasets × 1,000 snapshots, loaded in SQL (setup, not measured).
  const filler = Math.ceil(MILLION / 10_000);
  await pool.query(
    `with s as (insert into systems (hostname, platform) select 'filler-' || g || '.bench.test', 'linux' from generate_series(1, $1) g returning id),
          d as (insert into datasets (system_id, pool, path) select s.id, 'tank', 'data/' || g from s, generate_series(1, 10) g returning id, system_id)
     insert into snapshots (dataset_id, system_id, kind, name, guid, createtxg, creation)
     select d.id, d.system_id, 'snapshot', 'auto-' || n, (random() * 1e19)::numeric(20,0) % 18446744073709551615, n, now() - make_interval(secs => n)
       from d, generate_series(1, 1000) n`,
    [filler],
  );
  await pool.query('analyze');
  const stored = Number((await pool.query('select count(*) from snapshots')).rows[0].count);
  log(`${stored.toLocaleString('en-US')} snapshot rows stored`);

  // ---- background ingest: hosts re-reporting 5 datasets × 1,000 snapshots about once a second,
  // one dataset gaining a snapshot each time (what snapshot schedulers do) ----
  const background = await Promise.all(Array.from({ length: BACKGROUND_SYSTEMS }, (_, i) => register(`bg-${i}`)));
  const bgSets = background.map((_, i) => Array.from({ length: 5 }, (_, d) => snapshots(1000 + i * 10 + d, 1000)));
  let backgroundRunning = true;
  let backgroundReports = 0;
  let backgroundError: Error | null = null;
  const backgroundLoop = (async () => {
    let round = 0;
    while (backgroundRunning && !backgroundError) {
      round++;
      const started = performance.now();
      await Promise.all(
        background.map((sys, i) => {
          const sets = bgSets[i]!;
          const d = round % sets.length;
          const n = 1000 + round;
          sets[d]!.push({ name: `auto-${n}`, guid: guid(5000 + i * 10 + d, n), createtxg: String(100 + n), creation: 1_700_000_000 + n * 60 });
          sets[d]!.shift();
          return report(sys, sets.map((snaps, k) => ({ pool: 'tank', dataset: `bg/${k}`, snapshots: snaps })), true).then(() => backgroundReports++);
        }),
      ).catch((err: Error) => {
        backgroundError = err;
      });
      await sleep(Math.max(0, 1000 - (performance.now() - started)));
    }
  })();

  // ---- 1. report → plan latency ----
  log(`${ROUNDS} rounds of report → plan…`);
  const latencies: number[] = [];
  let next = base.length;
  const hubSnaps = [...base];
  for (let r = 0; r < ROUNDS; r++) {
    const snap = { name: `auto-${next}`, guid: guid(1, next), createtxg: String(100 + next), creation: 1_700_000_000 + next * 60 };
    next++;
    // The hub keeps everything: pruning it past the spoke's newest snapshot would (rightly) turn
    // the link into no_common_base, since the spoke never runs the plans here.
    hubSnaps.push(snap);
    const started = performance.now();
    await report(hub, [{ pool: 'tank', dataset: 'bench/plan', snapshots: hubSnaps }]);
    for (;;) {
      const res = await http.request('GET', `/sync/instructions/${hub.id}?sync_group_id=${group.id}`, { headers: { 'x-api-key': ADMIN } });
      if (res.status === 200 && res.text.includes(`"ending_guid":"${snap.guid}"`)) break;
      if (performance.now() - started > 30_000) {
        backgroundRunning = false;
        await backgroundLoop;
        throw new Error(`round ${r}: no plan after 30 s: ${res.text.slice(0, 300)}`);
      }
      await sleep(2);
    }
    latencies.push(performance.now() - started);
    if ((r + 1) % 100 === 0) log(`  ${r + 1} rounds, p50 ${fmtNum(summary(latencies).p50)} ms`);
  }
  backgroundRunning = false;
  await backgroundLoop;
  if (backgroundError) throw new Error(`background ingest failed: ${(backgroundError as Error).message}`);

  // ---- 2. the instructions endpoint with a million rows stored ----
  const endpoint: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const res = await http.request('GET', `/sync/instructions/${hub.id}`, { headers: { 'x-api-key': ADMIN } });
    if (res.status !== 200) throw new Error(res.text);
    endpoint.push(res.ms);
  }
  const hostEndpoint: number[] = [];
  for (let i = 0; i < 500; i++) {
    // The host's own call leases what it gets (an UPDATE … SKIP LOCKED); later calls find nothing new.
    const res = await http.request('GET', `/sync/instructions/${hub.id}`, { headers: { 'x-api-key': hub.api_key } });
    if (res.status !== 200) throw new Error(res.text);
    hostEndpoint.push(res.ms);
  }

  // ---- 3. recompute of one dataset, 10,000 snapshots on each of three hosts (in-process) ----
  const trio = await Promise.all(['r1', 'r2', 'r3'].map((n) => register(`trio-${n}`)));
  const big = snapshots(77, 10_000);
  await Promise.all(trio.map(async (sys, i) => waitApplied(sys.id, await report(sys, [{ pool: `pool${i}`, dataset: 'big', snapshots: i === 2 ? big.slice(0, 9_990) : big }]))));
  const trioGroup = (await json('POST', '/sync-groups', { name: 'trio', directional: false, system_ids: trio.map((s) => s.id) })).body as { id: string };
  const groups = new SyncGroupsRepository(pool);
  const ctx = (await loadGroupContext(groups, trioGroup.id))!;
  const recompute: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now();
    await recomputeGroupDataset(pool, ctx, trioGroup.id, 'big', { backoff: DEFAULT_BACKOFF });
    recompute.push(performance.now() - t0);
  }

  const results = {
    benchmark: 'plan',
    command: `npm run bench:plan${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    at: new Date().toISOString(),
    commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim(),
    machine: { cpus: os.cpus().length, node: process.version },
    params: { rounds: ROUNDS, background_systems: BACKGROUND_SYSTEMS, stored_rows: stored, hub_snapshots: 1000 },
    report_to_plan_ms: summary(latencies),
    background_reports_applied: backgroundReports,
    instructions_admin_ms: summary(endpoint),
    instructions_host_ms: summary(hostEndpoint),
    recompute_3x10k_ms: summary(recompute),
    targets: { report_to_plan_p99_ms: 250, instructions_p99_ms: 20, recompute_ms: 100 },
  };
  const fmt = (s: ReturnType<typeof summary>) => [fmtNum(s.p50), fmtNum(s.p90), fmtNum(s.p99), fmtNum(s.max), String(s.n)];
  process.stdout.write(
    `\n${table(
      ['measure (ms)', 'p50', 'p90', 'p99', 'max', 'n'],
      [
        ['report → plan available (target p99 ≤ 250)', ...fmt(results.report_to_plan_ms)],
        ['GET /sync/instructions, admin (target p99 < 20)', ...fmt(results.instructions_admin_ms)],
        ['GET /sync/instructions, host (leasing)', ...fmt(results.instructions_host_ms)],
        ['recompute 1 dataset, 3 hosts × 10k (target < 100)', ...fmt(results.recompute_3x10k_ms)],
      ],
    )}\n\n${stored.toLocaleString('en-US')} snapshot rows stored; ${backgroundReports} background reports applied during the rounds.\n`,
  );
  process.stdout.write(`results: ${writeResult('plan', { ...results, load_average_at_start: loadAtStart })}\n`);
}

try {
  await main();
} catch (err) {
  log(`bench:plan failed: ${(err as Error).stack ?? err}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
