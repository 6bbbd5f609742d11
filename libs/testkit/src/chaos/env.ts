import { migrate } from '@zfs-sync/db';
import pg from 'pg';
import { startPrivatePostgres, startPrivateRedis, type PrivatePostgres, type PrivateRedis } from './servers.js';
import { http } from './processes.js';
import { syntheticSnapshots } from '../stack/inventory-fixtures.js';

export const CHAOS_ADMIN_TOKEN = 'zs_admin_chaos-suite-admin-token-0000000000000000';

/**
 * How hard the suite pushes: `npm test` runs the bounded form (short outages, little load) so CI
 * stays within its budget; `npm run test:chaos` (ZFS_SYNC_CHAOS=full) the durations.
 */
export const CHAOS_FULL = process.env.ZFS_SYNC_CHAOS === 'full';
export const chaosSeconds = (bounded: number, full: number) => (CHAOS_FULL ? full : bounded);

export interface ChaosEnv {
  pg: PrivatePostgres;
  redis: PrivateRedis;
  databaseUrl: string;
  /** The environment every spawned process gets (plus its own extras). */
  env: (extra?: Record<string, string>) => Record<string, string>;
  query: <T = any>(sql: string, params?: unknown[]) => Promise<T[]>;
  teardown: () => Promise<void>;
}

/** The hooks of an ava test file, as far as `chaosEnvPerFile` needs them. */
interface FileHooks {
  before(fn: () => Promise<void>): void;
  after: { always(fn: () => Promise<void>): void };
}

/**
 * One private environment per test file: started before the file's tests, torn down after them
 * whatever happened. `use` receives it (the tests keep it in a file-level variable).
 */
