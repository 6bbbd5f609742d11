import type { InventoryReportBody } from '@zfs-sync/contracts';
import type { TestApi } from './api-harness.js';
import { TEST_ADMIN_TOKEN } from './api-harness.js';

export interface RegisteredSystem {
  id: string;
  api_key: string;
  hostname: string;
}

let seq = 0;
export async function registerSystem(api: TestApi, hostname = `host-${process.pid}-${++seq}.test`, extra: Record<string, unknown> = {}): Promise<RegisteredSystem> {
  const res = await api.request('POST', '/systems', { key: TEST_ADMIN_TOKEN, body: { hostname, platform: 'linux', ...extra } });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${res.text}`);
  return res.body;
}

/**
 * A synthetic dataset of `count` snapshots named `auto-<n>`, guids derived from a seed so two
 * hosts "holding the same snapshot" share a guid. createtxg and creation grow with n.
 */
export function syntheticSnapshots(count: number, opts: { seed?: number; from?: number; prefix?: string } = {}) {
  const seed = BigInt(opts.seed ?? 1);
  const from = opts.from ?? 0;
  return Array.from({ length: count }, (_, i) => {
    const n = from + i;
    return {
      name: `${opts.prefix ?? 'auto'}-${n}`,
      guid: ((seed * 1_000_003n + BigInt(n)) * 2_654_435_761n % 18_446_744_073_709_551_557n).toString(),
      createtxg: String(1000 + n),
      creation: 1_700_000_000 + n * 60,
      used: String(n * 4096),
      referenced: String(1_000_000 + n),
    };
  });
}

export function inventory(reportId: string, generation: number, datasets: InventoryReportBody['datasets'], extra: Partial<InventoryReportBody> = {}): InventoryReportBody {
  return { report_id: reportId, generation, complete: true, datasets, ...extra };
}

/** Wait until a report reaches a final state (applied, superseded or failed). */
export async function waitForReport(api: TestApi, key: string, reportId: string, timeoutMs = 30_000): Promise<{ status: string; counts: { added: number; removed: number; changed: number; unchanged: number }; error?: string }> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const res = await api.request('GET', `/reports/${reportId}`, { key });
    if (res.status === 200 && ['applied', 'superseded', 'failed'].includes(res.body.status)) return res.body;
    if (Date.now() > end) throw new Error(`report ${reportId} not final after ${timeoutMs} ms: ${res.status} ${res.text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let generation = 1;
/** Post a full inventory for the system and wait until it is applied. */
export async function reportInventory(api: TestApi, sys: RegisteredSystem, datasets: InventoryReportBody['datasets']): Promise<void> {
  const gen = generation++;
  const id = `r-${sys.id.slice(0, 8)}-${gen}`;
  const res = await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory(id, gen, datasets) });
  if (res.status !== 202) throw new Error(res.text);
  const done = await waitForReport(api, sys.api_key, id);
  if (done.status !== 'applied') throw new Error(JSON.stringify(done));
}

/** Poll `fn` until `ok` holds (or the time is up), returning the last value either way. */
export async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The report id of an accepted report: in the Location header (the batch form answers an array), else in the body. */
export function reportIdOf(res: { headers: Headers; body: any }): string {
  const location = res.headers.get('location');
  if (location) return decodeURIComponent(new URL(location, 'http://x').pathname.split('/').pop()!);
  return res.body.report_id;
}
