/**
 * Sustained load: many simulated hosts heartbeating and re-reporting their inventories through
 * the real API into the real workers, for a bounded time on loopback. Used by `npm run test:load`
 * (5 minutes, by hand), by `npm run bench` and, in a short form, by `npm test`
 * (bench/load/load.test.ts).
 *
 * What it watches: every answer (errors = anything but 2xx and intended 429s), the queues' backlog
 * (after the load stops it must drain), the RSS of the API and worker process trees (flat after
 * warm-up), and the memory of every Redis key under the run's own prefix (bounded).
 */
import { createHash, randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { QUEUE_NAMES } from '@zfs-sync/contracts';
import { redisOptionsFromUrl } from '@zfs-sync/queue';
import { guidOf } from '../ingest/data.js';
import { startBenchStack, type BenchStack } from '../lib/stack.js';
import { childrenOf, treeRssMiB } from '../ingest/processes.js';

export interface LoadOptions {
  hosts: number;
  durationS: number;
  heartbeatEveryS: number;
  reportEveryS: number;
  datasets: number;
  snapshotsPerDataset: number;
  /** Seconds at the start that do not count for the RSS comparison. */
  warmupS: number;
  apiProcesses: number;
  /** How long the backlog may take to drain once the load stops. */
  drainLimitS: number;
  /** RSS growth after warm-up (median of the last third of the samples over the first third) that fails the run. */
  rssGrowthLimit: number;
  log?: (msg: string) => void;
}

export const FULL_LOAD: LoadOptions = { hosts: 1000, durationS: 300, heartbeatEveryS: 10, reportEveryS: 60, datasets: 5, snapshotsPerDataset: 100, warmupS: 90, apiProcesses: 1, drainLimitS: 60, rssGrowthLimit: 0.1 };

export interface Sample {
  t: number;
  api_rss_mib: number;
  worker_rss_mib: number;
  redis_prefix_mib: number;
  backlog: number;
}

export interface LoadResult {
  options: Omit<LoadOptions, 'log'>;
  requests: { heartbeats: number; reports: number; ok: number; rate_limited: number; errors: number; first_errors: string[] };
  latency_ms: { heartbeat: { p50: number; p99: number; max: number }; report: { p50: number; p99: number; max: number } };
  rows_reported: number;
  reports_applied: number;
  reports_accepted: number;
  drain_seconds: number | null;
  samples: Sample[];
  rss: { api_after_warmup_mib: number; api_end_mib: number; api_growth: number; worker_after_warmup_mib: number; worker_end_mib: number; worker_growth: number };
  redis: { prefix_peak_mib: number; prefix_end_mib: number; prefix_after_warmup_mib: number };
  checks: Record<string, { ok: boolean; detail: string }>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function prefixMemoryMiB(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let bytes = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) {
      const pipe = redis.pipeline();
      for (const k of keys) pipe.memory('USAGE', k);
      for (const [, v] of (await pipe.exec()) ?? []) bytes += Number(v ?? 0);
    }
  } while (cursor !== '0');
  return Math.round((bytes / 1024 / 1024) * 100) / 100;
}

// ---------------------------------------------------------------- hosts

interface Host {
  id: string;
  key: string;
  index: number;
  generation: number;
  /** The newest snapshot number per dataset (the window slides as snapshots are taken and pruned). */
  newest: number[];
}

/** Registered straight in SQL (setup, not what is measured): 1,000 POST /systems take a while on a busy machine. */
async function registerHosts(stack: BenchStack, n: number): Promise<Host[]> {
  const db = new pg.Client({ connectionString: stack.database.url });
  await db.connect();
  try {
    const tag = randomBytes(3).toString('hex');
    const keys = Array.from({ length: n }, () => `zs_host_${randomBytes(32).toString('base64url')}`);
    const { rows } = await db.query<{ id: string; i: number }>(
      `with s as (insert into systems (hostname, platform) select 'load-' || $1 || '-' || g || '.example.net', 'linux' from generate_series(0, $2 - 1) g returning id, hostname),
            k as (insert into api_keys (system_id, key_hash) select s.id, h.hash from s join unnest($3::text[]) with ordinality as h(hash, ord) on s.hostname = 'load-' || $1 || '-' || (h.ord - 1) || '.example.net' returning system_id)
       select s.id, split_part(split_part(s.hostname, '-', 3), '.', 1)::int as i from s`,
      [tag, n, keys.map((k) => createHash('sha256').update(k).digest('hex'))],
    );
    return rows.sort((a, b) => a.i - b.i).map((r) => ({ id: r.id, key: keys[r.i]!, index: r.i, generation: 0, newest: [] }));
  } finally {
    await db.end();
  }
}

