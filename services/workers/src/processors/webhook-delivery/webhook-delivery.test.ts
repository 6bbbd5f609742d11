import test from 'ava';
import { Webhook } from 'standardwebhooks';
import { EVENT_DATA_SCHEMAS, compile } from '@zfs-sync/contracts';
import { eventually, startTestStack, TEST_ADMIN_TOKEN, type TestStack } from '@zfs-sync/testkit/stack';
import { pgQuery } from '@zfs-sync/testkit';
import { TestReceiver, xaddEvent } from './test-receiver.js';

// The whole service (API + every processor) with a test-shortened retry schedule, and the
// loopback receiver allowed.
const VIEWER = 'zs_viewer_webhooks-test-viewer-token-0000';
let stack: TestStack;
let rx: TestReceiver;

test.before(async () => {
  rx = await TestReceiver.start();
  stack = await startTestStack({ viewer_token: VIEWER, webhook_allowed_cidrs: ['127.0.0.1/32'], webhook_retry_schedule: ['300ms', '300ms', '300ms'], webhook_timeout_ms: 3000, webhook_endpoint_concurrency: 2 });
});
test.after.always(async () => {
  await stack?.stop();
  await rx?.close();
});

const admin = { key: TEST_ADMIN_TOKEN };
async function createEndpoint(path: string, body: Record<string, unknown> = {}): Promise<{ id: string; secret: string }> {
  const res = await stack.api.request('POST', '/webhooks', { ...admin, body: { url: rx.url(path), event_types: ['*'], ...body } });
  if (res.status !== 201) throw new Error(`create webhook: ${res.status} ${res.text}`);
  return res.body;
}
const emit = (type: Parameters<typeof xaddEvent>[2], data: Record<string, unknown> = {}) => xaddEvent(stack.env.redisUrl, stack.env.prefix, type, data);
const deliveries = async (id: string) => (await stack.api.request('GET', `/webhooks/${id}/deliveries`, admin)).body as any[];
const settled = (ds: any[]) => ds.length > 0 && ds.every((d) => d.status === 'succeeded' || d.status === 'dead');

