import test from 'ava';
import { EVENT_DATA_SCHEMAS, compile } from '@zfs-sync/contracts';
import { TEST_ADMIN_TOKEN, eventually, startTestApi, registerSystem, reportInventory, startTestStack, syntheticSnapshots, type RegisteredSystem, type TestStack } from '@zfs-sync/testkit/stack';

/**
 * The event log and the live stream (issue 10) against the real service: API, workers (recompute
 * engine and the events relay), PostgreSQL and Redis.
 */
const admin = TEST_ADMIN_TOKEN;
const VIEWER = 'zs_view_test-viewer-token-for-integration-tests-0000';
let stack: TestStack;
let hub: RegisteredSystem;
let a: RegisteredSystem;
let groupId: string;
const data = syntheticSnapshots(8, { seed: 501 });

interface SseEvent {
  id: string | null;
  event: string;
  data: any;
  receivedAt: number;
}

/** A minimal SSE client over fetch (what the dashboard does): events as they arrive. */
function openStream(path: string, opts: { key?: string; lastEventId?: string; baseUrl?: string } = {}) {
  const controller = new AbortController();
  const events: SseEvent[] = [];
  const comments: string[] = [];
  let status = 0;
  const headers: Record<string, string> = { accept: 'text/event-stream', authorization: `Bearer ${opts.key ?? admin}` };
  if (opts.lastEventId) headers['last-event-id'] = opts.lastEventId;
  const done = (async () => {
    const res = await fetch((opts.baseUrl ?? stack.api.baseUrl) + path, { headers, signal: controller.signal });
    status = res.status;
    if (!res.ok || !res.body) return;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let id: string | null = null;
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) comments.push(line);
          else if (line.startsWith('id: ')) id = line.slice(4);
          else if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data.push(line.slice(6));
        }
        if (data.length) events.push({ id, event, data: JSON.parse(data.join('\n')), receivedAt: Date.now() });
      }
    }
  })().catch(() => {});
  return {
    events,
    comments,
    status: () => status,
    close: async () => {
      controller.abort();
      await done;
    },
  };
}

const linksOf = () => stack.api.request('GET', `/sync/groups/${groupId}/links`, { key: admin }).then((r) => r.body as any[]);
const linkTo = async (target: string) => (await linksOf()).find((l) => l.target_system_id === target);

test.before(async () => {
  stack = await startTestStack({ viewer_token: VIEWER, events_flap_window_seconds: 0, events_keepalive_seconds: 1 });
  hub = await registerSystem(stack.api, `hub-${process.pid}.events.test`);
  a = await registerSystem(stack.api, `a-${process.pid}.events.test`);
  await reportInventory(stack.api, hub, [{ pool: 'tank', dataset: 'data', snapshots: data.slice(0, 5) }]);
  await reportInventory(stack.api, a, [{ pool: 'tank', dataset: 'data', snapshots: data.slice(0, 5) }]);
  const g = await stack.api.request('POST', '/sync-groups', { key: admin, body: { name: `events-${process.pid}`, directional: true, hub_system_id: hub.id, system_ids: [hub.id, a.id] } });
  if (g.status !== 201) throw new Error(g.text);
  groupId = g.body.id;
  await eventually(linksOf, (l) => l.length === 1 && l[0].verdict === 'in_sync');
});
test.after.always(async () => {
  await stack?.stop();
});

