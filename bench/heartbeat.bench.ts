/**
 * Heartbeat benchmark: `npm run bench:heartbeat`.
 *
 * 100 registered hosts; C clients (default 4), each one keep-alive connection with one request
 * in flight, cycle through the hosts and send `POST /systems/{id}/heartbeat` with that host's own
 * key, N requests in all (default 20,000 after 1,000 warm-up). Prints req/s and latency
 * percentiles; then waits for one heartbeat-expiry sweep and checks that PostgreSQL holds every
 * host's last heartbeat (nothing lost on the Redis → PostgreSQL path).
 *
 *   npm run bench:heartbeat -- --requests 20000 --clients 4 --api-processes 1
 */
import pg from 'pg';
import { LeanConnection, encodeRequest } from './lib/lean-http.js';
import { benchMeta, writeResult } from './lib/result.js';
import { startBenchStack } from './lib/stack.js';
import { Sampler } from './ingest/processes.js';
import { summary } from './ingest/stats.js';

function flag(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`--${name} needs a positive integer`);
  return v;
}
const REQUESTS = flag('requests', 20_000);
const CLIENTS = flag('clients', 4);
const HOSTS = flag('hosts', 100);
// One API process, the default of api_processes: on 2 cores shared with Redis, the sweeper and
// this client, a second process made each heartbeat cost about twice the API CPU (472–514 vs
// 252–282 µs, interleaved runs on 2026-12-01) and the rate fell (2,514–2,662 vs 3,188–3,859 req/s).
const API_PROCESSES = flag('api-processes', Number(process.env.ZFS_SYNC_API_PROCESSES ?? 1));
const SWEEP_SECONDS = 2;
const log = (m: string) => process.stderr.write(`[heartbeat] ${m}\n`);

const meta = benchMeta('heartbeat');
const stack = await startBenchStack({ apiProcesses: API_PROCESSES, processors: 'heartbeat-expiry', env: { ZFS_SYNC_HEARTBEAT_SWEEP_SECONDS: String(SWEEP_SECONDS) } });
let exitCode = 0;
try {
  const hosts = await stack.register(HOSTS);
  log(`${HOSTS} hosts registered; API ${API_PROCESSES} process(es) on port ${stack.port}`);
  const requests = hosts.map((h) => encodeRequest('POST', `127.0.0.1:${stack.port}`, `/api/v1/systems/${h.id}/heartbeat`, { 'X-API-Key': h.key, 'Content-Type': 'application/json' }, '{"agent_version":"bench-1.0"}'));

  const run = async (total: number) => {
    const conns = Array.from({ length: CLIENTS }, () => new LeanConnection('127.0.0.1', stack.port));
    const latencies: number[] = [];
    const statuses: Record<string, number> = {};
    let firstError: string | null = null;
    let next = 0;
    const t0 = performance.now();
    await Promise.all(conns.map(async (c) => {
      for (;;) {
        const i = next++;
        if (i >= total) return;
        const r = await c.send(requests[i % requests.length]!);
        latencies.push(r.ms);
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        if (r.status !== 200) firstError ??= `${r.status} ${r.body.slice(0, 200)}`;
      }
    }));
    const seconds = (performance.now() - t0) / 1000;
    for (const c of conns) c.close();
    return { requests: total, seconds: Math.round(seconds * 1000) / 1000, requests_per_second: Math.round(total / seconds), latency_ms: summary(latencies, 2), statuses, first_error: firstError };
  };

  await run(1000); // warm-up: JIT, connection pools, the authentication cache
  const sampler = new Sampler(Object.fromEntries([...stack.apis, ...stack.workers].map((s) => [s.name, s.pid])), stack.database.name);
  sampler.start();
  const sentAt = Date.now();
  const measured = await run(REQUESTS);
  const sampled = sampler.stop();
  log(`${measured.requests_per_second.toLocaleString('en-US')} req/s, p50 ${measured.latency_ms.p50} ms, p99 ${measured.latency_ms.p99} ms, statuses ${JSON.stringify(measured.statuses)}`);

  // Nothing lost: after a sweep, PostgreSQL's last_seen of every host is at least the time the
  // measured run started (each host got REQUESTS / HOSTS heartbeats in it).
  const db = new pg.Client({ connectionString: stack.database.url });
  await db.connect();
  let check = { hosts: HOSTS, flushed: 0, online: 0, ok: false, waited_ms: 0 };
  const t0 = Date.now();
  while (Date.now() - t0 < 30_000) {
    const { rows } = await db.query<{ flushed: number; online: number }>(
      `select count(*) filter (where last_seen >= to_timestamp($2 / 1000.0))::int as flushed, count(*) filter (where connectivity_status = 'online')::int as online
         from systems where id = any($1::uuid[])`,
      [hosts.map((h) => h.id), sentAt - 1000],
    );
    check = { hosts: HOSTS, flushed: rows[0]!.flushed, online: rows[0]!.online, ok: rows[0]!.flushed === HOSTS && rows[0]!.online === HOSTS, waited_ms: Date.now() - t0 };
    if (check.ok) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  await db.end();
  log(`stored check: ${check.ok ? 'ok' : 'MISMATCH'} (${check.flushed}/${HOSTS} last_seen flushed, ${check.online} online, after ${check.waited_ms} ms)`);
  if (!check.ok) exitCode = 1;

  const file = writeResult('heartbeat', {
    ...meta,
    finished_at: new Date().toISOString(),
    params: { hosts: HOSTS, clients: CLIENTS, requests: REQUESTS, api_processes: API_PROCESSES, body: '{"agent_version":"bench-1.0"}' },
    result: measured,
    targets: { requests_per_second: 5000, p99_ms: 20 },
    stored_check: check,
    peak_rss_mib: sampled.peakRssMiB,
    cpu_seconds: sampled.cpu.seconds,
    machine_busy: sampled.cpu.machineBusy,
  });
  process.stdout.write(`results: ${file}\n`);
} catch (err) {
  log(`failed: ${(err as Error).stack ?? err}`);
  exitCode = 1;
} finally {
  await stack.stop();
}
process.exit(exitCode);
