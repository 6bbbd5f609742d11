/**
 * The whole loop on a simulated fleet: the real API and workers, three simulated hosts with
 * different pools (each with its own zfs, ssh port and users), the real agent bundle on each,
 * a hub-and-spoke group (push) and a mesh group (pull). Scenarios run in order on the same fleet.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { SimFleet, pgQuery, type SimHost } from '@zfs-sync/testkit';
import { TEST_ADMIN_TOKEN, TEST_ENROLLMENT_TOKEN, eventually, startTestStack, type TestStack } from '@zfs-sync/testkit/stack';
import { installAgent, type AgentRun, type InstalledAgent } from '../testing/agent-harness.js';

const admin = TEST_ADMIN_TOKEN;
let stack: TestStack;
let fleet: SimFleet;
let hub: InstalledAgent;
let spokeB: InstalledAgent;
let spokeC: InstalledAgent;
let all: InstalledAgent[];
const ids = new Map<InstalledAgent, string>();
let hubGroup: string;
let meshGroup: string;

const api = (method: string, path: string, body?: unknown) => stack.api.request(method, path, { key: admin, ...(body === undefined ? {} : { body }) });
const links = async (groupId: string) => (await api('GET', `/sync/groups/${groupId}/links`)).body as Array<Record<string, any>>;
const sql = (text: string, params: unknown[] = []) => pgQuery(stack.env.db.url, text, params);
const guids = (host: SimHost, dataset: string) => host.snapshots(dataset).map((s) => s.guid);
const idOf = (a: InstalledAgent) => ids.get(a)!;

function explain(r: AgentRun): string {
  return `exit ${r.code}\n${r.stderr.slice(-3000)}`;
}

async function runAll(args: string[]): Promise<AgentRun[]> {
  return Promise.all(all.map((a) => a.run(args)));
}

/**
 * `target` holds every snapshot of `source` from the first one they share on (same guids): a new
 * replica starts at the newest snapshot of its seed (initial replication "most recent").
 */
function holdsEverySince(source: string[], target: string[]): boolean {
  const have = new Set(target);
  const first = source.findIndex((g) => have.has(g));
  return first >= 0 && source.slice(first).every((g) => have.has(g));
}

/** Hub-and-spoke converged: both spokes hold every hub snapshot since their seed (same guids) and the witness says in_sync. */
async function hubConverged(): Promise<boolean> {
  const hubGuids = guids(hub.host, 'tank/home');
  if (!holdsEverySince(hubGuids, guids(spokeB.host, 'backupb/home')) || !holdsEverySince(hubGuids, guids(spokeC.host, 'vault/home'))) return false;
  const l = await links(hubGroup);
  return l.length === 2 && l.every((x) => x.verdict === 'in_sync');
}

/** Mesh converged: every member holds the newest snapshots of the most advanced one and no link is left open. */
async function meshConverged(): Promise<boolean> {
  const sets = [guids(hub.host, 'tank/shared'), guids(spokeB.host, 'backupb/shared'), guids(spokeC.host, 'vault/shared')];
  const longest = [...sets].sort((a, b) => b.length - a.length)[0]!;
  if (!sets.every((s) => s.at(-1) === longest.at(-1) && holdsEverySince(s, longest) && holdsEverySince(longest, s))) return false;
  return (await links(meshGroup)).every((x) => x.verdict === 'in_sync');
}

/**
 * Agent passes until `done` holds; returns the passes it took. A pass is what cron on every host
 * does, in step: every host reports, then syncs (after a moment for the witness to recompute),
 * then reports what it received.
 */
async function converge(done: () => Promise<boolean>, maxPasses = 6): Promise<number> {
  let runs: AgentRun[] = [];
  for (let pass = 1; pass <= maxPasses; pass++) {
    await runAll(['report']);
    await new Promise((r) => setTimeout(r, 500));
    runs = await runAll(['sync']);
    for (const r of runs) if (r.code !== 0) throw new Error(`agent run failed: ${explain(r)}`);
    await runAll(['report']);
    // Recomputes are asynchronous: give the workers a moment before judging.
    if (await eventually(done, (ok) => ok, 3000)) return pass;
  }
  const state = {
    homes: hubGroup ? await links(hubGroup) : null,
    shared: meshGroup ? await links(meshGroup) : null,
    runs: runs.map((r) => r.logs.map((l) => `${l.level}: ${l.msg}`)),
    hub: hub.host.snapshots('tank/home').map((x) => `${x.name}=${x.guid}`),
    spokeB: spokeB.host.snapshots('backupb/home').map((x) => `${x.name}=${x.guid}`),
    spokeC: spokeC.host.snapshots('vault/home').map((x) => `${x.name}=${x.guid}`),
    instructions: (await sql('select target_system_id, status, consecutive_failures, last_error, next_attempt_at, lease_expires_at, plan->>\'endingSnapshot\' as end from sync_instructions where status not in (\'completed\', \'superseded\')')).rows,
  };
  throw new Error(`did not converge: ${JSON.stringify(state, null, 1)}`);
}

