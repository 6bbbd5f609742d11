import test from 'ava';
import type { LookupAddress } from 'node:dns';
import { createPgPool, WebhooksRepository } from '@zfs-sync/db';
import { createLogger } from '@zfs-sync/logger';
import { Producer } from '@zfs-sync/queue';
import { createMetricsRegistry } from '@zfs-sync/runtime';
import { createTestEnvironment, startTestApi, TEST_ADMIN_TOKEN, type TestApi, type TestEnvironment } from '@zfs-sync/testkit/stack';
import type { Job } from 'bullmq';
import type pg from 'pg';
import { createWorkerMetrics } from '../../metrics.js';
import { createDeliverer } from './webhook-delivery.processor.js';
import { TestReceiver } from './test-receiver.js';
import { guardedLookup, type NodeLookup } from './webhook-http.js';
import { parseAllowedCidrs } from '@zfs-sync/domain';

// SSRF: the API without an allow-list refuses internal URLs; the delivery processor checks the
// address it connects to. No test here opens a connection to anything but the loopback receiver.
let env: TestEnvironment;
let api: TestApi;
let rx: TestReceiver;
let pool: pg.Pool;
let producer: Producer;

test.before(async () => {
  env = await createTestEnvironment();
  api = await startTestApi(env.config());
  rx = await TestReceiver.start();
  pool = createPgPool(env.db.url);
  producer = new Producer(env.redisUrl, env.prefix);
});
test.after.always(async () => {
  await producer?.close();
  await pool?.end();
  await api?.close();
  await rx?.close();
  await env?.teardown();
});

const MATRIX = [
  'http://127.0.0.1:8080/hook',
  'http://localhost/hook',
  'http://localhost./hook',
  'http://127.1/hook',
  'http://2130706433/hook',
  'http://0x7f.1/hook',
  'http://[::1]/hook',
  'http://[::ffff:127.0.0.1]/hook',
  'http://169.254.169.254/latest/meta-data/',
  'http://10.0.0.1/hook',
  'http://192.168.1.1/hook',
  'http://100.64.0.1/hook',
  'http://[fd00::1]/hook',
  'http://[fe80::1]/hook',
  'http://0.0.0.0/hook',
  'file:///etc/passwd',
  'ftp://example.com/hook',
];

for (const url of MATRIX) {
  test(`refused at creation with 422 naming url: ${url}`, async (t) => {
    const res = await api.request('POST', '/webhooks', { key: TEST_ADMIN_TOKEN, body: { url, event_types: ['*'] } });
    t.is(res.status, 422, res.text);
    t.is(res.body.field, 'url');
    t.regex(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  });
}

test('nothing was stored by the refused requests, and a public name is accepted', async (t) => {
  const list = await api.request('GET', '/webhooks', { key: TEST_ADMIN_TOKEN });
  t.true(list.body.every((e: any) => !MATRIX.includes(e.url)));
  t.is((await api.request('POST', '/webhooks', { key: TEST_ADMIN_TOKEN, body: { url: 'https://hooks.example.com/zfs', event_types: ['*'] } })).status, 201);
});

/** A resolver that answers from a table and never asks DNS. */
const fakeResolver = (table: Record<string, string[]>): NodeLookup => (hostname, _opts, cb) => {
  const addrs = table[hostname];
  if (!addrs) return cb(Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
  cb(null, addrs.map((address): LookupAddress => ({ address, family: address.includes(':') ? 6 : 4 })));
};

async function attempt(url: string, allowedCidrs: string[], resolve?: NodeLookup) {
  const repo = new WebhooksRepository(pool);
  const e = await repo.create({ url, description: null, event_types: ['*'], sync_group_ids: null, enabled: true, secret: 'whsec_' + Buffer.alloc(32, 7).toString('base64') });
  const d = await repo.createDirectDelivery(e.id, { id: crypto.randomUUID(), type: 'webhook.test', occurred_at: new Date().toISOString(), data: {} });
  const config = env.config({ webhook_allowed_cidrs: allowedCidrs, webhook_retry_schedule: [], webhook_timeout_ms: 2000 });
  const deliver = createDeliverer({ config, pool, producer, logger: createLogger('t', config), metrics: createWorkerMetrics(createMetricsRegistry('t')) }, resolve ? { resolve } : {});
  await deliver({ delivery_id: d.id, endpoint_id: e.id, attempt: 1 }, { job: {} as Job, token: undefined, logger: createLogger('t', config) });
  return (await repo.listDeliveries(e.id, { limit: 1, status: null }))[0]!;
}

test.serial('a stored loopback URL is refused at delivery once the allow-list no longer has it', async (t) => {
  const before = rx.received.length;
  const d = await attempt(rx.url('/stored'), []);
  t.is(d.delivery.status, 'dead');
  t.regex(d.attempts[0]!.error!, /refused/);
  t.is(d.attempts[0]!.status_code, null);
  t.is(rx.received.length, before);
});

test('the guarded lookup keeps only allowed addresses, and fails when none is left', async (t) => {
  // Checked at the lookup itself: no request is made here, so even a broken guard connects nowhere.
  const resolve = fakeResolver({ 'meta.example.com': ['169.254.169.254'], 'mixed.example.com': ['10.0.0.1', 'fd00::1'], 'split.example.com': ['10.0.0.1', '93.184.216.34'], 'public.example.com': ['93.184.216.34'] });
  const look = (host: string, all: boolean, allowed: string[] = []) =>
    new Promise<{ err: Error | null; result: unknown }>((done) => guardedLookup(parseAllowedCidrs(allowed), resolve)(host, { all }, (err: Error | null, result: unknown) => done({ err, result })));
  for (const host of ['meta.example.com', 'mixed.example.com']) {
    const r = await look(host, true);
    t.regex(r.err?.message ?? '', /refused to connect: .* resolves to/);
  }
  t.deepEqual((await look('split.example.com', true)).result, [{ address: '93.184.216.34', family: 4 }]);
  t.is((await look('public.example.com', false)).result, '93.184.216.34');
  t.deepEqual((await look('mixed.example.com', true, ['10.0.0.0/8'])).result, [{ address: '10.0.0.1', family: 4 }]);
});

test.serial('DNS rebinding: a name that passed creation but resolves to loopback is refused when the socket connects', async (t) => {
  const before = rx.received.length;
  const resolve = fakeResolver({ 'rebind.example.com': ['127.0.0.1'] });
  const d = await attempt(`http://rebind.example.com:${rx.port}/rebind`, [], resolve);
  t.is(d.delivery.status, 'dead');
  t.regex(d.attempts[0]!.error!, /refused to connect: rebind.example.com resolves to 127.0.0.1/);
  t.is(rx.received.length, before);
  // The same name with loopback allowed is delivered: the address checked is the one connected to.
  const ok = await attempt(`http://rebind.example.com:${rx.port}/rebind`, ['127.0.0.1/32'], resolve);
  t.is(ok.delivery.status, 'succeeded');
  t.is(rx.at('/rebind').length, 1);
});