test.serial('an SSE client receives a link state change within a second, and resumes with Last-Event-ID without a gap', async (t) => {
  const first = openStream('/events/stream');
  await eventually(async () => first.comments.length, (n) => n > 0, 5000);
  t.is(first.status(), 200);

  // The hub takes a snapshot: a falls behind.
  await reportInventory(stack.api, hub, [{ pool: 'tank', dataset: 'data', snapshots: data.slice(0, 6) }]);
  const changed = await eventually(
    async () => first.events.find((e) => e.event === 'link.state_changed' && e.data.data.to === 'behind'),
    (e) => e !== undefined,
    15_000,
  );
  t.truthy(changed, 'link.state_changed arrived');
  const e = changed!;
  t.like(e.data.data, { group_id: groupId, group_name: `events-${process.pid}`, dataset: 'data', source_system_id: hub.id, source_hostname: hub.hostname, target_system_id: a.id, target_hostname: a.hostname, from: 'in_sync', to: 'behind' });
  t.is(typeof e.data.data.explanation, 'string');
  t.is(e.data.id.length, 36);
  t.regex(e.id!, /^\d+$/);
  // occurred_at is the recompute transaction's start: an upper bound on the delay after the commit.
  const latency = e.receivedAt - Date.parse(e.data.occurred_at);
  t.log(`link state change → SSE client: ${latency} ms after the recompute transaction began`);
  t.true(latency < 1000, `${latency} ms`);
  await first.close();

  // While no client listens: a catches up (behind → in_sync), then the hub moves on again.
  await reportInventory(stack.api, a, [{ pool: 'tank', dataset: 'data', snapshots: data.slice(0, 6) }]);
  await eventually(async () => (await linkTo(a.id))?.verdict, (v) => v === 'in_sync');
  await reportInventory(stack.api, hub, [{ pool: 'tank', dataset: 'data', snapshots: data.slice(0, 7) }]);
  await eventually(async () => (await linkTo(a.id))?.verdict, (v) => v === 'behind');

  // The log has them in order; resuming after the last event seen brings exactly what was missed.
  const log = await eventually(
    async () => (await stack.api.request('GET', `/events?after=${e.id}&types=link.state_changed`, { key: admin })).body,
    (b) => b.items.length >= 2,
    10_000,
  );
  t.deepEqual(
    log.items.map((i: any) => `${i.data.from}>${i.data.to}`),
    ['behind>in_sync', 'in_sync>behind'],
  );
  const resumed = openStream('/events/stream?types=link.state_changed', { lastEventId: e.id! });
  try {
    const got = await eventually(async () => resumed.events, (es) => es.length >= 2, 10_000);
    t.deepEqual(
      got.map((x) => x.id),
      log.items.map((i: any) => i.seq),
      'the missed events, in log order, each once',
    );
    t.false(got.some((x) => x.id === e.id), 'nothing at or before Last-Event-ID');
  } finally {
    await resumed.close();
  }
});

test.serial('GET /events pages with a cursor and filters by type; the dashboard path streams too', async (t) => {
  const all = (await stack.api.request('GET', '/events?after=0&limit=1000', { key: admin })).body;
  t.true(all.items.length >= 4);
  const seqs = all.items.map((i: any) => BigInt(i.seq));
  t.deepEqual([...seqs].sort((x, y) => (x < y ? -1 : 1)), seqs, 'oldest first');
  let after: string | null = '0';
  const paged: string[] = [];
  for (;;) {
    const page: any = (await stack.api.request('GET', `/events?limit=2&after=${after}`, { key: admin })).body;
    if (page.items.length === 0) break;
    paged.push(...page.items.map((i: any) => i.id));
    after = page.next_after;
  }
  t.deepEqual(paged, all.items.map((i: any) => i.id));
  // Without a cursor: the newest events, oldest first, to follow from there.
  const tail = (await stack.api.request('GET', '/events?limit=3', { key: admin })).body;
  t.deepEqual(tail.items.map((i: any) => i.id), all.items.slice(-3).map((i: any) => i.id));
  t.is(tail.next_after, all.items.at(-1).seq);
  const types = ['system.registered', 'inventory.applied'].join(',');
  const filtered = (await stack.api.request('GET', `/events?types=${types}&limit=1000`, { key: admin })).body;
  t.true(filtered.items.every((i: any) => i.type === 'system.registered' || i.type === 'inventory.applied'));
  for (const [query, field] of [
    ['after=abc', 'after'],
    ['types=system.exploded', 'types'],
    ['limit=0', 'limit'],
    ['colour=red', 'colour'],
  ] as const) {
    const bad = await stack.api.request('GET', `/events?${query}`, { key: admin });
    t.is(bad.status, 400, query);
    t.is(bad.body.field, field, query);
  }
  t.is((await stack.api.request('GET', '/events', {})).status, 401);
  t.is((await stack.api.request('GET', '/events', { key: a.api_key })).status, 403);
  const legacy = openStream('/dashboard/events');
  try {
    // `: connected`, then keep-alive comments while nothing happens.
    await eventually(async () => legacy.comments.filter((c) => c === ': keep-alive').length, (n) => n >= 2, 5000);
    t.is(legacy.status(), 200);
    t.true(legacy.comments.filter((c) => c === ': keep-alive').length >= 2, 'keep-alive comments');
  } finally {
    await legacy.close();
  }
});

test.serial('the viewer token reads every GET, the log and the stream, and is refused with 403 on every write', async (t) => {
  t.like((await stack.api.request('GET', '/whoami', { key: VIEWER })).body, { kind: 'viewer', can_write: false });
  for (const path of ['/systems', `/systems/${a.id}`, '/sync-groups', `/sync/groups/${groupId}/links`, '/events', '/audit', '/overview', '/conflicts']) {
    t.is((await stack.api.request('GET', path, { key: VIEWER })).status, 200, path);
  }
  const s = openStream('/events/stream', { key: VIEWER });
  await eventually(async () => s.status(), (n) => n !== 0, 5000);
  t.is(s.status(), 200);
  await s.close();
  for (const [method, path, body] of [
    ['POST', '/systems', { hostname: 'viewer-made.test', platform: 'linux' }],
    ['PUT', `/systems/${a.id}`, { hostname: 'renamed.test', platform: 'linux' }],
    ['DELETE', `/systems/${a.id}`, undefined],
    ['POST', `/systems/${a.id}/api-key/rotate`, {}],
    ['POST', '/sync-groups', { name: 'viewer-group', system_ids: [] }],
    ['DELETE', `/sync-groups/${groupId}`, undefined],
  ] as const) {
    const res = await stack.api.request(method, path, { key: VIEWER, ...(body ? { body } : {}) });
    t.is(res.status, 403, `${method} ${path}`);
    t.regex(res.body.detail, /read-only/);
  }
  t.is((await stack.api.request('GET', `/systems/${a.id}`, { key: admin })).body.hostname, a.hostname, 'nothing changed');
});

