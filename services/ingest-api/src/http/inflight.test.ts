import test from 'ava';
import net from 'node:net';
import { TEST_ADMIN_TOKEN, createTestEnvironment, startTestApi, type TestApi, type TestEnvironment } from '@zfs-sync/testkit/stack';

/**
 * Issue 9: the bytes of request bodies one API process holds are bounded; beyond the bound a
 * report waits for room, then gets 503 with Retry-After — never an out-of-memory.
 */
let env: TestEnvironment;
let api: TestApi;

test.before(async () => {
  env = await createTestEnvironment();
  api = await startTestApi(env.config({ inflight_body_limit_bytes: 1_048_576 }));
});
test.after.always(async () => {
  await api?.close();
  await env?.teardown();
});

test('a report beyond the in-flight bound waits, then is refused with 503 and Retry-After; room again once the first is done', async (t) => {
  t.timeout(60_000);
  const sys = (await api.request('POST', '/systems', { key: TEST_ADMIN_TOKEN, body: { hostname: 'inflight.test', platform: 'linux' } })).body as { id: string; api_key: string };
  const url = new URL(api.baseUrl);
  // A slow client: announces 900 KB and sends only part of it, holding its share of the bound.
  const slow = net.connect({ host: url.hostname, port: Number(url.port) });
  await new Promise((r) => slow.once('connect', r));
  slow.write(`POST ${url.pathname}/systems/${sys.id}/inventory HTTP/1.1\r\nHost: x\r\nX-API-Key: ${sys.api_key}\r\nContent-Type: application/json\r\nContent-Length: 900000\r\n\r\n{"report_id":"slow","generation":1,"complete":true,"datasets":[`);
  await new Promise((r) => setTimeout(r, 200));

  const body = JSON.stringify({ report_id: 'second', generation: 2, complete: true, datasets: [{ pool: 'tank', dataset: 'x', snapshots: [], padding: undefined }] }).padEnd(500_000, ' ');
  const started = Date.now();
  const refused = await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, rawBody: body, headers: { 'content-type': 'application/json' } });
  t.is(refused.status, 503, refused.text);
  t.is(refused.headers.get('retry-after'), '1');
  t.is(refused.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  t.true(Date.now() - started >= 4000, 'it waited for room first');

  // The slow client goes away: its share is released and the next report is accepted at once.
  slow.destroy();
  await new Promise((r) => setTimeout(r, 200));
  const accepted = await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, rawBody: body, headers: { 'content-type': 'application/json' } });
  t.is(accepted.status, 202, accepted.text);
});