test.serial('the admin API: secret once (no-store), list/get without it, patch, delete', async (t) => {
  const created = await stack.api.request('POST', '/webhooks', { ...admin, body: { url: rx.url('/crud'), description: 'ops', event_types: ['system.offline', 'link.state_changed'] } });
  t.is(created.status, 201);
  t.regex(created.body.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  t.is(created.headers.get('cache-control'), 'no-store');
  t.deepEqual(created.body.event_types, ['system.offline', 'link.state_changed']);
  const got = await stack.api.request('GET', `/webhooks/${created.body.id}`, admin);
  t.is(got.status, 200);
  t.false('secret' in got.body);
  t.false(JSON.stringify((await stack.api.request('GET', '/webhooks', admin)).body).includes(created.body.secret));
  const patched = await stack.api.request('PATCH', `/webhooks/${created.body.id}`, { ...admin, body: { enabled: false, event_types: ['*'] } });
  t.is(patched.status, 200);
  t.false(patched.body.enabled);
  t.deepEqual(patched.body.event_types, ['*']);
  t.is((await stack.api.request('PATCH', `/webhooks/${created.body.id}`, { ...admin, body: { url: 'http://10.0.0.1/' } })).body.field, 'url');
  t.is((await stack.api.request('POST', '/webhooks', { ...admin, body: { url: rx.url('/x'), event_types: ['nope'] } })).status, 400);
  t.is((await stack.api.request('POST', '/webhooks', { key: null, body: { url: rx.url('/x'), event_types: ['*'] } })).status, 401);
  // The viewer token reads (never a secret) and changes nothing.
  t.is((await stack.api.request('GET', `/webhooks/${created.body.id}`, { key: VIEWER })).status, 200);
  t.is((await stack.api.request('GET', `/webhooks/${created.body.id}/deliveries`, { key: VIEWER })).status, 200);
  t.is((await stack.api.request('PATCH', `/webhooks/${created.body.id}`, { key: VIEWER, body: { enabled: true } })).status, 403);
  t.is((await stack.api.request('POST', `/webhooks/${created.body.id}/rotate-secret`, { key: VIEWER })).status, 403);
  t.is((await stack.api.request('DELETE', `/webhooks/${created.body.id}`, admin)).status, 204);
  // Every change is audited, with who did it and what changed — never the secret.
  const audit = (await pgQuery(stack.env.db.url, `select action, actor_kind, changes from audit_log where resource_type = 'webhook' and resource_id = $1 order by seq`, [created.body.id])).rows;
  t.deepEqual(audit.map((a: any) => [a.action, a.actor_kind]), [['webhook.created', 'admin'], ['webhook.updated', 'admin'], ['webhook.deleted', 'admin']]);
  t.deepEqual(audit[1].changes, { event_types: { from: ['system.offline', 'link.state_changed'], to: ['*'] }, enabled: { from: true, to: false } });
  t.false(JSON.stringify(audit).includes(created.body.secret));
  t.is((await stack.api.request('GET', `/webhooks/${created.body.id}`, admin)).status, 404);
});

test.serial('a delivered event verifies with the standardwebhooks library, and fails for one flipped body byte', async (t) => {
  const ep = await createEndpoint('/verify');
  const event = await emit('system.offline', { system_id: '00000000-0000-4000-8000-000000000001', hostname: 'a.example' });
  const [req] = await eventually(async () => rx.at('/verify'), (r) => r.length > 0);
  t.truthy(req);
  t.is(req!.headers['webhook-id'], event.id);
  t.deepEqual(JSON.parse(req!.body), event);
  const wh = new Webhook(ep.secret);
  t.notThrows(() => wh.verify(req!.body, req!.headers));
  const flipped = Buffer.from(req!.body);
  flipped[10] = flipped[10]! ^ 0x01;
  t.throws(() => wh.verify(flipped.toString('utf8'), req!.headers));
  const log = await eventually(() => deliveries(ep.id), settled);
  t.is(log[0].status, 'succeeded');
  t.is(log[0].event_id, event.id);
  t.is(log[0].attempts[0].status_code, 200);
  t.true(typeof log[0].attempts[0].duration_ms === 'number');
});

test.serial('a 500 is retried on the schedule with the same webhook-id', async (t) => {
  const ep = await createEndpoint('/flaky');
  let n = 0;
  rx.on('/flaky', (_r, res) => void res.writeHead(++n <= 2 ? 500 : 200).end(n <= 2 ? 'bo\u0000om' + 'x'.repeat(5000) : 'ok'));
  const event = await emit('sync.failed', {});
  const log = await eventually(() => deliveries(ep.id), settled);
  const reqs = rx.at('/flaky');
  t.is(reqs.length, 3);
  t.deepEqual(reqs.map((r) => r.headers['webhook-id']), [event.id, event.id, event.id]);
  t.is(log[0].status, 'succeeded');
  t.deepEqual(log[0].attempts.map((a: any) => a.status_code), [500, 500, 200]);
  t.is(log[0].attempts[0].error, 'HTTP 500');
  // At most 1 KiB of the answer is read and kept (a NUL, which PostgreSQL text refuses, dropped).
  t.is(log[0].attempts[0].response_body, 'boom' + 'x'.repeat(1023 - 4));
  // Each retry waited its scheduled delay.
  for (const [i, a] of log[0].attempts.slice(0, 2).entries()) {
    t.true(Date.parse(a.next_attempt_at) - Date.parse(a.started_at) >= 300);
    t.true(reqs[i + 1]!.at - reqs[i]!.at >= 250);
  }
});

test.serial('a delivery is given up (dead) after the last scheduled retry', async (t) => {
  const ep = await createEndpoint('/down');
  rx.on('/down', (_r, res) => void res.writeHead(500).end());
  await emit('sync.failed', {});
  const log = await eventually(() => deliveries(ep.id), settled);
  t.is(log[0].status, 'dead');
  t.is(log[0].attempts.length, 4);
  t.is(rx.at('/down').length, 4);
});

test.serial('410 disables the endpoint, counts it in the metric, and it receives nothing more', async (t) => {
  const ep = await createEndpoint('/gone');
  rx.on('/gone', (_r, res) => void res.writeHead(410).end());
  await emit('system.online', {});
  const e = await eventually(async () => (await stack.api.request('GET', `/webhooks/${ep.id}`, admin)).body, (b) => b.enabled === false);
  t.false(e.enabled);
  t.regex(e.disabled_reason, /410/);
  t.regex(await stack.workers.registry.metrics(), /zfs_sync_webhook_endpoints_disabled_total\{[^}]*\} 1\n/);
  const log = await deliveries(ep.id);
  t.is(log[0].status, 'dead');
  await emit('system.online', {});
  await emit('system.online', {});
  // Another endpoint receiving the same events shows they were fanned out meanwhile.
  const witness = await createEndpoint('/witness-410');
  await emit('system.online', {});
  await eventually(async () => rx.at('/witness-410'), (r) => r.length > 0);
  t.is(rx.at('/gone').length, 1);
  t.is((await deliveries(ep.id)).length, 1);
  await stack.api.request('DELETE', `/webhooks/${witness.id}`, admin);
});