const eventsOf = async (type: string, match: (d: any) => boolean) =>
  eventually(
    async () => ((await stack.api.request('GET', `/events?types=${type}&limit=1000`, { key: admin })).body.items as any[]).filter((i) => match(i.data)),
    (items) => items.length > 0,
    10_000,
  );

test.serial('system.registered, system.key_rotated and system.deleted are in the log; inventory.applied carries the counts', async (t) => {
  const s = await registerSystem(stack.api, `events-sys-${process.pid}.test`);
  t.like((await eventsOf('system.registered', (d) => d.system_id === s.id))[0].data, { system_id: s.id, hostname: s.hostname, platform: 'linux' });
  t.is((await stack.api.request('POST', `/systems/${s.id}/api-key/rotate`, { key: admin, body: {} })).status, 200);
  const rotated = (await eventsOf('system.key_rotated', (d) => d.system_id === s.id))[0];
  t.like(rotated.data, { system_id: s.id, old_key_valid_seconds: 0 });
  t.false(JSON.stringify(rotated).includes('zs_host_'), 'no key in the event');
  await reportInventory(stack.api, a, [{ pool: 'tank', dataset: 'data', snapshots: data.slice(0, 7) }, { pool: 'tank', dataset: 'extra', snapshots: data.slice(0, 2) }]);
  const applied = await eventsOf('inventory.applied', (d) => d.system_id === a.id && d.datasets === 2);
  t.like(applied[0].data, { system_id: a.id, mode: 'inventory', complete: true, counts: { added: 3 } });
  t.is((await stack.api.request('DELETE', `/systems/${s.id}`, { key: admin })).status, 204);
  t.like((await eventsOf('system.deleted', (d) => d.system_id === s.id))[0].data, { system_id: s.id, hostname: s.hostname });
  // A delete that fails (the hub of a group) rolls back with its event: the log never says it happened.
  const refused = await stack.api.request('DELETE', `/systems/${hub.id}`, { key: admin });
  t.is(refused.status, 409);
  await new Promise((r) => setTimeout(r, 300));
  const all = (await stack.api.request('GET', '/events?after=0&types=system.deleted&limit=1000', { key: admin })).body.items as any[];
  t.false(all.some((e) => e.data.system_id === hub.id), 'no system.deleted for a system that still exists');
  t.is((await stack.api.request('GET', `/audit?resource_type=system&resource_id=${hub.id}`, { key: admin })).body.items.filter((e: any) => e.action === 'system.deleted').length, 0);
});