test.before(async () => {
  // Short offers and backoffs so the scenarios wait seconds, not minutes (config keys, not test hooks).
  stack = await startTestStack({ instruction_offer_seconds: 5, failure_backoff_seconds: 8 });
  fleet = await SimFleet.create();
  const base = { witness_url: stack.api.baseUrl, enrollment_token: TEST_ENROLLMENT_TOKEN };
  hub = await installAgent(fleet.addHost('hub', { hostname: 'hub.fleet.test', pools: { tank: 1000 }, sshUsers: ['zsync'] }), { ...base, ssh_user: 'zsync' });
  spokeB = await installAgent(fleet.addHost('spoke-b', { hostname: 'spoke-b.fleet.test', pools: { backupb: 40 }, sshPort: 2222, sshUsers: ['zsync'] }), { ...base, ssh_user: 'zsync' });
  spokeC = await installAgent(fleet.addHost('spoke-c', { hostname: 'spoke-c.fleet.test', pools: { vault: 7 } }), base);
  all = [hub, spokeB, spokeC];
});

test.after.always(async () => {
  await stack?.stop();
  await fleet?.cleanup();
});

test.serial('agents enroll themselves, keep their key 0600 and report their inventories', async (t) => {
  await hub.host.zfsOk('create', 'tank/home');
  for (const n of [0, 1, 2]) await hub.host.snapshot(`tank/home@auto-${n}`);
  await spokeB.host.zfsOk('create', 'backupb/shared');
  for (const n of [0, 1]) await spokeB.host.snapshot(`backupb/shared@m-${n}`);
  const runs = await runAll(['report']);
  for (const r of runs) t.is(r.code, 0, explain(r));
  for (const a of all) {
    const creds = a.credentials();
    ids.set(a, creds.system_id);
    t.is(statSync(join(a.stateDir, 'credentials.json')).mode & 0o777, 0o600);
    const sys = await api('GET', `/systems/${creds.system_id}`);
    t.like(sys.body, { hostname: a.host.hostname, ssh_hostname: a.host.hostname, ssh_port: a.host.sshPort });
    const hb = await api('GET', `/systems/${creds.system_id}/health`);
    t.is(hb.body.status, 'online');
  }
  t.like((await api('GET', `/systems/${idOf(hub)}`)).body, { ssh_user: 'zsync' });
  const reported = runs[0]!.logs.find((l) => /^reported /.test(l.msg));
  t.like(reported, { msg: 'reported 3 snapshots and bookmarks in 2 datasets', status: 'applied' });
  const stored = await api('GET', `/snapshots/system/${idOf(hub)}?limit=100`);
  t.deepEqual(stored.body.map((s: any) => s.guid).sort(), guids(hub.host, 'tank/home').sort(), 'the witness holds the hub\'s guids exactly');
});

test.serial('hub-and-spoke (push) and mesh (pull) groups converge on every snapshot with the same guids', async (t) => {
  const create = async (body: Record<string, unknown>) => {
    const r = await api('POST', '/sync-groups', body);
    t.is(r.status, 201, r.text);
    return r.body.id as string;
  };
  hubGroup = await create({
    name: 'homes',
    directional: true,
    hub_system_id: idOf(hub),
    system_ids: all.map(idOf),
    datasets: { include: ['home'] },
    target_pools: { [idOf(spokeB)]: 'backupb', [idOf(spokeC)]: 'vault' },
    receive_options: { resumable: true, unmounted: true },
  });
  meshGroup = await create({
    name: 'shared',
    directional: false,
    transfer_mode: 'pull',
    initial_replication: 'all',
    system_ids: all.map(idOf),
    datasets: { include: ['shared'] },
    target_pools: { [idOf(hub)]: 'tank', [idOf(spokeB)]: 'backupb', [idOf(spokeC)]: 'vault' },
  });
  const passes = await converge(async () => (await hubConverged()) && (await meshConverged()));
  t.log(`initial seeding converged in ${passes} agent pass(es)`);
  t.deepEqual(guids(spokeC.host, 'vault/home'), guids(hub.host, 'tank/home').slice(-1), 'a new replica starts at the newest snapshot');
  // Pull mode: the receivers ran the pipelines, reaching spoke-b on its own port as zsync; the mesh
  // seeds with the whole history (initial_replication "all": the oldest in full, then -I).
  t.true(hub.host.journal().some((e) => e.cmd === 'receive-end' && e.target === 'tank/shared'));
  t.deepEqual(guids(hub.host, 'tank/shared'), guids(spokeB.host, 'backupb/shared'));
  t.deepEqual(guids(spokeC.host, 'vault/shared'), guids(spokeB.host, 'backupb/shared'));
  // The mesh follows whoever is ahead: spoke-c takes snapshots, the others pull them from it.
  for (const n of [2, 3]) await spokeC.host.snapshot(`vault/shared@m-${n}`);
  await converge(meshConverged);
  t.deepEqual(guids(hub.host, 'tank/shared'), guids(spokeC.host, 'vault/shared'));
});

