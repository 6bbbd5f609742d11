import test from 'ava';
import { createHash } from 'node:crypto';
import { pgQuery } from '@zfs-sync/testkit';
import { TEST_ADMIN_TOKEN, TEST_ENROLLMENT_TOKEN, createTestEnvironment, startTestApi, type TestApi, type TestEnvironment } from '@zfs-sync/testkit/stack';

let env: TestEnvironment;
let api: TestApi;
let openApi: TestApi;
const admin = TEST_ADMIN_TOKEN;

test.before(async () => {
  env = await createTestEnvironment();
  api = await startTestApi(env.config());
  openApi = await startTestApi(env.config({ open_registration: true }));
});

test.after.always(async () => {
  await api?.close();
  await openApi?.close();
  await env?.teardown();
});

let counter = 0;
const uniqueHost = (base = 'nas') => `${base}-${process.pid}-${++counter}.example.net`;

async function register(key: string | null = admin, extra: Record<string, unknown> = {}) {
  return api.request('POST', '/systems', { key, body: { hostname: uniqueHost(), platform: 'linux', ...extra } });
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const countSystems = async () => Number((await pgQuery(env.db.url, 'select count(*)::int as n from systems')).rows[0].n);

test('registration with the admin token returns the system and a key shown once', async (t) => {
  const res = await register(admin, { ssh_hostname: '10.0.0.5', ssh_user: 'zfs-sync', ssh_port: 2222, extra_metadata: { rack: 'B2' } });
  t.is(res.status, 201);
  t.regex(res.body.api_key, /^zs_host_[A-Za-z0-9_-]{43}$/);
  t.like(res.body, { platform: 'linux', ssh_hostname: '10.0.0.5', ssh_user: 'zfs-sync', ssh_port: 2222, connectivity_status: 'unknown', extra_metadata: { rack: 'B2' }, last_seen: null });
  for (const field of ['id', 'hostname', 'created_at', 'updated_at']) t.truthy(res.body[field], field);

  // Only the SHA-256 is in the database, never the key.
  const rows = (await pgQuery(env.db.url, 'select key_hash from api_keys where system_id = $1', [res.body.id])).rows;
  t.deepEqual(rows.map((r) => r.key_hash), [sha256(res.body.api_key)]);
  const dump = JSON.stringify((await pgQuery(env.db.url, 'select * from api_keys')).rows) + JSON.stringify((await pgQuery(env.db.url, 'select * from systems')).rows);
  t.false(dump.includes(res.body.api_key));

  // Never shown again, nor its hash.
  const one = await api.request('GET', `/systems/${res.body.id}`, { key: admin });
  const all = await api.request('GET', '/systems', { key: admin });
  for (const r of [one, all]) {
    t.is(r.status, 200);
    t.false(r.text.includes(res.body.api_key));
    t.false(r.text.includes(sha256(res.body.api_key)));
    t.false(/api_key|key_hash/.test(r.text));
  }
  t.true(Array.isArray(all.body));
});

test('registration with the enrollment token works; a host key cannot register', async (t) => {
  const enrolled = await register(TEST_ENROLLMENT_TOKEN);
  t.is(enrolled.status, 201);
  const byHost = await register(enrolled.body.api_key);
  t.is(byHost.status, 403);
  t.is(byHost.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  // The enrollment token registers, nothing more.
  t.is((await api.request('GET', '/systems', { key: TEST_ENROLLMENT_TOKEN })).status, 403);
});

test.serial('anonymous registration is refused unless open registration is on', async (t) => {
  const before = await countSystems();
  const refused = await register(null);
  t.is(refused.status, 401);
  t.like(refused.body, { status: 401, title: 'Unauthorized' });
  t.is(await countSystems(), before);
  const open = await openApi.request('POST', '/systems', { body: { hostname: uniqueHost('open'), platform: 'freebsd' } });
  t.is(open.status, 201);
  // A wrong credential is never downgraded to anonymous, even where anonymous would be allowed.
  const wrong = await openApi.request('POST', '/systems', { key: 'zs_host_not-a-real-key', body: { hostname: uniqueHost(), platform: 'linux' } });
  t.is(wrong.status, 401);
});

test('duplicate host names are refused with 409, case-insensitively', async (t) => {
  const hostname = uniqueHost('dup');
  t.is((await api.request('POST', '/systems', { key: admin, body: { hostname, platform: 'linux' } })).status, 201);
  const again = await api.request('POST', '/systems', { key: admin, body: { hostname: hostname.toUpperCase(), platform: 'linux' } });
  t.is(again.status, 409);
  t.is(again.body.field, 'hostname');
});

test('heartbeat with the own key marks the system online and merges metadata', async (t) => {
  const sys = (await register(admin, { extra_metadata: { rack: 'A1' } })).body;
  const hb = await api.request('POST', `/systems/${sys.id}/heartbeat`, { key: sys.api_key, body: { agent_version: '1.2.3', metadata: { zfs: '2.2.4' } } });
  t.is(hb.status, 200);
  t.is(hb.body.system_id, sys.id);
  t.is(hb.body.status, 'online');
  t.true(Date.now() - Date.parse(hb.body.last_seen) < 60_000);
  const after = (await api.request('GET', `/systems/${sys.id}`, { key: admin })).body;
  t.is(after.connectivity_status, 'online');
  t.deepEqual(after.extra_metadata, { rack: 'A1', zfs: '2.2.4', agent_version: '1.2.3' });

  // An empty body (what a cron client sends) changes nothing but the time.
  const empty = await api.request('POST', `/systems/${sys.id}/heartbeat`, { key: sys.api_key });
  t.is(empty.status, 200);
  t.deepEqual((await api.request('GET', `/systems/${sys.id}`, { key: admin })).body.extra_metadata, after.extra_metadata);

  const health = await api.request('GET', `/systems/${sys.id}/health`, { key: admin });
  t.like(health.body, { system_id: sys.id, status: 'online', is_healthy: true, timeout_seconds: 300 });
  t.true(health.body.seconds_since_last_seen < 60);
});

test('a host key cannot act for another system (403), nor on admin routes', async (t) => {
  const a = (await register()).body;
  const b = (await register()).body;
  const cross = await api.request('POST', `/systems/${a.id}/heartbeat`, { key: b.api_key });
  t.is(cross.status, 403);
  t.is(cross.body.status, 403);
  t.is((await api.request('POST', `/systems/${a.id}/api-key/rotate`, { key: b.api_key })).status, 403);
  t.is((await api.request('GET', `/systems/${a.id}`, { key: b.api_key })).status, 403);
  t.is((await api.request('GET', '/systems', { key: b.api_key })).status, 403);
  t.is((await api.request('DELETE', `/systems/${a.id}`, { key: b.api_key })).status, 403);
  t.is((await api.request('GET', '/systems/health/all', { key: b.api_key })).status, 403);
  // Bearer form of the admin token works; no credential at all is 401.
  t.is((await api.request('GET', '/systems', { headers: { authorization: `Bearer ${admin}` } })).status, 200);
  t.is((await api.request('GET', '/systems')).status, 401);
  // The admin does not heartbeat on a host's behalf.
  t.is((await api.request('POST', `/systems/${a.id}/heartbeat`, { key: admin })).status, 403);
});

test('rotation without overlap: the new key works at once, the old one stops', async (t) => {
  const sys = (await register()).body;
  const rotated = await api.request('POST', `/systems/${sys.id}/api-key/rotate`, { key: sys.api_key });
  t.is(rotated.status, 200);
  t.is(rotated.body.system_id, sys.id);
  t.not(rotated.body.api_key, sys.api_key);
  t.is((await api.request('POST', `/systems/${sys.id}/heartbeat`, { key: rotated.body.api_key })).status, 200);
  t.is((await api.request('POST', `/systems/${sys.id}/heartbeat`, { key: sys.api_key })).status, 401);
});

test('rotation with overlap: both keys work until the old one expires', async (t) => {
  const sys = (await register()).body;
  const rotated = await api.request('POST', `/systems/${sys.id}/api-key/rotate`, { key: admin, body: { old_key_valid_seconds: 2 } });
  t.is(rotated.status, 200);
  t.is((await api.request('POST', `/systems/${sys.id}/heartbeat`, { key: sys.api_key })).status, 200);
  t.is((await api.request('POST', `/systems/${sys.id}/heartbeat`, { key: rotated.body.api_key })).status, 200);
  const expiry = (await pgQuery(env.db.url, 'select expires_at from api_keys where key_hash = $1', [sha256(sys.api_key)])).rows[0].expires_at as Date;
  t.true(expiry.getTime() - Date.now() <= 2000);
  await new Promise((r) => setTimeout(r, Math.max(0, expiry.getTime() - Date.now()) + 300));
  t.is((await api.request('POST', `/systems/${sys.id}/heartbeat`, { key: sys.api_key })).status, 401);
  t.is((await api.request('POST', `/systems/${sys.id}/heartbeat`, { key: rotated.body.api_key })).status, 200);
});

test('update and delete are admin routes; delete removes the keys', async (t) => {
  const sys = (await register()).body;
  const put = await api.request('PUT', `/systems/${sys.id}`, { key: admin, body: { ssh_port: 2200, extra_metadata: { site: 'dc2' } } });
  t.is(put.status, 200);
  t.like(put.body, { ssh_port: 2200, extra_metadata: { site: 'dc2' }, hostname: sys.hostname });
  t.is((await api.request('DELETE', `/systems/${sys.id}`, { key: admin })).status, 204);
  t.is((await api.request('GET', `/systems/${sys.id}`, { key: admin })).status, 404);
  t.is((await api.request('POST', `/systems/${sys.id}/heartbeat`, { key: sys.api_key })).status, 401);
  t.is(Number((await pgQuery(env.db.url, 'select count(*)::int as n from api_keys where system_id = $1', [sys.id])).rows[0].n), 0);
});

test('health listings use the original shapes', async (t) => {
  const online = (await register()).body;
  await api.request('POST', `/systems/${online.id}/heartbeat`, { key: online.api_key });
  const silent = (await register()).body;
  const all = await api.request('GET', '/systems/health/all', { key: admin });
  t.is(all.status, 200);
  t.is(all.body.count, all.body.systems.length);
  const byId = new Map(all.body.systems.map((s: { system_id: string }) => [s.system_id, s]));
  t.like(byId.get(online.id), { status: 'online', is_healthy: true });
  t.like(byId.get(silent.id), { status: 'offline', is_healthy: false, last_seen: null, seconds_since_last_seen: null });
  const on = await api.request('GET', '/systems/health/online', { key: admin });
  t.true(on.body.systems.every((s: { status: string }) => s.status === 'online'));
  t.true(on.body.systems.some((s: { system_id: string }) => s.system_id === online.id));
  const off = await api.request('GET', '/systems/health/offline', { key: admin });
  t.true(off.body.systems.some((s: { system_id: string }) => s.system_id === silent.id));
});

// Every bad input: the right 4xx, problem+json naming the field, and nothing stored.
const badInputs: Array<{ name: string; body?: unknown; raw?: string | Buffer; contentType?: string; status: number; field?: string }> = [
  { name: 'hostname of the wrong type', body: { hostname: 42, platform: 'linux' }, status: 400, field: 'hostname' },
  { name: 'missing hostname', body: { platform: 'linux' }, status: 400, field: 'hostname' },
  { name: 'unknown field', body: { hostname: 'ok.example', platform: 'linux', admin: true }, status: 400, field: 'admin' },
  { name: 'oversized hostname', body: { hostname: `${'a'.repeat(63)}.`.repeat(5), platform: 'linux' }, status: 400, field: 'hostname' },
  { name: 'oversized metadata', body: { hostname: 'ok.example', platform: 'linux', extra_metadata: { blob: 'x'.repeat(20_000) } }, status: 400, field: 'extra_metadata' },
  { name: 'ssh_port out of range', body: { hostname: 'ok.example', platform: 'linux', ssh_port: 70000 }, status: 400, field: 'ssh_port' },
  { name: 'ssh_port as a string', body: { hostname: 'ok.example', platform: 'linux', ssh_port: '22' }, status: 400, field: 'ssh_port' },
  ...["nas'; rm -rf /", 'nas $(id)', 'nas`id`', 'a|b', 'a&b', 'a;b', 'line\nbreak', 'with space', '"quoted"'].map((v) => ({
    name: `shell metacharacters in ssh_hostname: ${JSON.stringify(v)}`,
    body: { hostname: 'ok.example', platform: 'linux', ssh_hostname: v },
    status: 400,
    field: 'ssh_hostname',
  })),
  ...["root'", 'a b', '$USER', 'x;y', '`id`', '-oProxyCommand'].map((v) => ({
    name: `shell metacharacters in ssh_user: ${JSON.stringify(v)}`,
    body: { hostname: 'ok.example', platform: 'linux', ssh_user: v },
    status: 400,
    field: 'ssh_user',
  })),
  { name: 'hostname with a space', body: { hostname: 'my nas', platform: 'linux' }, status: 400, field: 'hostname' },
  { name: 'body is an array', body: [{ hostname: 'ok.example', platform: 'linux' }], status: 400 },
  { name: 'invalid JSON', raw: '{"hostname": "x",', contentType: 'application/json', status: 400 },
  { name: 'wrong content type', raw: 'hostname=x&platform=linux', contentType: 'application/x-www-form-urlencoded', status: 415 },
  { name: 'huge body', raw: JSON.stringify({ hostname: 'ok.example', platform: 'linux', extra_metadata: { blob: 'x'.repeat(2_000_000) } }), contentType: 'application/json', status: 413 },
];

for (const bad of badInputs) {
  test.serial(`bad input → ${bad.status}: ${bad.name}`, async (t) => {
    const before = await countSystems();
    const res = bad.raw !== undefined
      ? await api.request('POST', '/systems', { key: admin, rawBody: bad.raw, headers: { 'content-type': bad.contentType! } })
      : await api.request('POST', '/systems', { key: admin, body: bad.body });
    t.is(res.status, bad.status, res.text);
    t.is(res.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    t.like(res.body, { status: bad.status });
    t.truthy(res.body.type);
    t.truthy(res.body.title);
    t.is(typeof res.body.detail, 'string');
    if (bad.field) {
      t.is(res.body.field, bad.field);
      t.true(res.body.detail.startsWith(bad.field), res.body.detail);
    }
    t.false(/at .*\.ts:\d+|select |insert /i.test(res.text), 'no stack traces or SQL');
    t.is(await countSystems(), before);
  });
}

test('bad input on update and heartbeat is refused the same way and changes nothing', async (t) => {
  const sys = (await register()).body;
  const put = await api.request('PUT', `/systems/${sys.id}`, { key: admin, body: { ssh_user: 'x; reboot' } });
  t.is(put.status, 400);
  t.is(put.body.field, 'ssh_user');
  const hb = await api.request('POST', `/systems/${sys.id}/heartbeat`, { key: sys.api_key, body: { agent_version: '1.0', surprise: 1 } });
  t.is(hb.status, 400);
  t.is(hb.body.field, 'surprise');
  const after = (await api.request('GET', `/systems/${sys.id}`, { key: admin })).body;
  t.is(after.ssh_user, null);
  t.is(after.last_seen, null);
  t.is((await api.request('GET', '/systems/not-a-uuid', { key: admin })).status, 400);
});

test('unknown routes answer 404 problem+json', async (t) => {
  const res = await api.request('GET', '/nothing/here', { key: admin });
  t.is(res.status, 404);
  t.is(res.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  t.like(res.body, { status: 404, title: 'Not Found' });
});

test('public health routes', async (t) => {
  const h = await api.request('GET', '/health');
  t.like(h.body, { status: 'healthy', service: 'zfs-sync' });
  t.truthy(h.body.version);
  t.deepEqual((await api.request('GET', '/health/live')).body, { status: 'alive' });
  const ready = await api.request('GET', '/health/ready');
  t.is(ready.status, 200);
  t.is(ready.body.status, 'ready');
});
