/**
 * Issue 8, rows 10 and 11 (abuse): the credential is checked before any body is read, and
 * requests are rate limited per credential and, for failed authentications, per source address,
 * in Redis (shared by every API replica), answered 429 with Retry-After.
 */
import test from 'ava';
import net from 'node:net';
import { TEST_ADMIN_TOKEN, createTestEnvironment, registerSystem, startTestApi, type RegisteredSystem, type TestApi, type TestEnvironment } from '@zfs-sync/testkit/stack';

let env: TestEnvironment;
let api: TestApi;
/** Two replicas with small limits: they share the counts through Redis. */
let limitedA: TestApi;
let limitedB: TestApi;
let host: RegisteredSystem;
const LIMITS = { rate_limit_per_minute: 6, rate_limit_admin_per_minute: 1000, rate_limit_failed_auth_per_minute: 5 };
const PROBLEM = 'application/problem+json; charset=utf-8';

test.before(async () => {
  env = await createTestEnvironment();
  api = await startTestApi(env.config());
  host = await registerSystem(api);
  limitedA = await startTestApi(env.config(LIMITS));
  limitedB = await startTestApi(env.config(LIMITS));
});

test.after.always(async () => {
  await api?.close();
  await limitedA?.close();
  await limitedB?.close();
  await env?.teardown();
});

/**
 * Send the head of a request announcing a large body, and only its first bytes; resolve with the
 * status line the server answers (or 'no answer' if it waits for the body).
 */
function headOnly(path: string, headers: Record<string, string>, announcedBytes: number, waitMs = 4000): Promise<string> {
  const url = new URL(api.baseUrl + path);
  return new Promise((resolve) => {
    const socket = net.connect(Number(url.port), url.hostname);
    let answer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('no answer');
    }, waitMs);
    socket.on('data', (d) => {
      answer += d.toString('latin1');
      if (answer.includes('\r\n')) {
        clearTimeout(timer);
        socket.destroy();
        resolve(answer.split('\r\n')[0]!);
      }
    });
    socket.on('error', () => {});
    const head = [`POST ${url.pathname} HTTP/1.1`, `Host: ${url.host}`, `Content-Length: ${announcedBytes}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
    socket.write(head);
    socket.write('[' + '{"a":1},'.repeat(1000));
  });
}

test('row 10: an anonymous 64 MiB body is answered 401 before it is read', async (t) => {
  const size = 64 * 1024 * 1024;
  for (const path of ['/snapshots/batch', `/systems/${host.id}/inventory`, `/systems/${host.id}/heartbeat`, '/snapshots', '/systems']) {
    const status = await headOnly(path, { 'Content-Type': 'application/json' }, size);
    t.regex(status, /^HTTP\/1\.1 401 /, `${path}: ${status}`);
  }
  // A wrong key likewise.
  t.regex(await headOnly('/snapshots/batch', { 'Content-Type': 'application/json', 'X-API-Key': 'zs_host_wrong' }, size), /^HTTP\/1\.1 401 /);
});

/** The limits count per minute (Redis clock, minute-aligned windows): start a check well inside one. */
async function freshWindow(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 15_000) await new Promise((r) => setTimeout(r, left + 200));
}

test.serial('row 11: failed authentications are limited per source address: 429 with Retry-After; valid keys still work', async (t) => {
  await freshWindow();
  const statuses: number[] = [];
  let limited: Awaited<ReturnType<TestApi['request']>> | null = null;
  for (let i = 0; i < 12; i++) {
    const res = await (i % 2 ? limitedA : limitedB).request('GET', `/systems/${host.id}`, { key: `zs_host_wrong-${i}` });
    statuses.push(res.status);
    if (res.status === 429) limited = res;
  }
  t.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
  t.deepEqual(statuses.slice(5), [429, 429, 429, 429, 429, 429, 429], 'counted across both replicas');
  t.truthy(limited);
  t.is(limited!.headers.get('content-type'), PROBLEM);
  const retryAfter = Number(limited!.headers.get('retry-after'));
  t.true(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
  t.is(limited!.body.status, 429);
  // A valid credential from the same address is not affected.
  t.is((await limitedA.request('GET', `/systems/${host.id}`, { key: TEST_ADMIN_TOKEN })).status, 200);
});

test.serial('row 11: requests are limited per credential across replicas (heartbeats in the same Redis call); others unaffected', async (t) => {
  const a = await registerSystem(api);
  const b = await registerSystem(api);
  await freshWindow();
  const statuses: number[] = [];
  let limited: Awaited<ReturnType<TestApi['request']>> | null = null;
  for (let i = 0; i < 6; i++) statuses.push((await (i % 2 ? limitedA : limitedB).request('POST', `/systems/${a.id}/heartbeat`, { key: a.api_key })).status);
  for (const replica of [limitedA, limitedB]) {
    const hb = await replica.request('POST', `/systems/${a.id}/heartbeat`, { key: a.api_key });
    statuses.push(hb.status);
    limited = hb;
    // Every route counts against the same credential's limit.
    statuses.push((await replica.request('GET', `/systems/${a.id}`, { key: a.api_key })).status);
    statuses.push((await replica.request('POST', '/snapshots/batch', { key: a.api_key, body: [] })).status);
  }
  t.deepEqual(statuses, [200, 200, 200, 200, 200, 200, 429, 429, 429, 429, 429, 429]);
  t.is(limited!.headers.get('content-type'), PROBLEM);
  t.true(Number(limited!.headers.get('retry-after')) >= 1);
  // Another host's key has its own budget.
  t.is((await limitedA.request('POST', `/systems/${b.id}/heartbeat`, { key: b.api_key })).status, 200);
});

test('a body announced larger than the route accepts is answered 413 at once, not read', async (t) => {
  const sys = await registerSystem(api);
  for (const path of [`/systems/${sys.id}/heartbeat`, `/systems/${sys.id}/inventory`]) {
    const status = await headOnly(path, { 'Content-Type': 'application/json', 'X-API-Key': sys.api_key }, 2 * 1024 * 1024 * 1024);
    t.regex(status, /^HTTP\/1\.1 413 /, `${path}: ${status}`);
  }
});

test.serial('row 11: behind a trusted proxy, failed authentications count against the forwarded client address', async (t) => {
  const proxied = await startTestApi(env.config({ ...LIMITS, rate_limit_failed_auth_per_minute: 2, trust_proxy: 'loopback' }));
  try {
    await freshWindow();
    const attempt = (client: string) => proxied.request('GET', `/systems/${host.id}`, { key: 'zs_host_wrong', headers: { 'x-forwarded-for': client } });
    t.deepEqual([(await attempt('203.0.113.7')).status, (await attempt('203.0.113.7')).status, (await attempt('203.0.113.7')).status], [401, 401, 429]);
    t.is((await attempt('198.51.100.9')).status, 401, 'another client behind the same proxy has its own count');
  } finally {
    await proxied.close();
  }
});