test.serial('rounds of snapshots and pruning on the hub stay converged', async (t) => {
  let next = 3;
  const seed = guids(spokeB.host, 'backupb/home')[0]!;
  for (let round = 1; round <= 3; round++) {
    await hub.host.snapshot(`tank/home@auto-${next++}`);
    {
      const oldest = hub.host.snapshots('tank/home')[0]!.name;
      await hub.host.zfsOk('destroy', `tank/home@${oldest}`);
    }
    const passes = await converge(hubConverged, 4);
    t.true(passes <= 2, `round ${round} took ${passes} passes`);
  }
  t.is(hub.host.snapshots('tank/home').length, 3, 'the hub pruned');
  t.false(guids(hub.host, 'tank/home').includes(seed));
  t.true(guids(spokeB.host, 'backupb/home').includes(seed), 'spokes keep what the hub pruned (pruning there is their own policy)');
});

test.serial('two overlapping agent runs never start the same transfer twice; a held local lock is respected', async (t) => {
  hub.host.settings({ sendBytesPerSecond: 256 * 1024 });
  await hub.host.snapshot('tank/home@overlap', 512 * 1024);
  await hub.run(['report']);
  const newest = hub.host.snapshots('tank/home').at(-1)!.guid;
  await eventually(() => api('GET', `/sync/instructions/${idOf(hub)}`), (r) => r.body.datasets.filter((d: any) => d.ending_guid === newest).length === 2, 15_000);
  const [first, second] = await Promise.all([hub.run(['sync']), hub.run(['sync'])]);
  t.is(first!.code, 0, explain(first!));
  t.is(second!.code, 0, explain(second!));
  for (const [spoke, target] of [[spokeB, 'backupb/home'], [spokeC, 'vault/home']] as const) {
    const begins = spoke.host.journal().filter((e) => e.cmd === 'receive-begin' && e.target === target && e.toGuid === newest);
    t.is(begins.length, 1, `${target} received the overlap snapshot once`);
  }
  hub.host.settings({ sendBytesPerSecond: null });
  await runAll(['report']);
  t.true(await eventually(hubConverged, (ok) => ok, 10_000));

  // A transfer whose local lock a live process holds is skipped, not run a second time.
  await hub.host.snapshot('tank/home@locked');
  await hub.run(['report']);
  await eventually(() => api('GET', `/sync/instructions/${idOf(hub)}`), (r) => r.body.datasets.length === 2, 15_000);
  const { lockTransfer } = await import('../locks.js');
  const key = `${idOf(hub)}>${idOf(spokeB)}:backupb/home`;
  const held = lockTransfer(hub.stateDir, key, { instruction_id: 'held-by-test' });
  t.true(held.acquired);
  const skipped = await hub.run(['sync']);
  if (held.acquired) held.release();
  t.is(skipped.code, 0, explain(skipped));
  t.true(skipped.logs.some((l) => /another agent run \(pid \d+\) is running this transfer/.test(l.msg)), explain(skipped));
  t.false(spokeB.host.journal().some((e) => e.cmd === 'receive-begin' && e.toGuid === hub.host.snapshots('tank/home').at(-1)!.guid));
  // The skipped plan is offered again once its offer runs out (5 s here).
  await converge(hubConverged, 4);
  const lockedGuid = hub.host.snapshots('tank/home').find((x) => x.name === 'locked')!.guid;
  t.true(guids(spokeB.host, 'backupb/home').includes(lockedGuid), 'the skipped transfer ran later, once');
});