function inventoryOf(host: Host, opts: LoadOptions): { body: string; rows: number } {
  const datasets = [];
  for (let d = 0; d < opts.datasets; d++) {
    const newest = host.newest[d] ?? opts.snapshotsPerDataset - 1;
    const snapshots = [];
    for (let n = newest - opts.snapshotsPerDataset + 1; n <= newest; n++) {
      snapshots.push({ name: `auto-${n}`, guid: guidOf(host.index, d, n + 1_000_000), createtxg: String(1000 + n), creation: 1_735_689_600 + n * 600 });
    }
    datasets.push({ pool: 'tank', dataset: `load/ds${d}`, snapshots });
  }
  host.generation++;
  return { body: JSON.stringify({ report_id: `load-${host.generation}`, generation: host.generation, complete: true, datasets }), rows: opts.datasets * opts.snapshotsPerDataset };
}

const pct = (values: number[], p: number) => {
  if (!values.length) return 0;
  const s = [...values].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]! * 10) / 10;
};
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
/** Median: one GC pause or one late major collection does not move it. */
const median = (xs: number[]) => {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
};

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const log = opts.log ?? (() => {});
  const stack = await startBenchStack({ apiProcesses: opts.apiProcesses, env: { ZFS_SYNC_HEARTBEAT_SWEEP_SECONDS: '5' } });
  const redis = new Redis({ ...redisOptionsFromUrl(stack.redisUrl), maxRetriesPerRequest: 2 });
  const queues = QUEUE_NAMES.map((name) => new Queue(name, { connection: { ...redisOptionsFromUrl(stack.redisUrl), maxRetriesPerRequest: 2 }, prefix: stack.prefix }));
  const db = new pg.Client({ connectionString: stack.database.url });
  try {
    await db.connect();
    const hosts = await registerHosts(stack, opts.hosts);
    log(`${hosts.length} hosts registered; load for ${opts.durationS} s (heartbeat every ${opts.heartbeatEveryS} s, ${opts.datasets * opts.snapshotsPerDataset}-snapshot inventory every ${opts.reportEveryS} s)`);

    const backlog = async () => {
      const counts = await Promise.all(queues.map((q) => q.getJobCounts('waiting', 'prioritized', 'active', 'waiting-children')));
      return counts.reduce((a, c) => a + Object.values(c).reduce((x, y) => x + y, 0), 0);
    };
    const samples: Sample[] = [];
    const t0 = performance.now();
    const sample = async () => {
      const kids = childrenOf();
      samples.push({
        t: Math.round((performance.now() - t0) / 100) / 10,
        api_rss_mib: treeRssMiB(stack.apis[0]!.pid, kids),
        worker_rss_mib: stack.workers.reduce((a, w) => a + treeRssMiB(w.pid, kids), 0),
        redis_prefix_mib: await prefixMemoryMiB(redis, stack.prefix),
        backlog: await backlog(),
      });
    };

    const hb: number[] = [];
    const rep: number[] = [];
    const counters = { heartbeats: 0, reports: 0, ok: 0, rate_limited: 0, errors: 0, first_errors: [] as string[] };
    let rowsReported = 0;
    const accepted: Array<{ system: string; report: string }> = [];
    const record = (ms: number, status: number, text: string, into: number[]) => {
      into.push(ms);
      if (status >= 200 && status < 300) counters.ok++;
      else if (status === 429) counters.rate_limited++;
      else {
        counters.errors++;
        if (counters.first_errors.length < 5) counters.first_errors.push(`${status} ${text.slice(0, 200)}`);
      }
    };

    // Every host on its own phase so the load is spread evenly over each interval.
    const nextHb = hosts.map((h) => (h.index / hosts.length) * opts.heartbeatEveryS * 1000);
    const nextReport = hosts.map((h) => (h.index / hosts.length) * opts.reportEveryS * 1000);
    const inFlight = new Set<Promise<void>>();
    const MAX_IN_FLIGHT = 64;
    const launch = (work: () => Promise<void>) => {
      const p = work().finally(() => inFlight.delete(p));
      inFlight.add(p);
    };
    const heartbeat = (h: Host) => async () => {
      counters.heartbeats++;
      try {
        const r = await stack.http.request('POST', `/systems/${h.id}/heartbeat`, { headers: { 'x-api-key': h.key }, body: '{"agent_version":"load-1.0"}' });
        record(r.ms, r.status, r.text, hb);
      } catch (err) {
        record(0, 0, (err as Error).message, hb);
      }
    };
    const report = (h: Host) => async () => {
      counters.reports++;
      // Between reports a snapshot is taken on one dataset and the oldest there pruned.
      const d = h.generation % opts.datasets;
      if (h.generation > 0) h.newest[d] = (h.newest[d] ?? opts.snapshotsPerDataset - 1) + 1;
      const { body, rows } = inventoryOf(h, opts);
      try {
        const r = await stack.http.request('POST', `/systems/${h.id}/inventory`, { headers: { 'x-api-key': h.key }, body });
        record(r.ms, r.status, r.text, rep);
        if (r.status === 202) {
          rowsReported += rows;
          accepted.push({ system: h.id, report: `load-${h.generation}` });
        }
      } catch (err) {
        record(0, 0, (err as Error).message, rep);
      }
    };

    let nextSample = 0;
    const end = opts.durationS * 1000;
    for (;;) {
      const now = performance.now() - t0;
      if (now >= end) break;
      if (now >= nextSample) {
        nextSample += 2000;
        await sample();
      }
      for (const h of hosts) {
        if (inFlight.size >= MAX_IN_FLIGHT) break;
        if (nextHb[h.index]! <= now) {
          nextHb[h.index]! += opts.heartbeatEveryS * 1000;
          launch(heartbeat(h));
        }
        if (nextReport[h.index]! <= now && inFlight.size < MAX_IN_FLIGHT) {
          nextReport[h.index]! += opts.reportEveryS * 1000;
          launch(report(h));
        }
      }
      await sleep(inFlight.size >= MAX_IN_FLIGHT ? 5 : 50);
    }
    await Promise.all(inFlight);
    const stoppedAt = performance.now();
    log(`load stopped: ${counters.heartbeats} heartbeats, ${counters.reports} reports, ${counters.errors} errors, ${counters.rate_limited} × 429; waiting for the queues to drain`);

    // Drain: the backlog must reach zero and every accepted report must be applied.
    let drain: number | null = null;
    let applied = 0;
    const drainDeadline = stoppedAt + Math.max(opts.drainLimitS, 1) * 1000 * 3;
    while (performance.now() < drainDeadline) {
      await sample();
      const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from inventory_reports where status in ('applied', 'superseded')`);
      applied = rows[0]!.n;
      if (samples.at(-1)!.backlog === 0 && applied >= accepted.length) {
        drain = Math.round((performance.now() - stoppedAt) / 100) / 10;
        break;
      }
      await sleep(500);
    }
    await sample();

    const after = samples.filter((s) => s.t >= opts.warmupS && s.t <= opts.durationS);
    const third = Math.max(1, Math.floor(after.length / 3));
    const firstWin = after.slice(0, third);
    const lastWin = after.slice(-third);
    const growth = (k: 'api_rss_mib' | 'worker_rss_mib') => {
      const a = median(firstWin.map((s) => s[k]));
      const b = median(lastWin.map((s) => s[k]));
      return { a: Math.round(a * 10) / 10, b: Math.round(b * 10) / 10, g: a ? Math.round(((b - a) / a) * 1000) / 1000 : 0 };
    };
    const api = growth('api_rss_mib');
    const worker = growth('worker_rss_mib');
    const redisPeak = Math.max(...samples.map((s) => s.redis_prefix_mib));
    const redisAfterWarmup = mean(firstWin.map((s) => s.redis_prefix_mib));
    const redisEnd = samples.at(-1)!.redis_prefix_mib;
    // Bounded: what stays in Redis is small metadata and the bounded job history, not the
    // reports' rows (a report's rows would be ~40 KiB each).
    const redisBound = 64;

    const checks: LoadResult['checks'] = {
      no_errors: { ok: counters.errors === 0, detail: `${counters.errors} errors besides ${counters.rate_limited} intended 429s${counters.first_errors.length ? `: ${counters.first_errors.join(' | ')}` : ''}` },
      queues_drained: { ok: drain !== null && drain <= opts.drainLimitS, detail: drain === null ? `backlog ${samples.at(-1)!.backlog}, ${applied}/${accepted.length} reports applied when the harness gave up` : `backlog zero and all ${accepted.length} reports applied ${drain} s after the load stopped (limit ${opts.drainLimitS} s)` },
      api_rss_flat: { ok: api.g < opts.rssGrowthLimit, detail: `${api.a} → ${api.b} MiB after warm-up (${(api.g * 100).toFixed(1)} %, limit ${Math.round(opts.rssGrowthLimit * 100)} %)` },
      worker_rss_flat: { ok: worker.g < opts.rssGrowthLimit, detail: `${worker.a} → ${worker.b} MiB after warm-up (${(worker.g * 100).toFixed(1)} %, limit ${Math.round(opts.rssGrowthLimit * 100)} %)` },
      redis_bounded: { ok: redisPeak <= redisBound, detail: `keys under the run's prefix: peak ${redisPeak} MiB, end ${redisEnd} MiB (bound ${redisBound} MiB)` },
    };
    return {
      options: { ...opts, log: undefined } as Omit<LoadOptions, 'log'>,
      requests: counters,
      latency_ms: { heartbeat: { p50: pct(hb, 50), p99: pct(hb, 99), max: pct(hb, 100) }, report: { p50: pct(rep, 50), p99: pct(rep, 99), max: pct(rep, 100) } },
      rows_reported: rowsReported,
      reports_applied: applied,
      reports_accepted: accepted.length,
      drain_seconds: drain,
      samples,
      rss: { api_after_warmup_mib: api.a, api_end_mib: api.b, api_growth: api.g, worker_after_warmup_mib: worker.a, worker_end_mib: worker.b, worker_growth: worker.g },
      redis: { prefix_peak_mib: redisPeak, prefix_end_mib: redisEnd, prefix_after_warmup_mib: Math.round(redisAfterWarmup * 100) / 100 },
      checks,
    };
  } finally {
    await Promise.allSettled(queues.map((q) => q.close()));
    redis.disconnect();
    await db.end().catch(() => {});
    await stack.stop();
  }
}