test.serial('admin actions are audited: who (credential kind and fingerprint, never the secret) and what changed, newest first with a cursor', async (t) => {
  const s = await registerSystem(stack.api, `audit-${process.pid}.test`);
  t.is((await stack.api.request('PUT', `/systems/${s.id}`, { key: admin, body: { site: 'dc-9' } })).status, 200);
  t.is((await stack.api.request('POST', `/systems/${s.id}/api-key/rotate`, { key: admin, body: { old_key_valid_seconds: 60 } })).status, 200);
  const g = await stack.api.request('POST', '/sync-groups', { key: admin, body: { name: `audited-${process.pid}`, system_ids: [s.id, a.id] } });
  t.is(g.status, 201);
  t.is((await stack.api.request('PUT', `/sync-groups/${g.body.id}`, { key: admin, body: { max_lag_seconds: 7200 } })).status, 200);
  t.is((await stack.api.request('DELETE', `/sync-groups/${g.body.id}`, { key: admin })).status, 204);
  t.is((await stack.api.request('DELETE', `/systems/${s.id}`, { key: admin })).status, 204);

  const forSystem = (await stack.api.request('GET', `/audit?resource_type=system&resource_id=${s.id}`, { key: VIEWER })).body;
  t.deepEqual(
    forSystem.items.map((e: any) => e.action),
    ['system.deleted', 'system.key_rotated', 'system.updated', 'system.created'],
    'newest first',
  );
  const byAction = Object.fromEntries(forSystem.items.map((e: any) => [e.action, e]));
  t.deepEqual(byAction['system.updated'].changes, { site: { from: null, to: 'dc-9' } });
  t.like(byAction['system.key_rotated'].changes, { old_key_valid_seconds: 60 });
  for (const e of forSystem.items) {
    t.is(e.actor.kind, 'admin');
    t.regex(e.actor.id, /^sha256:[0-9a-f]{12}$/);
  }
  const text = JSON.stringify(forSystem);
  t.false(text.includes(admin), 'never the admin token');
  t.false(text.includes('zs_host_'), 'never a host key');

  const forGroup = (await stack.api.request('GET', `/audit?resource_type=sync_group&resource_id=${g.body.id}`, { key: admin })).body;
  t.deepEqual(forGroup.items.map((e: any) => e.action), ['sync_group.deleted', 'sync_group.updated', 'sync_group.created']);
  t.deepEqual(forGroup.items[1].changes, { max_lag_seconds: { from: 259200, to: 7200 } });

  // Cursor pagination over everything.
  const all = (await stack.api.request('GET', '/audit?limit=1000', { key: admin })).body.items.map((e: any) => e.id);
  const paged: string[] = [];
  let before: string | null = null;
  for (;;) {
    const page: any = (await stack.api.request('GET', `/audit?limit=3${before ? `&before=${before}` : ''}`, { key: admin })).body;
    paged.push(...page.items.map((e: any) => e.id));
    if (!page.next_before) break;
    before = page.next_before;
  }
  t.deepEqual(paged, all);
  t.is((await stack.api.request('GET', '/audit?before=x', { key: admin })).body.field, 'before');
  t.is((await stack.api.request('GET', '/audit', { key: a.api_key })).status, 403);
});

test.serial('SSE clients of two API replicas both see an event caused through either one', async (t) => {
  const second = await startTestApi(stack.env.config({ viewer_token: VIEWER }));
  const one = openStream('/events/stream?types=system.registered');
  const two = openStream('/events/stream?types=system.registered', { baseUrl: second.baseUrl, key: VIEWER });
  try {
    await eventually(async () => one.comments.length + two.comments.length, (n) => n >= 2, 5000);
    // Registered through the second replica; the workers relay it; both replicas tail the stream.
    const res = await second.request('POST', '/systems', { key: admin, body: { hostname: `replica-${process.pid}.test`, platform: 'linux' } });
    t.is(res.status, 201);
    for (const s of [one, two]) {
      const got = await eventually(async () => s.events.find((e) => e.data.data.system_id === res.body.id), (e) => e !== undefined, 5000);
      t.truthy(got);
    }
  } finally {
    await one.close();
    await two.close();
    await second.close();
  }
});

test.serial('resuming from further back than the stream holds reads PostgreSQL: every event after Last-Event-ID, in order, once', async (t) => {
  const log = (await stack.api.request('GET', '/events?after=0&limit=1000', { key: admin })).body.items as any[];
  t.true(log.length > 5);
  const from = log[1].seq as string;
  // The Redis stream is gone (trimmed, or Redis lost it): a new replica's tail has nothing in memory.
  const { Redis } = await import('ioredis');
  const redis = new Redis(stack.env.redisUrl);
  await redis.del(`${stack.env.prefix}:events`);
  redis.disconnect();
  const fresh = await startTestApi(stack.env.config());
  const s = openStream('/events/stream', { baseUrl: fresh.baseUrl, lastEventId: from });
  try {
    const got = await eventually(async () => s.events, (es) => es.length >= log.length - 2, 10_000);
    t.deepEqual(
      got.slice(0, log.length - 2).map((e) => e.id),
      log.slice(2).map((i) => i.seq),
    );
    t.deepEqual(got[0]!.data, { id: log[2].id, type: log[2].type, occurred_at: log[2].occurred_at, data: log[2].data }, 'the same envelope as on the stream');
  } finally {
    await s.close();
    await fresh.close();
  }
});

test.serial('every event in the log matches the data schema of its type (libs/contracts)', async (t) => {
  const validators = new Map(Object.entries(EVENT_DATA_SCHEMAS).map(([type, schema]) => [type, compile(schema)]));
  const items = (await stack.api.request('GET', '/events?after=0&limit=1000', { key: TEST_ADMIN_TOKEN })).body.items as any[];
  t.true(items.length > 0);
  const types = new Set<string>();
  for (const e of items) {
    const check = validators.get(e.type);
    t.truthy(check, `${e.type} has a schema`);
    const v = check!(e.data);
    t.true(v.ok, `${e.type}: ${v.ok ? '' : JSON.stringify(v.error)} in ${JSON.stringify(e.data)}`);
    types.add(e.type);
  }
  t.log(`checked ${items.length} events of ${types.size} types: ${[...types].sort().join(', ')}`);
});