test.serial('a 302 is a failure and its Location is never requested', async (t) => {
  const ep = await createEndpoint('/redirect');
  rx.on('/redirect', (_r, res) => void res.writeHead(302, { location: rx.url('/target') }).end());
  await emit('conflict.opened', {});
  const log = await eventually(() => deliveries(ep.id), settled);
  t.is(log[0].status, 'dead');
  t.true(log[0].attempts.every((a: any) => a.status_code === 302));
  t.is(rx.at('/redirect').length, 4);
  t.is(rx.at('/target').length, 0);
});

test.serial('Retry-After on 503 and 429 is honoured', async (t) => {
  const ep = await createEndpoint('/busy');
  let n = 0;
  rx.on('/busy', (_r, res) => {
    n++;
    if (n === 1) return void res.writeHead(503, { 'retry-after': '2' }).end();
    if (n === 2) return void res.writeHead(429, { 'retry-after': '1' }).end();
    res.writeHead(204).end();
  });
  await emit('link.lag_exceeded', {});
  const log = await eventually(() => deliveries(ep.id), settled, 20_000);
  t.is(log[0].status, 'succeeded');
  const reqs = rx.at('/busy');
  t.is(reqs.length, 3);
  // Not the 300 ms of the schedule: the receiver's 2 s, then its 1 s.
  t.true(reqs[1]!.at - reqs[0]!.at >= 1900, `waited ${reqs[1]!.at - reqs[0]!.at} ms`);
  t.true(reqs[2]!.at - reqs[1]!.at >= 900, `waited ${reqs[2]!.at - reqs[1]!.at} ms`);
  t.is(Date.parse(log[0].attempts[0].next_attempt_at) - Date.parse(log[0].attempts[0].started_at) >= 2000, true);
});

test.serial('a slow endpoint does not delay a healthy one', async (t) => {
  const slow = await createEndpoint('/slow');
  const healthy = await createEndpoint('/healthy');
  const held: Array<() => void> = [];
  rx.on('/slow', (_r, res) => void held.push(() => res.writeHead(200).end()));
  const events = [];
  for (let i = 0; i < 8; i++) events.push(await emit('inventory.applied', { i }));
  // Every event reaches the healthy endpoint while the slow one still holds its first requests.
  const got = await eventually(async () => rx.at('/healthy'), (r) => r.length >= 8, 20_000);
  t.is(got.length, 8);
  t.true(held.length >= 1 && held.length <= 2, `slow endpoint has ${held.length} requests in flight (its per-endpoint limit is 2)`);
  // Released, the slow endpoint gets every event too.
  const release = setInterval(() => held.splice(0).forEach((f) => f()), 50);
  try {
    const log = await eventually(() => deliveries(slow.id), (ds) => ds.length === 8 && ds.every((d) => d.status === 'succeeded'), 20_000);
    t.is(log.length, 8);
  } finally {
    clearInterval(release);
  }
  t.is((await deliveries(healthy.id)).length, 8);
});

