import test from 'ava';
import { TEST_ADMIN_TOKEN, eventually, registerSystem, reportIdOf, startTestStack, waitForReport, type RegisteredSystem, type TestApi, type TestStack } from '@zfs-sync/testkit/stack';

/*
 * Issue 7, "Done when": a simulated fleet living for 50 rounds against the real API, store and
 * processors (no shell: transfers are applied to an in-memory model with ZFS's receive rules).
 *
 * - Group L: a hub and two spokes that behave like the original cron script: they report their
 *   whole list through /snapshots/batch with no guids, the hub runs every plan it is handed and
 *   never reports a status. The hub also holds a dataset the group excludes.
 * - Group M: a pair reporting full inventories with guids and createtxg, and reporting
 *   started / succeeded / failed for every transfer.
 * - Every round both hubs take a snapshot; every 5 rounds they prune their oldest.
 * - Transfers to one legacy spoke and to the modern spoke fail at random 20% of the time
 *   (injected; seeded, so a run is repeatable), until the last snapshot is taken.
 *
 * Every plan handed out is checked against the model (the truth) at hand-out: its base is the
 * target's newest snapshot (or the target lacks the dataset for a full send), its end exists on
 * the source, no -F, nothing for the excluded dataset. Every transfer that fails for a reason
 * other than the injection is a defect. At the end every link is in_sync within two rounds of
 * the last snapshot.
 */

const ROUNDS = 50;
const CONFIG = { instruction_offer_seconds: 1, instruction_lease_seconds: 5, failure_backoff_seconds: 1, failure_backoff_max_seconds: 1, sync_sweep_seconds: 1, legacy_stale_after_seconds: 3 };
const T0 = 1_700_000_000;

let stack: TestStack;
let api: TestApi;
test.before(async () => {
  stack = await startTestStack(CONFIG);
  api = stack.api;
});
test.after.always(async () => {
  await stack?.stop();
});

/** A deterministic PRNG (mulberry32): the same failures every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Snap {
  name: string;
  guid: string;
  creation: number;
  createtxg: number;
}

/** One simulated host: its pool, its datasets (path → snapshots oldest first), its own txg counter. */
class SimHost {
  readonly datasets = new Map<string, Snap[]>();
  private txg = 100;
  constructor(
    readonly label: string,
    readonly pool: string,
    readonly sys: RegisteredSystem,
  ) {}

  take(path: string, name: string, guid: string, creation: number): void {
    const list = this.datasets.get(path) ?? [];
    list.push({ name, guid, creation, createtxg: ++this.txg });
    this.datasets.set(path, list);
  }

  pruneOldest(path: string): void {
    this.datasets.get(path)?.shift();
  }

  newest(path: string): Snap | undefined {
    const list = this.datasets.get(path);
    return list?.[list.length - 1];
  }

  /** `zfs receive` of snapshots from another host: same guid and creation, this host's txg. */
  receive(path: string, snaps: Snap[]): void {
    const list = this.datasets.get(path) ?? [];
    for (const s of snaps) list.push({ ...s, createtxg: ++this.txg });
    this.datasets.set(path, list);
  }
}

interface Plan {
  instruction_id: string;
  plan_kind: 'full' | 'incremental' | 'resume';
  kind: string;
  dataset_path: string;
  target_system_id: string;
  starting_snapshot: string | null;
  starting_guid: string | null;
  initial_snapshot: string | null;
  ending_snapshot: string;
  ending_guid: string | null;
  commands: string[];
}

const defects: string[] = [];
const injected = { count: 0 };
let plansHanded = 0;

/** The hand-out invariants, checked against the model at the moment the plan is handed out. */
function checkPlan(plan: Plan, source: SimHost, target: SimHost, excluded: string[]): void {
  const where = `${source.label}→${target.label} ${plan.dataset_path}`;
  if (excluded.includes(plan.dataset_path)) defects.push(`${where}: a plan for an excluded dataset`);
  if (plan.commands.some((c) => /(^|\s)-F(\s|$)/.test(c))) defects.push(`${where}: -F in a normal plan`);
  const src = source.datasets.get(plan.dataset_path) ?? [];
  if (!src.some((s) => s.name === plan.ending_snapshot && (plan.ending_guid === null || s.guid === plan.ending_guid))) defects.push(`${where}: end @${plan.ending_snapshot} is not on the source`);
  const newest = target.newest(plan.dataset_path);
  if (plan.plan_kind === 'full') {
    if (target.datasets.has(plan.dataset_path)) defects.push(`${where}: full send into a target that has the dataset`);
  } else if (!newest || newest.name !== plan.starting_snapshot || (plan.starting_guid !== null && newest.guid !== plan.starting_guid)) {
    defects.push(`${where}: base @${plan.starting_snapshot} is not the target's newest (@${newest?.name})`);
  }
}