export function chaosEnvPerFile(test: FileHooks, use: (env: ChaosEnv) => void): void {
  let env: ChaosEnv | undefined;
  test.before(async () => {
    env = await startChaosEnv();
    use(env);
  });
  test.after.always(async () => {
    await env?.teardown();
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function startChaosEnv(opts: { redisAppendonly?: boolean } = {}): Promise<ChaosEnv> {
  const [pgServer, redis] = await Promise.all([startPrivatePostgres(), startPrivateRedis({ appendonly: opts.redisAppendonly ?? false })]);
  const databaseUrl = pgServer.url('zfs_sync_chaos');
  await migrate(databaseUrl);
  return {
    pg: pgServer,
    redis,
    databaseUrl,
    env: (extra = {}) => ({
      DATABASE_URL: databaseUrl,
      REDIS_URL: redis.url,
      ZFS_SYNC_ADMIN_TOKEN: CHAOS_ADMIN_TOKEN,
      ZFS_SYNC_LOG_LEVEL: 'info',
      ZFS_SYNC_SHUTDOWN_TIMEOUT_MS: '8000',
      ...extra,
    }),
    query: async (sql, params = []) => {
      const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
      client.on('error', () => {});
      await client.connect();
      try {
        return (await client.query(sql, params)).rows;
      } finally {
        await client.end();
      }
    },
    teardown: async () => {
      await Promise.allSettled([pgServer.destroy(), redis.destroy()]);
    },
  };
}

export interface ChaosSystem {
  id: string;
  api_key: string;
}

export async function registerChaosSystem(baseUrl: string, hostname: string): Promise<ChaosSystem> {
  const res = await http(baseUrl, 'POST', '/systems', { key: CHAOS_ADMIN_TOKEN, body: { hostname, platform: 'linux' } });
  if (res.status !== 201) throw new Error(`register ${hostname}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as ChaosSystem;
}

/** The inventory of generation `g`: the snapshot window moves by one per generation, so the final state names the newest generation applied. */
export function chaosInventory(reportId: string, generation: number, snapshots = 40) {
  return {
    report_id: reportId,
    generation,
    complete: true,
    datasets: [{ pool: 'tank', dataset: 'data', snapshots: syntheticSnapshots(snapshots, { from: generation }) }],
  };
}

export interface Accepted {
  systemId: string;
  reportId: string;
  generation: number;
}

/**
 * Hosts posting inventories in a loop until stopped; records every answer. What was answered 202
 * is what the service promised to apply.
 */
export function startLoad(baseUrl: string, systems: ChaosSystem[], opts: { pauseMs?: number; snapshots?: number; tag?: string; firstGeneration?: number; timeoutMs?: number } = {}) {
  const accepted: Accepted[] = [];
  const statuses: Array<{ status: number; ms: number; retryAfter: string | null; at: number; detail?: string }> = [];
  let stopped = false;
  let gen = opts.firstGeneration ?? 1000;
  const loops = systems.map(async (sys, i) => {
    let n = 0;
    while (!stopped) {
      const generation = ++gen;
      const reportId = `${opts.tag ?? 'load'}-${i}-${++n}`;
      const res = await http(baseUrl, 'POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: chaosInventory(reportId, generation, opts.snapshots), timeoutMs: opts.timeoutMs ?? 30_000 });
      statuses.push({ status: res.status, ms: res.ms, retryAfter: res.headers.get('retry-after'), at: Date.now(), ...(res.status >= 500 ? { detail: (res.body as { detail?: string })?.detail } : {}) });
      if (res.status === 202 && (res.body as { status?: string }).status === 'queued') accepted.push({ systemId: sys.id, reportId, generation });
      await new Promise((r) => setTimeout(r, opts.pauseMs ?? 50));
    }
  });
  return {
    accepted,
    statuses,
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/** Wait until every accepted report is final in PostgreSQL (or `ms` passed); returns those still open. */
export async function waitUntilFinal(env: ChaosEnv, accepted: Accepted[], ms: number, finalStates = ['applied', 'superseded']): Promise<Accepted[]> {
  const end = Date.now() + ms;
  for (;;) {
    const rows = await env.query<{ system_id: string; report_id: string; status: string }>(`select system_id::text, report_id, status from inventory_reports`).catch(() => []);
    const state = new Map(rows.map((r) => [`${r.system_id}/${r.report_id}`, r.status]));
    const open = accepted.filter((a) => !finalStates.includes(state.get(`${a.systemId}/${a.reportId}`) ?? ''));
    if (open.length === 0 || Date.now() > end) return open;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * The invariants every fault must leave intact:
 * - nothing accepted is lost: every report answered 202 is applied or superseded (or, where the
 *   test allows it, explicitly marked `lost` — never silently gone);
 * - nothing is applied twice: no snapshot is stored twice, and a system's live snapshots are
 *   exactly the inventory of its newest applied generation;
 * - generations never go backwards: the system's generation is the newest accepted one applied.
 */
export async function checkInvariants(env: ChaosEnv, accepted: Accepted[], opts: { allowLost?: boolean; snapshots?: number; liveCheck?: boolean } = {}): Promise<string[]> {
  const problems: string[] = [];
  const reports = await env.query<{ system_id: string; report_id: string; status: string; generation: string | null }>(`select system_id::text, report_id, status, generation::text from inventory_reports`);
  const byId = new Map(reports.map((r) => [`${r.system_id}/${r.report_id}`, r]));
  for (const a of accepted) {
    const r = byId.get(`${a.systemId}/${a.reportId}`);
    if (!r) problems.push(`accepted report ${a.reportId} of ${a.systemId} is gone without a trace`);
    else if (!['applied', 'superseded'].includes(r.status) && !(opts.allowLost && r.status === 'lost')) problems.push(`accepted report ${a.reportId} is ${r.status}`);
  }
  const dup = await env.query<{ n: number }>(`select count(*)::int as n from (select dataset_id, kind, name from snapshots group by 1, 2, 3 having count(*) > 1) d`);
  if (dup[0]!.n > 0) problems.push(`${dup[0]!.n} snapshots stored twice`);
  const systems = new Set(accepted.map((a) => a.systemId));
  for (const systemId of systems) {
    const applied = accepted.filter((a) => a.systemId === systemId && byId.get(`${a.systemId}/${a.reportId}`)?.status === 'applied');
    if (applied.length === 0) continue;
    const newest = Math.max(...applied.map((a) => a.generation));
    const [sys] = await env.query<{ g: string }>(`select inventory_generation::text as g from systems where id = $1`, [systemId]);
    if (BigInt(sys!.g) !== BigInt(newest)) problems.push(`system ${systemId}: generation ${sys!.g}, newest applied ${newest} (went backwards or applied out of order)`);
    if (opts.liveCheck === false) continue;
    const live = await env.query<{ name: string }>(`select name from snapshots where system_id = $1 order by name`, [systemId]);
    const expected = syntheticSnapshots(opts.snapshots ?? 40, { from: newest }).map((s) => s.name).sort();
    if (JSON.stringify(live.map((l) => l.name)) !== JSON.stringify(expected)) problems.push(`system ${systemId}: live snapshots are not the inventory of generation ${newest}`);
  }
  return problems;
}
