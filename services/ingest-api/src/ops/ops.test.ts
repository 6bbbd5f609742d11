import test from 'ava';
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { QUEUE_NAMES } from '@zfs-sync/contracts';
import { createLogger, SERVICE_VERSION } from '@zfs-sync/logger';
import { METRIC_CATALOG } from '@zfs-sync/runtime';
import { createApp } from '../app.js';
import { buildApiDeps } from '../build-deps.js';
import { errorHandler } from '../http/problem.js';
import { TEST_ADMIN_TOKEN, createTestEnvironment, inventory, registerSystem, startTestApi, syntheticSnapshots, type TestApi, type TestEnvironment } from '@zfs-sync/testkit/stack';
import { requestContext } from './request-context.js';

let env: TestEnvironment;
let api: TestApi;
let root: string;

test.before(async () => {
  env = await createTestEnvironment();
  api = await startTestApi(env.config());
  root = api.baseUrl.replace(/\/api\/v1$/, '');
});
test.after.always(async () => {
  await api?.close();
  await env?.teardown();
});

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Prometheus text format → samples with their labels. */
function samples(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(l)!;
      const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]));
      return { name: m[1]!, labels, value: Number(m[3]) };
    });
}

test('GET /metrics on the API: request counts by route template, accepted reports, build info; every name zfs_sync_ and every label set from the catalog', async (t) => {
  const sys = await registerSystem(api);
  t.is((await api.request('GET', `/systems/${sys.id}`, { key: sys.api_key })).status, 200);
  const posted = await api.request('POST', `/systems/${sys.id}/inventory`, { key: sys.api_key, body: inventory('m-1', 1, [{ pool: 'tank', dataset: 'a', snapshots: syntheticSnapshots(3) }]) });
  t.is(posted.status, 202);
  await api.request('GET', '/no/such/route');

  const res = await fetch(`${root}/metrics`);
  t.is(res.status, 200);
  t.regex(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const all = samples(await res.text());
  const find = (name: string, labels: Record<string, string>) => all.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

  // The route label is the template, never the id (bounded cardinality).
  t.is(find('zfs_sync_http_requests_total', { method: 'GET', route: '/api/v1/systems/:id', status: '200' })?.value, 1);
  t.truthy(find('zfs_sync_http_request_duration_seconds_count', { method: 'POST', route: '/api/v1/systems/:id/inventory', status: '202' }));
  t.truthy(find('zfs_sync_http_requests_total', { route: 'unmatched', status: '404' }));
  t.false(all.some((s) => (s.labels.route ?? '').includes(sys.id)), 'no series carries a system id');
  t.is(find('zfs_sync_reports_accepted_total', { mode: 'inventory' })?.value, 1);
  t.is(find('zfs_sync_build_info', { version: SERVICE_VERSION, service: 'ingest-api' })?.value, 1);

  const catalog = new Map(METRIC_CATALOG.map((m) => [m.name, m]));
  for (const s of all) {
    t.true(s.name.startsWith('zfs_sync_'), `${s.name} is prefixed`);
    t.is(s.labels.service, 'ingest-api');
    const family = catalog.get(s.name.replace(/_(bucket|sum|count)$/, '') as never) as (typeof METRIC_CATALOG)[number] | undefined;
    if (!family) continue; // Node.js process metrics (zfs_sync_process_*, zfs_sync_nodejs_*)
    t.not(family.process, 'workers', `${s.name} belongs to the workers`);
    t.not(family.process, 'exporter', `${s.name} belongs to the exporter`);
    const allowed = new Set([...Object.keys(family.labels), 'service', 'le']);
    for (const label of Object.keys(s.labels)) t.true(allowed.has(label), `${s.name} has undocumented label ${label}`);
  }
});

test('/metrics with a metrics token: 401 without it, 200 with Authorization: Bearer', async (t) => {
  const guarded = await startTestApi(env.config({ metrics_token: 'a-long-random-metrics-token-for-tests' }));
  try {
    const base = guarded.baseUrl.replace(/\/api\/v1$/, '');
    const none = await fetch(`${base}/metrics`);
    t.is(none.status, 401);
    t.is(none.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    t.is((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
    const ok = await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer a-long-random-metrics-token-for-tests' } });
    t.is(ok.status, 200);
    t.regex(await ok.text(), /zfs_sync_build_info/);
  } finally {
    await guarded.close();
  }
});

test('Bull Board at /admin/queues: 401 with a Basic challenge without the admin token, the board with it', async (t) => {
  const none = await fetch(`${root}/admin/queues`);
  t.is(none.status, 401);
  t.regex(none.headers.get('www-authenticate') ?? '', /^Basic realm="zfs-sync admin"/);
  t.is((await fetch(`${root}/admin/queues`, { headers: { authorization: basic('admin', 'not-the-token') } })).status, 401);
  const host = await registerSystem(api);
  t.is((await fetch(`${root}/admin/queues`, { headers: { 'x-api-key': host.api_key } })).status, 401, 'a host key is not the admin credential');
  t.is((await fetch(`${root}/admin/queues/api/queues`)).status, 401, 'the board API is guarded too');

  const page = await fetch(`${root}/admin/queues`, { headers: { authorization: basic('anyone', TEST_ADMIN_TOKEN) } });
  t.is(page.status, 200);
  t.regex(page.headers.get('content-type') ?? '', /text\/html/);
  t.regex(await page.text(), /zfs-sync queues|<div id="root"/);

  const queues = await fetch(`${root}/admin/queues/api/queues`, { headers: { authorization: basic('admin', TEST_ADMIN_TOKEN) } });
  t.is(queues.status, 200);
  const board = (await queues.json()) as { queues: Array<{ name: string; readOnlyMode: boolean }> };
  t.deepEqual(board.queues.map((q) => q.name).sort(), [...QUEUE_NAMES].sort(), 'every queue of the job catalog');
  t.true(board.queues.every((q) => q.readOnlyMode), 'read-only unless configured');
});

test('Swagger UI at /docs loads only local assets and points at /api/v1/openapi.json', async (t) => {
  const page = await fetch(`${root}/docs`);
  t.is(page.status, 200);
  t.regex(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  const html = await page.text();
  const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
  t.true(refs.length >= 4);
  for (const ref of refs) {
    t.true(ref.startsWith('/docs/'), `${ref} is served locally`);
    const asset = await fetch(root + ref);
    t.is(asset.status, 200, ref);
    t.true((await asset.arrayBuffer()).byteLength > 0, ref);
  }
  t.false(/https?:\/\//.test(html), 'no external URL in the page');
  t.regex(await (await fetch(`${root}/docs/init.js`)).text(), /"\/api\/v1\/openapi\.json"/);
  t.is((await fetch(`${root}/docs/assets/no-such-file.js`)).status, 404);
});

test('GET /api/v1/openapi.json is an OpenAPI 3.1 document with the running version, public', async (t) => {
  const res = await api.request('GET', '/openapi.json');
  t.is(res.status, 200);
  t.is(res.body.openapi, '3.1.0');
  t.is(res.body.info.version, SERVICE_VERSION);
  t.truthy(res.body.paths['/systems/{id}/inventory'].post.requestBody.content['text/tab-separated-values']);
});

test('every log line of a request carries its request id, including the access log', async (t) => {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  const config = env.config({ log_level: 'info' });
  const deps = await buildApiDeps(config, createLogger('ingest-api', config, {}, sink));
  const server: Server = createApp(deps).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
    // A large body arrives in many chunks: the request's context must survive the body parser.
    const res = await fetch(`${base}/systems`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': TEST_ADMIN_TOKEN, 'x-request-id': 'req-abc.123' },
      body: JSON.stringify({ hostname: 'ctx.example.com', platform: 'linux', extra_metadata: { note: 'x'.repeat(12_000) } }),
    });
    t.is(res.status, 201);
    t.is(res.headers.get('x-request-id'), 'req-abc.123');
    const mine = lines.filter((l) => l.req_id === 'req-abc.123');
    t.true(mine.some((l) => l.msg === 'system registered'), 'the route’s own log line');
    t.true(mine.some((l) => l.msg === 'request completed'), 'the access log line');
    t.true(lines.filter((l) => l.msg === 'system registered').every((l) => l.req_id === 'req-abc.123'));
    // A client id that is not a plain token is replaced by a generated one.
    const other = await fetch(`${base}/health`, { headers: { 'x-request-id': 'bad id with spaces' } });
    t.regex(other.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await deps.close();
  }
});

test('an unhandled error is logged with the request id of the request that hit it', async (t) => {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  const logger = createLogger('ctx-test', { logLevel: 'info', logFormat: 'json' }, {}, sink);
  const app = express();
  app.use(...requestContext(logger, { quietPrefix: '/quiet' }));
  app.post('/boom', express.json(), async () => {
    await new Promise((r) => setTimeout(r, 5));
    throw new Error('kaput');
  });
  app.use(errorHandler(logger));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/boom`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'boom-1' }, body: '{"a":1}' });
    t.is(res.status, 500);
    const logged = lines.find((l) => l.msg === 'unhandled error');
    t.is(logged?.req_id, 'boom-1');
    t.is((logged?.err as { message?: string } | undefined)?.message, 'kaput');
  } finally {
    await new Promise((r) => server.close(r));
  }
});