/** Run a plan on the model with ZFS's receive rules; returns why it failed, or null. */
function runPlan(plan: Plan, source: SimHost, target: SimHost): string | null {
  const path = plan.dataset_path;
  const src = source.datasets.get(path) ?? [];
  const indexOf = (name: string) => src.findIndex((s) => s.name === name);
  const end = indexOf(plan.ending_snapshot);
  if (end < 0) return `could not find @${plan.ending_snapshot} on the source`;
  if (plan.plan_kind === 'full') {
    if (target.datasets.has(path)) return 'destination exists: must specify -F to overwrite it';
    const first = plan.initial_snapshot ? indexOf(plan.initial_snapshot) : end;
    if (first < 0) return `could not find @${plan.initial_snapshot} on the source`;
    target.receive(path, [src[first]!]);
    if (first < end) target.receive(path, src.slice(first + 1, end + 1));
    return null;
  }
  const base = indexOf(plan.starting_snapshot ?? '');
  if (base < 0) return `incremental source @${plan.starting_snapshot} does not exist`;
  const newest = target.newest(path);
  if (!newest || newest.guid !== src[base]!.guid) return 'destination has been modified since most recent snapshot';
  target.receive(path, src.slice(base + 1, end + 1));
  return null;
}

async function legacyReport(h: SimHost): Promise<void> {
  const items = [...h.datasets].flatMap(([path, snaps]) =>
    snaps.map((s) => ({ name: s.name, pool: h.pool, dataset: `${h.pool}/${path}`, timestamp: new Date(s.creation * 1000).toISOString(), size: '4096', system_id: h.sys.id })),
  );
  // The original client sends sequential chunks of 1,000.
  for (let i = 0; i < items.length; i += 1000) {
    const res = await api.request('POST', '/snapshots/batch', { key: h.sys.api_key, body: items.slice(i, i + 1000) });
    if (res.status !== 202) throw new Error(`batch refused: ${res.status} ${res.text}`);
    await waitForReport(api, h.sys.api_key, reportIdOf(res));
  }
}

let generation = 0;
async function fullReport(h: SimHost): Promise<void> {
  const id = `fleet-${h.label}-${++generation}`;
  const datasets = [...h.datasets].map(([path, snaps]) => ({
    pool: h.pool,
    dataset: path,
    snapshots: snaps.map((s) => ({ name: s.name, guid: s.guid, createtxg: String(s.createtxg), creation: s.creation })),
  }));
  const res = await api.request('POST', `/systems/${h.sys.id}/inventory`, { key: h.sys.api_key, body: { report_id: id, generation, complete: true, datasets } });
  if (res.status !== 202) throw new Error(`inventory refused: ${res.status} ${res.text}`);
  const done = await waitForReport(api, h.sys.api_key, id);
  if (done.status !== 'applied') throw new Error(JSON.stringify(done));
}

/** One executor's cron run: fetch, check, run; the modern agent reports what happened. */
async function sync(executor: SimHost, hosts: SimHost[], opts: { reportsStatus: boolean; failing: (target: SimHost) => boolean; excluded: string[] }): Promise<void> {
  const res = await api.request('GET', `/sync/instructions/${executor.sys.id}`, { key: executor.sys.api_key });
  if (res.status !== 200) throw new Error(`instructions: ${res.status} ${res.text}`);
  for (const plan of res.body.datasets as Plan[]) {
    plansHanded++;
    const target = hosts.find((h) => h.sys.id === plan.target_system_id)!;
    checkPlan(plan, executor, target, opts.excluded);
    const status = (body: unknown) => api.request('POST', `/sync/instructions/${plan.instruction_id}/status`, { key: executor.sys.api_key, body });
    if (opts.reportsStatus) await status({ status: 'started' });
    let error: string | null;
    if (opts.failing(target)) {
      injected.count++;
      error = 'broken pipe (injected)';
    } else {
      error = runPlan(plan, executor, target);
      if (error) defects.push(`${executor.label}→${target.label} ${plan.dataset_path}: the transfer failed: ${error}`);
    }
    if (opts.reportsStatus) await status(error ? { status: 'failed', error } : { status: 'succeeded' });
  }
}

const links = (groupId: string) => api.request('GET', `/sync/groups/${groupId}/links`, { key: TEST_ADMIN_TOKEN }).then((r) => r.body as Array<{ verdict: string; explanation: string; target_system_id: string; dataset: string }>);