test.serial('a snapshot destroyed on a spoke is sent again (same guid)', async (t) => {
  const newest = spokeB.host.snapshots('backupb/home').at(-1)!;
  await spokeB.host.zfsOk('destroy', `backupb/home@${newest.name}`);
  await spokeB.run(['report']);
  t.true(await eventually(() => links(hubGroup), (l) => l.some((x) => x.target_system_id === idOf(spokeB) && x.verdict !== 'in_sync'), 10_000).then((l) => l.some((x) => x.verdict !== 'in_sync')));
  await converge(hubConverged, 3);
  const back = spokeB.host.snapshots('backupb/home').find((s) => s.name === newest.name);
  t.is(back?.guid, newest.guid);
});

test.serial('a snapshot taken on a spoke after the base diverges the link; a confirmed rollback_target run by the agent brings it back in sync', async (t) => {
  await hub.host.snapshot('tank/home@before-edit');
  await converge(hubConverged, 3);
  await spokeC.host.snapshot('vault/home@local-edit');
  await hub.host.snapshot('tank/home@after-edit');
  await runAll(['report']);
  const diverged = await eventually(() => links(hubGroup), (l) => l.some((x) => x.target_system_id === idOf(spokeC) && x.verdict === 'diverged' && x.conflict_id), 15_000);
  const link = diverged.find((x) => x.target_system_id === idOf(spokeC))!;
  t.is(link.verdict, 'diverged');
  const conflict = (await api('GET', `/conflicts/${link.conflict_id}`)).body;
  t.like(conflict, { type: 'diverged', status: 'open', target_system_id: idOf(spokeC) });
  // Nothing destructive without an explicit choice; the hub gets no plan for the diverged spoke.
  const dry = await api('POST', `/conflicts/${conflict.id}/resolve`, { strategy: 'rollback_target' });
  t.is(dry.status, 409);
  t.deepEqual(dry.body.would_destroy, ['local-edit']);
  const quiet = await hub.run(['sync', '--dry-run']);
  t.false(quiet.stdout.includes('vault/home'), quiet.stdout);
  const ok = await api('POST', `/conflicts/${conflict.id}/resolve`, { strategy: 'rollback_target', confirm: true });
  t.is(ok.status, 202, ok.text);
  await converge(hubConverged, 4);
  t.false(spokeC.host.snapshots('vault/home').some((s) => s.name === 'local-edit'));
  t.true(spokeC.host.journal().some((e) => e.cmd === 'rollback' && e.destroyed.includes('vault/home@local-edit')));
  t.is((await api('GET', `/conflicts/${conflict.id}`)).body.status, 'resolved');
});

test.serial('a broken pipe: reported failed, backed off, retried and resumed with the resume token', async (t) => {
  await converge(hubConverged, 3);
  await hub.host.snapshot('tank/home@big', 4 * 1024 * 1024);
  await hub.run(['report']);
  const big = hub.host.snapshots('tank/home').at(-1)!.guid;
  await eventually(() => api('GET', `/sync/instructions/${idOf(hub)}`), (r) => r.body.datasets.filter((d: any) => d.ending_guid === big).length === 2, 15_000);
  fleet.cutNextConnection('spoke-b.fleet.test', 700 * 1024);
  const cut = await hub.run(['sync']);
  t.is(cut.code, 1, explain(cut));
  const failure = cut.logs.find((l) => l.level === 'error' && /backupb\/home failed/.test(l.msg));
  t.regex(failure?.msg ?? '', /Broken pipe/);
  const failedAt = Date.now();
  const linkToB = async () => (await links(hubGroup)).find((l) => l.target_system_id === idOf(spokeB))!;
  const failedLink = await eventually(linkToB, (l) => l.next_attempt_at !== null, 10_000);
  t.like(failedLink, { consecutive_failures: 1, verdict: 'behind' }, 'a failed transfer puts the link back to its computed verdict, not syncing');
  t.regex(failedLink.last_error, /Broken pipe/);
  t.true(Date.parse(failedLink.next_attempt_at) > failedAt, 'backing off');

  // The receiver kept the partial stream and says so in its next report.
  const token = spokeB.host.dataset('backupb/home')!.partial;
  t.truthy(token, 'spoke-b holds a partially received snapshot');
  await spokeB.run(['report']);
  // Backing off: nothing is handed out for spoke-b until the backoff is over.
  const during = await hub.run(['sync', '--dry-run']);
  t.false(during.stdout.includes('backupb/home'), during.stdout);
  // After the backoff the plan is offered again — as a resume from the receiver's token.
  const resumedPlan = await eventually(() => hub.run(['sync', '--dry-run']), (r) => /zfs send -t 1-/.test(r.stdout), 30_000);
  t.regex(resumedPlan.stdout, /zfs send -t 1-[0-9a-f-]+ \| ssh -p 2222 zsync@spoke-b\.fleet\.test 'zfs receive -s -u backupb\/home'/);
  await converge(hubConverged, 4);
  const resumed = spokeB.host.journal().filter((e) => e.cmd === 'receive-begin' && e.kind === 'resume' && e.toGuid === big);
  t.is(resumed.length, 1, 'the transfer resumed from the token instead of starting over');
  t.is(spokeB.host.snapshots('backupb/home').at(-1)!.guid, big);
});

