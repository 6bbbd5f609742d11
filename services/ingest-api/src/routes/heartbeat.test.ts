import test from 'ava';
import { pgQuery } from '@zfs-sync/testkit';
import { TEST_ADMIN_TOKEN, createTestEnvironment, registerSystem, startTestApi, type TestApi, type TestEnvironment } from '@zfs-sync/testkit/stack';

/**
 * The heartbeat lane (heartbeat.ts) answers a host's usual heartbeat before the router, once the
 * host's key is in the process's key cache. A client must not be able to tell it from the
 * documented route: every case below is sent to an API whose cache is warm (the lane answers) and
 * to one without a cache (auth_cache_seconds 0: the route answers), and the answers must agree.
 */
let env: TestEnvironment;
let lane: TestApi;
let routed: TestApi;

test.before(async () => {
  env = await createTestEnvironment();
  lane = await startTestApi(env.config());
  routed = await startTestApi(env.config({ auth_cache_seconds: 0 }));
});

test.after.always(async () => {
  await lane?.close();
  await routed?.close();
  await env?.teardown();
});

const json = { 'content-type': 'application/json' };
const cases: Array<{ name: string; rawBody: string | Buffer; headers?: Record<string, string> }> = [
  { name: 'a plain heartbeat', rawBody: '{"agent_version":"2.0.1"}' },
  { name: 'metadata and site', rawBody: JSON.stringify({ agent_version: '2.0.1', metadata: { zfs: '2.2.4', kernel: '6.1' }, site: 'dc-2' }) },
  { name: 'an empty object', rawBody: '{}' },
  { name: 'a UTF-8 byte order mark first', rawBody: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"agent_version":"bom"}')]) },
  { name: 'charset=utf-8', rawBody: '{"agent_version":"cs"}', headers: { 'content-type': 'application/json; charset=utf-8' } },
  { name: 'not JSON', rawBody: '{"agent_version":' },
  { name: 'a bare JSON value', rawBody: '"2.0.1"' },
  { name: 'null', rawBody: 'null' },
  { name: 'an array', rawBody: '[]' },
  { name: 'an unknown field', rawBody: '{"agent_version":"1","surprise":1}' },
  { name: 'a field of the wrong type', rawBody: '{"agent_version":42}' },
  { name: 'a NUL in metadata', rawBody: '{"metadata":{"note":"a\\u0000b"}}' },
  { name: 'a lone surrogate in a key', rawBody: '{"metadata":{"\\ud800":"x"}}' },
  { name: 'nested too deeply', rawBody: `{"metadata":{"a":${'['.repeat(40)}${']'.repeat(40)}}}` },
];

const shape = (r: { status: number; headers: Headers; body: any }) => ({
  status: r.status,
  type: r.headers.get('content-type'),
  problem: r.status >= 400 ? { type: r.body?.type, field: r.body?.field, pointer: r.body?.pointer, detail: r.body?.detail } : null,
  answer: r.status < 400 ? Object.keys(r.body ?? {}).sort() : null,
});