test('a fleet lives for 50 rounds: every plan handed out is right, and every link converges', async (t) => {
  t.timeout(10 * 60_000);
  const random = prng(20261201);
  const register = async (label: string) => registerSystem(api, `${label}-${process.pid}.fleet.test`, { ssh_hostname: `${label}.fleet.test` });
  const hub = new SimHost('hub', 'tank', await register('hub'));
  const spokeA = new SimHost('spokeA', 'backupA', await register('spokeA'));
  const spokeB = new SimHost('spokeB', 'backupB', await register('spokeB'));
  const src = new SimHost('src', 'fast', await register('src'));
  const dst = new SimHost('dst', 'slow', await register('dst'));
  const legacy = [hub, spokeA, spokeB];
  const modern = [src, dst];

  let guid = 10_000_000_000_000_000_000n;
  const snapshotOn = (h: SimHost, path: string, round: number) => h.take(path, `auto-${String(round).padStart(3, '0')}`, String((guid += 7_919n)), T0 + round * 600);
  snapshotOn(hub, 'home', 0);
  snapshotOn(hub, 'scratch', 0);
  snapshotOn(src, 'db', 0);
  for (const h of [...legacy]) await legacyReport(h);
  for (const h of modern) await fullReport(h);
  const groupL = await api.request('POST', '/sync-groups', { key: TEST_ADMIN_TOKEN, body: { name: `fleet-legacy-${hub.sys.id}`, directional: true, hub_system_id: hub.sys.id, system_ids: legacy.map((h) => h.sys.id), datasets: { exclude: ['scratch'] } } });
  const groupM = await api.request('POST', '/sync-groups', { key: TEST_ADMIN_TOKEN, body: { name: `fleet-modern-${src.sys.id}`, directional: true, hub_system_id: src.sys.id, system_ids: modern.map((h) => h.sys.id) } });
  t.is(groupL.status, 201, groupL.text);
  t.is(groupM.status, 201, groupM.text);
  await eventually(() => links(groupM.body.id), (l) => l.length === 1);

  let injecting = true;
  const round = async (n: number, takeSnapshot: boolean) => {
    const started = Date.now();
    if (takeSnapshot) {
      snapshotOn(hub, 'home', n);
      snapshotOn(hub, 'scratch', n);
      snapshotOn(src, 'db', n);
      if (n % 5 === 0) {
        hub.pruneOldest('home');
        src.pruneOldest('db');
      }
    }
    for (const h of legacy) await legacyReport(h);
    for (const h of modern) await fullReport(h);
    // Let the recomputes of this round's reports land before the hosts' cron runs.
    await new Promise((r) => setTimeout(r, 250));
    await sync(hub, legacy, { reportsStatus: false, failing: (target) => injecting && target === spokeB && random() < 0.2, excluded: ['scratch'] });
    await sync(src, modern, { reportsStatus: true, failing: () => injecting && random() < 0.2, excluded: [] });
    // Offer leases and backoffs are 1 s: a round is never shorter, as cron runs are never closer.
    const left = 1100 - (Date.now() - started);
    if (left > 0) await new Promise((r) => setTimeout(r, left));
  };

  for (let n = 1; n <= ROUNDS; n++) await round(n, true);
  injecting = false;
  // Within two rounds of the last snapshot, every link is in sync.
  for (let n = 1; n <= 2; n++) await round(ROUNDS + n, false);
  for (const h of legacy) await legacyReport(h);
  for (const h of modern) await fullReport(h);
  const settled = async () => [...(await links(groupL.body.id)), ...(await links(groupM.body.id))];
  const final = await eventually(settled, (l) => l.length === 3 && l.every((x) => x.verdict === 'in_sync'), 15_000);

  t.log(`${plansHanded} plans handed out, ${injected.count} transfers failed by injection`);
  t.deepEqual(defects, [], 'every plan handed out was right, and no transfer failed except the injected ones');
  t.true(injected.count > 0, 'the failure injection ran');
  t.deepEqual(
    final.map((l) => `${l.dataset}→${l.target_system_id.slice(0, 8)}: ${l.verdict}`).sort(),
    [
      `db→${dst.sys.id.slice(0, 8)}: in_sync`,
      `home→${spokeA.sys.id.slice(0, 8)}: in_sync`,
      `home→${spokeB.sys.id.slice(0, 8)}: in_sync`,
    ].sort(),
    JSON.stringify(final.map((l) => l.explanation)),
  );
  // The replicas hold exactly what the hubs hold now (pruned snapshots stay on the spokes).
  for (const spoke of [spokeA, spokeB]) t.is(spoke.newest('home')?.guid, hub.newest('home')?.guid);
  t.is(dst.newest('db')?.guid, src.newest('db')?.guid);
  t.false(spokeA.datasets.has('scratch'));
});
