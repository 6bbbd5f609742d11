/**
 * The benchmark report (bench/results/summary.md): every figure the performance issue sets a
 * target for, beside the machine's own limit measured in the same run, and where the CPU went.
 * `npm run bench` writes it; `node --import tsx bench/summary.ts` rebuilds it from the newest
 * result file of each benchmark in bench/results/.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_ROOT } from './lib/result.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
export interface RunFiles {
  raw?: any;
  ingest?: any;
  heartbeat?: any;
  plan?: any;
  load?: any;
  scale?: any;
}

const int = (n: number | null | undefined) => (n === null || n === undefined || !Number.isFinite(n) ? '–' : Math.round(n).toLocaleString('en-US'));
const num = (n: number | null | undefined, d = 1) => (n === null || n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(d));
const ratio = (a: number | null | undefined, b: number | null | undefined) => (a && b ? `${(a / b).toFixed(2)} ×` : '–');
const verdict = (ok: boolean | null) => (ok === null ? 'not run' : ok ? '**met**' : '**missed**');
const load = (f: any) => (f ? `${(f.machine?.load_average_at_start ?? f.load_average_at_start ?? []).map((l: number) => num(l, 2)).join(' ')} → ${(f.load_average_at_end ?? []).map((l: number) => num(l, 2)).join(' ')}` : '–');

function phase(ingest: any, name: string): any {
  return ingest?.rounds?.[0]?.phases?.find((p: any) => p.name === name) ?? null;
}

export function renderSummary(f: RunFiles, opts: { command: string; quick?: boolean; failures?: string[] } = { command: 'npm run bench' }): string {
  const raw = f.raw?.limits;
  const pgLimit = raw?.postgres?.copy_merge_rows_per_second ?? null;
  const pgUnchanged = raw?.postgres?.unchanged_merge_rows_per_second ?? null;
  const redisOps = raw?.redis?.pipelined_ops_per_second ?? null;
  const handoffP99 = raw?.bullmq?.handoff_ms?.p99 ?? null;
  const pNew = phase(f.ingest, 'new');
  const pUnchanged = phase(f.ingest, 'unchanged');
  const pBatch = phase(f.ingest, 'batch');
  const hb = f.heartbeat?.result;
  const plan = f.plan;
  const machine = f.raw?.machine ?? f.ingest?.machine ?? f.heartbeat?.machine ?? {};
  const lines: string[] = [];
  const at = f.raw?.started_at ?? f.ingest?.started_at ?? new Date().toISOString();
  lines.push('# Benchmark summary', '');
  lines.push(`Measured ${at.slice(0, 16).replace('T', ' ')} UTC at commit \`${f.raw?.git_commit ?? f.ingest?.git_commit ?? '?'}\` on ${machine.cpus ?? '?'} cores (${machine.cpu_model ?? '?'}), Node ${machine.node ?? '?'}, with \`${opts.command}\`${opts.quick ? ' (**quick sizes: not comparable with the targets**)' : ''}.`);
  lines.push('Every figure comes from the same run on the same machine as the raw limits it is divided by. The machine is shared: the load average (1, 5, 15 min) at the start → end of each benchmark is in the last table, with the share of the busy CPU time of the machine the hypervisor gave to other guests (steal); a busy machine lowers every figure, the ratios less so.', '');
  if (opts.failures?.length) lines.push(`**Benchmarks that failed:** ${opts.failures.join('; ')}`, '');

  lines.push('## Targets', '');
  lines.push('| measure | measured | target | | raw limit of this machine (same run) | ratio to the limit |', '|---|---|---|---|---|---|');
  if (hb) {
    lines.push(`| heartbeats (${int(f.heartbeat.params.requests)} requests, ${f.heartbeat.params.clients} clients, ${f.heartbeat.params.hosts} host keys, ${f.heartbeat.params.api_processes} API process(es)) | **${int(hb.requests_per_second)} req/s** | ≥ 5,000 req/s | ${verdict(hb.requests_per_second >= 5000)} | ${raw?.http ? `bare Node HTTP + 1 Redis script (${raw.http.processes} processes, same client): ${int(raw.http.requests_per_second)} req/s` : `Redis: ${int(redisOps)} ops/s (64 in flight)`} | ${ratio(hb.requests_per_second, raw?.http?.requests_per_second ?? redisOps)} |`);
    lines.push(`| heartbeat latency p99 (p50) | **${num(hb.latency_ms.p99, 1)} ms** (${num(hb.latency_ms.p50, 2)}) | ≤ 20 ms | ${verdict(hb.latency_ms.p99 <= 20)} | Redis round trip p99 ${num(raw?.redis?.round_trip_ms?.p99, 2)} ms | – |`);
  }
  if (pUnchanged) lines.push(`| unchanged re-reports (${int(pUnchanged.rows)} rows) | **${int(pUnchanged.rows_per_second)} rows/s** | ≥ 150,000 rows/s | ${verdict(pUnchanged.rows_per_second >= 150_000)} | PostgreSQL merge of unchanged rows: ${int(pgUnchanged)} rows/s | ${ratio(pUnchanged.rows_per_second, pgUnchanged)} |`);
  if (pNew) lines.push(`| new inventories (${int(pNew.rows)} rows) | **${int(pNew.rows_per_second)} rows/s** | ≥ 40,000 rows/s and ≥ 0.5 × raw | ${verdict(pNew.rows_per_second >= 40_000 && (!pgLimit || pNew.rows_per_second >= 0.5 * pgLimit))} | PostgreSQL COPY + merge: ${int(pgLimit)} rows/s | ${ratio(pNew.rows_per_second, pgLimit)} |`);
  if (pBatch) lines.push(`| original batch endpoint, chunks of ${int(f.ingest.params.batch?.chunk)} (${f.ingest.params.batch?.systems} systems × ${int(f.ingest.params.batch?.rows_per_system)}, ${f.ingest.params.batch?.in_flight ?? '?'} in flight) | **${int(pBatch.rows_per_second)} rows/s** | ≥ 40,000 rows/s | ${verdict(pBatch.rows_per_second >= 40_000)} | PostgreSQL COPY + merge: ${int(pgLimit)} rows/s | ${ratio(pBatch.rows_per_second, pgLimit)} |`);
  if (pNew) {
    const peak = (k: string) => Math.max(...(f.ingest.rounds[0].phases as any[]).filter((p) => p.name !== 'warm-up').map((p) => p.peak_rss_mib?.[k] ?? 0));
    lines.push(`| peak RSS during bench:ingest, API (${f.ingest.params.api_processes ?? 1} process(es), whole tree) | **${int(peak('api'))} MiB** | ≤ 150 MiB | ${verdict(peak('api') <= 150)} | – | – |`);
    lines.push(`| peak RSS during bench:ingest, worker | **${int(peak('worker'))} MiB** | ≤ 250 MiB | ${verdict(peak('worker') <= 250)} | – | – |`);
  }
  if (plan) lines.push(`| report → plan available under background ingest, p99 (p50) | **${num(plan.report_to_plan_ms.p99, 1)} ms** (${num(plan.report_to_plan_ms.p50, 1)}) | p99 ≤ 250 ms | ${verdict(plan.report_to_plan_ms.p99 <= 250)} | BullMQ hand-off p99 ${num(handoffP99, 2)} ms (a report → plan is two hand-offs plus the work) | ${ratio(plan.report_to_plan_ms.p99, handoffP99)} |`);
  lines.push('');

  if (pNew || pUnchanged || pBatch) {
    lines.push('## Where the CPU went during ingest', '');
    lines.push('CPU seconds per million rows, by process group, over each phase (from /proc; `other` is everything else on the machine, i.e. other people\'s work). This is the profile that says what bounds each figure.', '');
    const phases = [pNew, pUnchanged, pBatch].filter(Boolean);
    const groups = [...new Set(phases.flatMap((p: any) => Object.keys(p.cpu_seconds)))].sort();
    lines.push(`| group | ${phases.map((p: any) => p.name).join(' | ')} |`, `|---|${phases.map(() => '---:').join('|')}|`);
    for (const g of groups) lines.push(`| ${g} | ${phases.map((p: any) => num(((p.cpu_seconds[g] ?? 0) / p.rows) * 1e6, 1)).join(' | ')} |`);
    lines.push(`| machine busy (of all cores) | ${phases.map((p: any) => `${Math.round(p.machine_busy * 100)} %`).join(' | ')} |`);
    // What the same work would reach on this machine with nobody else on it: CPU-bound, so the
    // rate is at most cores ÷ (our CPU seconds per row), and one single-process group (the API
    // with one process, one worker) at most one core.
    const cores = f.ingest.machine?.cpus ?? 2;
    const ours = (p: any) => Object.entries(p.cpu_seconds as Record<string, number>).filter(([g]) => g !== 'other' && g !== 'postgres (other dbs)').reduce((a, [, v]) => a + v, 0);
    const idleBound = (p: any) => {
      const perRow = ours(p) / p.rows;
      const single = Math.max(...['api', 'worker'].map((g) => (p.cpu_seconds[g] ?? 0) / p.rows / (g === 'api' ? (f.ingest.params.api_processes ?? 1) : 1)));
      return Math.min(cores / perRow, single > 0 ? 1 / single : Infinity);
    };
    lines.push(`| this benchmark's own CPU s per 1M rows (all groups but other people's) | ${phases.map((p: any) => num((ours(p) / p.rows) * 1e6, 1)).join(' | ')} |`);
    lines.push(`| **bound on this machine with nobody else on it** (${cores} cores ÷ own CPU per row; one process ≤ 1 core) | ${phases.map((p: any) => `**${int(idleBound(p))} rows/s**`).join(' | ')} |`);
    lines.push(`| POST latency p50 / p99 ms | ${phases.map((p: any) => `${num(p.latency_ms.p50, 0)} / ${num(p.latency_ms.p99, 0)}`).join(' | ')} |`);
    // Completed reconcile jobs are dropped from Redis at once, so the harness finds their sizes only while they are kept.
    if (phases.some((p: any) => p.jobs.wait_ms.n > 0)) lines.push(`| job payload in Redis, mean KiB | ${phases.map((p: any) => (p.jobs.wait_ms.n > 0 ? num(p.jobs.payload_bytes_mean / 1024, 1) : '–')).join(' | ')} |`);
    lines.push(`| counts added / changed / unchanged / removed | ${phases.map((p: any) => `${int(p.counts.added)} / ${int(p.counts.changed)} / ${int(p.counts.unchanged)} / ${int(p.counts.removed)}`).join(' | ')} |`);
    const v = f.ingest.rounds[0].verification;
    lines.push('', `Stored-rows check: **${v.ok ? 'ok' : 'MISMATCH'}** — ${int(v.inventory_rows_stored)} of ${int(v.inventory_rows_expected)} inventory rows and ${int(v.batch_rows_stored)} of ${int(v.batch_rows_expected)} batch rows in PostgreSQL after the run.`, '');
  }

  if (hb) {
    lines.push('## Heartbeats', '');
    lines.push(`${int(hb.requests)} requests in ${num(hb.seconds, 2)} s: p50 ${num(hb.latency_ms.p50, 2)} ms, p90 ${num(hb.latency_ms.p90, 2)} ms, p99 ${num(hb.latency_ms.p99, 2)} ms, max ${num(hb.latency_ms.max, 1)} ms; statuses ${JSON.stringify(hb.statuses)}. CPU seconds over the run: ${Object.entries(f.heartbeat.cpu_seconds ?? {}).map(([k, v]) => `${k} ${num(v as number, 1)}`).join(', ')}; machine ${Math.round((f.heartbeat.machine_busy ?? 0) * 100)} % busy.`);
    const hbCpu = Object.entries((f.heartbeat.cpu_seconds ?? {}) as Record<string, number>).filter(([g]) => g !== 'other' && g !== 'postgres (other dbs)').reduce((a, [, v]) => a + v, 0);
    const apiCpu = (f.heartbeat.cpu_seconds?.api ?? 0) as number;
    const cores = f.heartbeat.machine?.cpus ?? 2;
    if (hbCpu > 0) lines.push(`Per request: ${num((apiCpu / hb.requests) * 1e6, 0)} µs of API CPU, ${num((hbCpu / hb.requests) * 1e6, 0)} µs of this benchmark's CPU in all (API, Redis, client, sweeps), so **${int(cores / (hbCpu / hb.requests))} req/s is the bound on this machine with nobody else on it**. Heartbeats take the lane in the HTTP server's listener (no express); what is left of the API's share is Node's HTTP server and socket writes, the credential hash, validation, metrics and the Redis client (CPU profile: \`BENCH_CPU_PROF=/tmp/prof npm run bench:heartbeat\`). The bare server of the raw limits does the same round trips with nothing else${raw?.http ? `: ${int(raw.http.requests_per_second)} req/s, p99 ${num(raw.http.latency_ms.p99, 2)} ms` : ''}.`);
    const c = f.heartbeat.stored_check;
    lines.push(`Stored check: **${c?.ok ? 'ok' : 'MISMATCH'}** — after a heartbeat-expiry sweep PostgreSQL's last_seen covers the run for ${c?.flushed}/${c?.hosts} hosts, ${c?.online} online.`, '');
  }
  if (plan) {
    lines.push('## Plans', '');
    lines.push('| measure | p50 | p90 | p99 | max | n |', '|---|---:|---:|---:|---:|---:|');
    const row = (name: string, s: any) => s && lines.push(`| ${name} | ${num(s.p50)} | ${num(s.p90)} | ${num(s.p99)} | ${num(s.max)} | ${s.n} |`);
    row('report → plan available (ms), under background ingest', plan.report_to_plan_ms);
    row('GET /sync/instructions, admin (ms)', plan.instructions_admin_ms);
    row('GET /sync/instructions, host, leasing (ms)', plan.instructions_host_ms);
    row('recompute 1 dataset, 3 hosts × 10k (ms)', plan.recompute_3x10k_ms);
    lines.push('', `${int(plan.params?.stored_rows)} snapshot rows stored; ${int(plan.background_reports_applied)} background reports applied during the rounds.`, '');
  }
  if (f.load) {
    const l = f.load;
    lines.push('## Sustained load', '');
    lines.push(`${int(l.options.hosts)} hosts, heartbeat every ${l.options.heartbeatEveryS} s, ${int(l.options.datasets * l.options.snapshotsPerDataset)}-snapshot inventory every ${l.options.reportEveryS} s, for ${l.options.durationS} s (warm-up ${l.options.warmupS} s): ${int(l.requests.heartbeats)} heartbeats, ${int(l.requests.reports)} reports (${int(l.rows_reported)} rows); heartbeat p50/p99 ${num(l.latency_ms.heartbeat.p50)}/${num(l.latency_ms.heartbeat.p99)} ms, report p50/p99 ${num(l.latency_ms.report.p50)}/${num(l.latency_ms.report.p99)} ms.`, '');
    lines.push('| check | | detail |', '|---|---|---|');
    for (const [name, c] of Object.entries(l.checks as Record<string, { ok: boolean; detail: string }>)) lines.push(`| ${name} | ${c.ok ? 'ok' : '**FAIL**'} | ${c.detail} |`);
    lines.push('');
  }
  if (f.scale) {
    const s = f.scale;
    lines.push('## Scale-out on this machine', '');
    lines.push('| setup | new rows/s | unchanged rows/s | heartbeats req/s | machine busy | CPU s per group (new phase) |', '|---|---:|---:|---:|---:|---|');
    for (const r of s.runs ?? []) lines.push(`| ${r.label} | ${int(r.new_rows_per_second)} | ${int(r.unchanged_rows_per_second)} | ${int(r.heartbeats_per_second)} | ${Math.round((r.machine_busy ?? 0) * 100)} % | ${Object.entries(r.cpu_seconds ?? {}).map(([k, v]) => `${k} ${num(v as number, 1)}`).join(', ')} |`);
    if (s.ratios) lines.push('', `Ratio 2 + 2 over 1 + 1: new ${num(s.ratios.new, 2)} ×, unchanged ${num(s.ratios.unchanged, 2)} ×, heartbeats ${num(s.ratios.heartbeats, 2)} ×. ${s.saturation ?? ''}`);
    lines.push('');
  }

  lines.push('## The machine\'s own limits (same run)', '');
  if (raw) {
    lines.push(`- PostgreSQL COPY + merge into \`${raw.postgres.table}\`, ${int(raw.postgres.rows_per_transaction)} rows per transaction: **${int(pgLimit)} rows/s** (by connections: ${Object.entries(raw.postgres.by_connections).map(([k, v]) => `${k} → ${int(v as number)}`).join(', ')}); the same rows again (all conflict, nothing changes): ${int(pgUnchanged)} rows/s.`);
    lines.push(`- BullMQ: addBulk **${int(raw.bullmq.add_per_second)} jobs/s**, one Worker (concurrency 50, empty processor) **${int(raw.bullmq.process_per_second)} jobs/s**; add → processed one at a time p50 ${num(raw.bullmq.handoff_ms.p50, 2)} ms, p99 ${num(raw.bullmq.handoff_ms.p99, 2)} ms.`);
    lines.push(`- Redis: **${int(raw.redis.single_in_flight_round_trips_per_second)} round trips/s** one in flight (p50 ${num(raw.redis.round_trip_ms.p50, 3)} ms, p99 ${num(raw.redis.round_trip_ms.p99, 2)} ms), **${int(redisOps)} ops/s** with 64 in flight over 4 connections.`);
    if (raw.http) lines.push(`- A bare heartbeat server (bench/raw/http-server.ts: Node's HTTP server, one Redis script call per request, no framework, authentication, validation, logging or metrics) in ${raw.http.processes} processes, driven by the heartbeat benchmark's client (${raw.http.clients} connections, one request in flight each): **${int(raw.http.requests_per_second)} req/s** (p50 ${num(raw.http.latency_ms.p50, 2)} ms, p99 ${num(raw.http.latency_ms.p99, 2)} ms).`);
  } else lines.push('- not measured in this run');
  lines.push('');
  lines.push('| benchmark | load average at start → end | CPU stolen by the hypervisor (of busy time) | result file |', '|---|---|---|---|');
  for (const [name, file] of Object.entries(f)) if (file) lines.push(`| ${name} | ${load(file)} | ${typeof file.cpu_steal_of_busy === 'number' ? `${Math.round(file.cpu_steal_of_busy * 100)} %` : '–'} | \`${file.command ?? ''}\` |`);
  lines.push('', 'Reproduce: `npm run bench` (everything, writes this file) or one benchmark: `npm run bench:raw`, `npm run bench:ingest`, `npm run bench:heartbeat`, `npm run bench:plan`, `npm run test:load`, `npm run bench:scale`.', '');
  return lines.join('\n');
}

/**
 * README's Performance section shows the latest summary: everything of summary.md from its
 * "Targets" heading on, between the two markers.
 */
export function updateReadme(md: string, readme = join(BENCH_ROOT, 'README.md')): void {
  const text = readFileSync(readme, 'utf8');
  const start = '<!-- bench-summary:start -->';
  const end = '<!-- bench-summary:end -->';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) return;
  const body = md.slice(md.indexOf('Measured ')).replace(/^## /gm, '#### ');
  writeFileSync(readme, `${text.slice(0, a + start.length)}\n${body.trim()}\n${text.slice(b)}`);
}

/** The newest result file of each benchmark in bench/results/. */
export function latestFiles(dir = join(BENCH_ROOT, 'bench', 'results')): RunFiles {
  const out: RunFiles = {};
  const names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort();
  for (const key of ['raw', 'ingest', 'heartbeat', 'plan', 'load', 'scale'] as const) {
    const file = names.filter((n) => n.startsWith(`${key}-`)).at(-1);
    if (file) out[key] = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const md = renderSummary(latestFiles(), { command: 'npm run bench (rebuilt from the newest result files)' });
  writeFileSync(join(BENCH_ROOT, 'bench', 'results', 'summary.md'), md);
  updateReadme(md);
  process.stdout.write(md);
}