test.serial('a plan tampered with on the wire is refused and reported, and nothing runs', async (t) => {
  await converge(hubConverged, 3);
  // A proxy between the hub's agent and the witness that makes the receive destructive.
  const target = new URL(stack.api.baseUrl);
  const proxy: Server = createServer((req, res) => {
    const up = httpRequest({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (upRes) => {
      const chunks: Buffer[] = [];
      upRes.on('data', (c: Buffer) => chunks.push(c));
      upRes.on('end', () => {
        let body = Buffer.concat(chunks).toString();
        if (req.url?.startsWith('/api/v1/sync/instructions/') && req.method === 'GET') {
          const json = JSON.parse(body);
          for (const d of json.datasets) d.commands = d.commands.map((c: string) => c.replace("'zfs receive -s", "'zfs receive -s -F"));
          body = JSON.stringify(json);
        }
        const headers = { ...upRes.headers, 'content-length': String(Buffer.byteLength(body)) };
        res.writeHead(upRes.statusCode ?? 502, headers);
        res.end(body);
      });
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const proxied = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/api/v1`;
  try {
    await hub.host.snapshot('tank/home@tamper');
    await hub.run(['report']);
    const end = hub.host.snapshots('tank/home').at(-1)!.guid;
    await eventually(() => api('GET', `/sync/instructions/${idOf(hub)}`), (r) => r.body.datasets.length === 2, 15_000);
    const refused = await hub.run(['sync'], { config: { witness_url: proxied } });
    t.is(refused.code, 1, explain(refused));
    t.true(refused.logs.filter((l) => /^refused instruction .*its command differs from what its fields build/.test(l.msg)).length === 2, explain(refused));
    for (const spoke of [spokeB, spokeC]) t.false(spoke.host.journal().some((e) => e.cmd === 'receive-begin' && e.toGuid === end), 'nothing was received');
    const told = await eventually(() => links(hubGroup), (l) => l.filter((x) => /^refused by the agent/.test(x.last_error ?? '')).length === 2, 10_000);
    t.is(told.filter((x) => /^refused by the agent on hub\.fleet\.test: its command differs/.test(x.last_error ?? '')).length, 2, 'the witness was told why');
  } finally {
    await new Promise((r) => proxy.close(r));
  }
  // Straight from the witness, the same plans run (after the backoff the refusal caused).
  await converge(hubConverged, 6);
});

test.serial('status shows this host\'s links; --dry-run runs nothing', async (t) => {
  const s = await spokeB.run(['status']);
  t.is(s.code, 0, explain(s));
  t.regex(s.stdout, /DATASET\s+DIRECTION\s+PEER\s+VERDICT\s+LAG/);
  t.regex(s.stdout, /home\s+← receive\s+\S+\s+in_sync/);
  const json = JSON.parse((await hub.run(['status', '--json'])).stdout);
  t.is(json.system.id, idOf(hub));
  t.true(json.links.every((l: any) => l.verdict === 'in_sync'));
  await hub.host.snapshot('tank/home@dry');
  await hub.run(['report']);
  const before = spokeB.host.journal().length;
  const dry = await eventually(() => hub.run(['sync', '--dry-run']), (r) => r.stdout.includes('zfs send'), 15_000);
  t.regex(dry.stdout, /^# transfer tank\/home → backupb\/home \(instruction [0-9a-f-]+\)\nzfs send -c -I tank\/home@\S+ tank\/home@dry \| ssh -p 2222 zsync@spoke-b\.fleet\.test 'zfs receive -s -u backupb\/home'$/m);
  t.is(spokeB.host.journal().length, before, 'a dry run changes nothing');
  // A dry run takes no lease: the real run right after gets the plans.
  const real = await hub.run(['sync']);
  t.true(real.logs.some((l) => l.msg === 'sync: 2 succeeded, 0 failed, 0 refused, 0 skipped'), explain(real));
});
