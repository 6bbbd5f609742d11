import test from 'ava';
import { TEST_ADMIN_TOKEN, eventually, registerSystem, reportInventory, startTestStack, syntheticSnapshots, type RegisteredSystem, type TestStack } from '@zfs-sync/testkit/stack';

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
function openStream(path: string, opts: { key?: string; lastEventId?: string } = {}) {
  const controller = new AbortController();
  const events: SseEvent[] = [];
  const comments: string[] = [];
  let status = 0;
  const headers: Record<string, string> = { accept: 'text/event-stream', authorization: `Bearer ${opts.key ?? admin}` };
  if (opts.lastEventId) headers['last-event-id'] = opts.lastEventId;
  const done = (async () => {
    const res = await fetch(stack.api.baseUrl + path, { headers, signal: controller.signal });
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
  stack = await startTestStack({ viewer_token: VIEWER, events_flap_window_seconds: 0 });
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
  t.like(e.data.data, { group_id: groupId, dataset: 'data', source_system_id: hub.id, target_system_id: a.id, from: 'in_sync', to: 'behind' });
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
  const all = (await stack.api.request('GET', '/events?limit=1000', { key: admin })).body;
  t.true(all.items.length >= 4);
  const seqs = all.items.map((i: any) => BigInt(i.seq));
  t.deepEqual([...seqs].sort((x, y) => (x < y ? -1 : 1)), seqs, 'oldest first');
  let after: string | null = null;
  const paged: string[] = [];
  for (;;) {
    const page: any = (await stack.api.request('GET', `/events?limit=2${after ? `&after=${after}` : ''}`, { key: admin })).body;
    if (page.items.length === 0) break;
    paged.push(...page.items.map((i: any) => i.id));
    after = page.next_after;
  }
  t.deepEqual(paged, all.items.map((i: any) => i.id));
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
    await eventually(async () => legacy.comments.length, (n) => n > 0, 5000);
    t.is(legacy.status(), 200);
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