test.serial('redelivery sends the event again with the same webhook-id', async (t) => {
  const ep = await createEndpoint('/again');
  const event = await emit('sync.succeeded', {});
  const [d] = await eventually(() => deliveries(ep.id), settled);
  const res = await stack.api.request('POST', `/webhooks/${ep.id}/deliveries/${d.id}/redeliver`, admin);
  t.is(res.status, 202);
  const reqs = await eventually(async () => rx.at('/again'), (r) => r.length >= 2);
  t.deepEqual(reqs.map((r) => r.headers['webhook-id']), [event.id, event.id]);
  const log = await eventually(() => deliveries(ep.id), (ds) => ds[0].attempts.length === 2 && ds[0].status === 'succeeded');
  t.deepEqual(log[0].attempts.map((a: any) => a.attempt), [1, 2]);
  t.is((await stack.api.request('POST', `/webhooks/${ep.id}/deliveries/00000000-0000-4000-8000-000000000000/redeliver`, admin)).status, 404);
});

test.serial('the test event goes to that endpoint only; after a rotation both secrets sign until the grace ends', async (t) => {
  const a = await createEndpoint('/test-a');
  await createEndpoint('/test-b');
  const sent = await stack.api.request('POST', `/webhooks/${a.id}/test`, admin);
  t.is(sent.status, 202);
  const [req] = await eventually(async () => rx.at('/test-a'), (r) => r.length > 0);
  t.is(JSON.parse(req!.body).type, 'webhook.test');
  t.true(compile(EVENT_DATA_SCHEMAS['webhook.test'])(JSON.parse(req!.body).data).ok, 'matches its documented schema');
  // It is in the event log too (the outbox), under the id the receiver saw.
  t.is((await pgQuery(stack.env.db.url, 'select type from events where id = $1', [req!.headers['webhook-id']])).rows[0]?.type, 'webhook.test');
  t.notThrows(() => new Webhook(a.secret).verify(req!.body, req!.headers));
  const rotated = await stack.api.request('POST', `/webhooks/${a.id}/rotate-secret`, { ...admin, body: { grace_seconds: 3600 } });
  t.is(rotated.status, 200);
  t.is(rotated.headers.get('cache-control'), 'no-store');
  t.not(rotated.body.secret, a.secret);
  await stack.api.request('POST', `/webhooks/${a.id}/test`, admin);
  const reqs = await eventually(async () => rx.at('/test-a'), (r) => r.length >= 2);
  const second = reqs[1]!;
  t.is(second.headers['webhook-signature']!.split(' ').length, 2);
  t.notThrows(() => new Webhook(rotated.body.secret).verify(second.body, second.headers));
  t.notThrows(() => new Webhook(a.secret).verify(second.body, second.headers));
  // No grace: only the new secret signs.
  const again = await stack.api.request('POST', `/webhooks/${a.id}/rotate-secret`, { ...admin, body: { grace_seconds: 0 } });
  await stack.api.request('POST', `/webhooks/${a.id}/test`, admin);
  const third = (await eventually(async () => rx.at('/test-a'), (r) => r.length >= 3))[2]!;
  t.is(third.headers['webhook-signature']!.split(' ').length, 1);
  t.notThrows(() => new Webhook(again.body.secret).verify(third.body, third.headers));
  t.throws(() => new Webhook(rotated.body.secret).verify(third.body, third.headers));
  t.is(rx.at('/test-b').length, 0);
});

test.serial('event type and sync group filters', async (t) => {
  const group = (await stack.api.request('POST', '/sync-groups', { ...admin, body: { name: 'webhook-filter' } })).body.id as string;
  const unknown = await stack.api.request('POST', '/webhooks', { ...admin, body: { url: rx.url('/x'), event_types: ['*'], sync_group_ids: ['11111111-1111-4111-8111-111111111111'] } });
  t.is(unknown.status, 422);
  t.is(unknown.body.field, 'sync_group_ids');
  await createEndpoint('/only-offline', { event_types: ['system.offline'] });
  await createEndpoint('/only-group', { sync_group_ids: [group] });
  await emit('system.online', {});
  await emit('link.state_changed', { group_id: '22222222-2222-4222-8222-222222222222' });
  const mine = await emit('link.state_changed', { group_id: group });
  const off = await emit('system.offline', {});
  await eventually(async () => [...rx.at('/only-offline'), ...rx.at('/only-group')], (r) => r.length >= 2);
  await new Promise((r) => setTimeout(r, 500));
  t.deepEqual(rx.at('/only-offline').map((r) => r.headers['webhook-id']), [off.id]);
  t.deepEqual(rx.at('/only-group').map((r) => r.headers['webhook-id']), [mine.id]);
});