for (const c of cases) {
  test(`heartbeat lane and route answer alike: ${c.name}`, async (t) => {
    const [a, b] = [await registerSystem(lane), await registerSystem(lane)];
    // Warm the lane's key cache with an ordinary heartbeat first.
    t.is((await lane.request('POST', `/systems/${a.id}/heartbeat`, { key: a.api_key, body: {} })).status, 200);
    t.is((await routed.request('POST', `/systems/${b.id}/heartbeat`, { key: b.api_key, body: {} })).status, 200);
    const viaLane = await lane.request('POST', `/systems/${a.id}/heartbeat`, { key: a.api_key, rawBody: c.rawBody, headers: { ...json, ...c.headers } });
    const viaRoute = await routed.request('POST', `/systems/${b.id}/heartbeat`, { key: b.api_key, rawBody: c.rawBody, headers: { ...json, ...c.headers } });
    t.deepEqual(shape(viaLane), shape(viaRoute));
    t.regex(viaLane.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    if (viaLane.status === 200) t.like(viaLane.body, { system_id: a.id, status: 'online' });
  });
}

test('the lane stores what the route stores: agent version, metadata and site reach PostgreSQL', async (t) => {
  const a = await registerSystem(lane);
  t.is((await lane.request('POST', `/systems/${a.id}/heartbeat`, { key: a.api_key, body: {} })).status, 200);
  const res = await lane.request('POST', `/systems/${a.id}/heartbeat`, { key: a.api_key, body: { agent_version: '3.1.4', metadata: { zfs: '2.3.0' }, site: 'lab' } });
  t.is(res.status, 200);
  const got = (await lane.request('GET', `/systems/${a.id}`, { key: TEST_ADMIN_TOKEN })).body;
  t.like(got, { connectivity_status: 'online', site: 'lab', extra_metadata: { zfs: '2.3.0', agent_version: '3.1.4' } });
  t.is(got.last_seen, res.body.last_seen);
});

test("the lane keeps a host key to its own system, and a rotated-out key is refused at once", async (t) => {
  const [a, b] = [await registerSystem(lane), await registerSystem(lane)];
  for (const h of [a, b]) t.is((await lane.request('POST', `/systems/${h.id}/heartbeat`, { key: h.api_key, body: {} })).status, 200);
  // b's key is cached, but for b: a heartbeat for a with it is the route's 403.
  const cross = await lane.request('POST', `/systems/${a.id}/heartbeat`, { key: b.api_key, body: { agent_version: '1' } });
  t.is(cross.status, 403);
  t.is(cross.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  const rotated = await lane.request('POST', `/systems/${a.id}/api-key/rotate`, { key: TEST_ADMIN_TOKEN, body: {} });
  t.is(rotated.status, 200);
  t.is((await lane.request('POST', `/systems/${a.id}/heartbeat`, { key: a.api_key, body: { agent_version: '1' } })).status, 401);
  t.is((await lane.request('POST', `/systems/${a.id}/heartbeat`, { key: rotated.body.api_key, body: { agent_version: '1' } })).status, 200);
});

test('the lane counts the rate limit: over it, 429 with Retry-After and nothing recorded', async (t) => {
  const limited = await startTestApi(env.config({ rate_limit_per_minute: 3 }));
  try {
    const a = await registerSystem(lane);
    const statuses: number[] = [];
    let refused: Awaited<ReturnType<TestApi['request']>> | null = null;
    for (let i = 0; i < 5; i++) {
      const r = await limited.request('POST', `/systems/${a.id}/heartbeat`, { key: a.api_key, body: { agent_version: '1' } });
      statuses.push(r.status);
      if (r.status === 429) refused = r;
    }
    // The window may roll over between two requests; at most three in one minute get through.
    t.true(statuses.filter((s) => s === 200).length <= 4);
    t.true(statuses.includes(429), `statuses ${statuses.join(',')}`);
    t.like(refused?.body, { type: 'urn:zfs-sync:problem:rate-limited', status: 429 });
    t.regex(refused?.headers.get('retry-after') ?? '', /^\d+$/);
  } finally {
    await limited.close();
  }
});

test('a failed heartbeat writes nothing: last_seen stays empty after a refused body', async (t) => {
  const a = await registerSystem(lane);
  const other = await registerSystem(lane);
  // Warm the cache with the key of another host… and this host's own key through a bad request
  // (the key is looked up before the body is read, so it is cached now).
  t.is((await lane.request('POST', `/systems/${other.id}/heartbeat`, { key: other.api_key, body: {} })).status, 200);
  t.is((await lane.request('POST', `/systems/${a.id}/heartbeat`, { key: a.api_key, rawBody: 'nope', headers: json })).status, 400);
  t.is((await lane.request('POST', `/systems/${a.id}/heartbeat`, { key: a.api_key, rawBody: '{"agent_version":7}', headers: json })).status, 400);
  const row = (await pgQuery(env.db.url, 'select last_seen from systems where id = $1', [a.id])).rows[0];
  t.is(row.last_seen, null);
  t.is((await lane.request('GET', `/systems/${a.id}`, { key: TEST_ADMIN_TOKEN })).body.last_seen, null);
});
