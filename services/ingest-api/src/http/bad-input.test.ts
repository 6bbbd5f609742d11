/**
 * Issue 8, rows 8, 9 and 13 (bad input), and `Cache-Control: no-store` on answers that carry a
 * key: a problem+json 4xx naming the field, nothing stored or queued, never a 5xx caused by a
 * client.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { pgQuery } from '@zfs-sync/testkit';
import { TEST_ADMIN_TOKEN, createTestEnvironment, registerSystem, startTestApi, type RegisteredSystem, type TestApi, type TestEnvironment } from '@zfs-sync/testkit/stack';

let env: TestEnvironment;
let api: TestApi;
let host: RegisteredSystem;
const admin = TEST_ADMIN_TOKEN;
const PROBLEM = 'application/problem+json; charset=utf-8';

test.before(async () => {
  env = await createTestEnvironment();
  api = await startTestApi(env.config());
  host = await registerSystem(api);
});

test.after.always(async () => {
  await api?.close();
  await env?.teardown();
});

/** A raw request: any bytes, any headers (fetch would refuse some of them). */
function raw(method: string, path: string, headers: Record<string, string | number>, body?: Buffer | string): Promise<{ status: number; headers: Record<string, unknown>; text: string; body: any }> {
  const url = new URL(api.baseUrl + path);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname + url.search, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: parsed });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

const reportRows = async () => Number((await pgQuery(env.db.url, 'select count(*)::int as n from inventory_reports')).rows[0].n);

const inventoryBody = (extra: Record<string, unknown> = {}) => ({
  report_id: `r-${randomUUID()}`,
  generation: Date.now(),
  complete: false,
  datasets: [{ pool: 'tank', dataset: 'tank/data', snapshots: [{ name: 'auto-1', guid: '1234', createtxg: '10', creation: 1_700_000_000 }] }],
  ...extra,
});

// ---- row 8: a bad encoding, NUL and lone surrogates, nesting depth

test('row 8: Content-Encoding gzip with a body that is not gzip is a 4xx problem, not a 500', async (t) => {
  for (const [path, key] of [[`/systems/${host.id}/heartbeat`, host.api_key], [`/systems/${host.id}/inventory`, host.api_key], ['/snapshots/batch', host.api_key], ['/systems', admin]] as const) {
    const res = await raw('POST', path, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'x-api-key': key }, '{"not":"gzip at all"}');
    t.true(res.status === 400 || res.status === 415, `${path}: ${res.status} ${res.text}`);
    t.is(res.headers['content-type'], PROBLEM, path);
    t.is(res.body.status, res.status);
  }
  // A real gzip body still works.
  const ok = await raw('POST', `/systems/${host.id}/heartbeat`, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'x-api-key': host.api_key }, gzipSync('{"agent_version":"1.0"}'));
  t.is(ok.status, 200, ok.text);
  // An encoding the API does not take at all.
  const br = await raw('POST', `/systems/${host.id}/heartbeat`, { 'content-type': 'application/json', 'content-encoding': 'compress', 'x-api-key': host.api_key }, 'xx');
  t.is(br.status, 415, br.text);
  // The TSV form reads the body itself: a compressed TSV is refused, not read as garbage.
  const tsv = await raw('POST', `/systems/${host.id}/inventory`, { 'content-type': 'text/tab-separated-values', 'content-encoding': 'gzip', 'x-api-key': host.api_key }, 'not gzip');
  t.true(tsv.status === 400 || tsv.status === 415, tsv.text);
  t.is(tsv.headers['content-type'], PROBLEM);
});

test('row 8: NUL and lone surrogates are refused in every string, naming the field', async (t) => {
  const before = await reportRows();
  const cases: Array<[string, string, string, string, unknown]> = [
    ['heartbeat metadata value', 'POST', `/systems/${host.id}/heartbeat`, host.api_key, { metadata: { note: 'a\u0000b' } }],
    ['heartbeat metadata key', 'POST', `/systems/${host.id}/heartbeat`, host.api_key, { metadata: { ['k\u0000']: 'v' } }],
    ['heartbeat lone surrogate', 'POST', `/systems/${host.id}/heartbeat`, host.api_key, { metadata: { note: 'x\ud800y' } }],
    ['heartbeat agent_version', 'POST', `/systems/${host.id}/heartbeat`, host.api_key, { agent_version: '1.0\u0000' }],
    ['register extra_metadata', 'POST', '/systems', admin, { hostname: `nul-${randomUUID()}.test`, platform: 'linux', extra_metadata: { a: '\udc00' } }],
    ['inventory report_id', 'POST', `/systems/${host.id}/inventory`, host.api_key, inventoryBody({ report_id: 'r\u0000' })],
    ['batch extra_metadata', 'POST', '/snapshots/batch', host.api_key, [{ name: 'tank/data@auto-1', timestamp: 1_700_000_000, system_id: host.id, extra_metadata: { note: 'x\ud83dy' } }]],
  ];
  for (const [name, method, path, key, body] of cases) {
    // JSON.stringify escapes lone surrogates (\udXXX) and NUL as \u0000: what a client sends.
    const res = await api.request(method, path, { key, body });
    t.is(res.status, 400, `${name}: ${res.status} ${res.text}`);
    t.is(res.headers.get('content-type'), PROBLEM, name);
    t.true(typeof res.body?.field === 'string' && res.body.field.length > 0, `${name}: names the field (${res.text})`);
  }
  t.is(await reportRows(), before, 'nothing recorded');
  const sys = await api.request('GET', `/systems/${host.id}`, { key: admin });
  t.false(JSON.stringify(sys.body).includes('\u0000'));
});

test('row 8: a body nested deeper than the limit is a 400 naming the field', async (t) => {
  // Built as text: JSON.stringify itself gives up on a value this deep.
  const deep = '{"a":'.repeat(5000) + '"x"' + '}'.repeat(5000);
  const json = (v: unknown) => JSON.stringify(v).replace('"DEEP"', deep);
  for (const [path, key, body] of [
    [`/systems/${host.id}/heartbeat`, host.api_key, json({ metadata: { deep: 'DEEP' } })],
    ['/systems', admin, json({ hostname: `deep-${randomUUID()}.test`, platform: 'linux', extra_metadata: { deep: 'DEEP' } })],
    [`/systems/${host.id}/inventory`, host.api_key, json(inventoryBody({ deep: 'DEEP' }))],
    ['/snapshots/batch', host.api_key, json([{ name: 'tank/data@auto-1', timestamp: 1_700_000_000, system_id: host.id, extra_metadata: { deep: 'DEEP' } }])],
  ] as const) {
    const res = await api.request('POST', path, { key, rawBody: body, headers: { 'content-type': 'application/json' } });
    t.is(res.status, 400, `${path}: ${res.status} ${res.text}`);
    t.is(res.headers.get('content-type'), PROBLEM);
    t.regex(res.body.detail, /nest/i);
  }
  // Deep arrays too, and within the limit is fine.
  let arr: unknown = [];
  for (let i = 0; i < 1000; i++) arr = [arr];
  t.is((await api.request('POST', `/systems/${host.id}/heartbeat`, { key: host.api_key, body: { metadata: { arr } } })).status, 400);
  t.is((await api.request('POST', `/systems/${host.id}/heartbeat`, { key: host.api_key, body: { metadata: { a: { b: { c: { d: 'ok' } } } } } })).status, 200);
});

// ---- row 9: unknown system, strict decimal query parameters, report_id exactly once

test('row 9: an inventory for an unregistered system (admin token) is a 404, nothing queued', async (t) => {
  const before = await reportRows();
  const res = await api.request('POST', `/systems/${randomUUID()}/inventory`, { key: admin, body: inventoryBody() });
  t.is(res.status, 404, res.text);
  t.is(res.headers.get('content-type'), PROBLEM);
  const tsv = await raw('POST', `/systems/${randomUUID()}/inventory?report_id=tsv-unknown`, { 'content-type': 'text/tab-separated-values', 'x-api-key': admin }, 'tank/data@a\t1\t1\t1700000000\t0\t0\n');
  t.is(tsv.status, 404, tsv.text);
  t.is(await reportRows(), before);
});

test('row 9: TSV generation must be a plain decimal: empty, 0x10, 1e3, +5, 1.0 are 400', async (t) => {
  const line = 'tank/data@auto-1\t1234\t10\t1700000000\t0\t0\n';
  for (const g of ['', '0x10', '1e3', '+5', '1.0', ' 7', '-1', '00', '99999999999999999999']) {
    const res = await raw('POST', `/systems/${host.id}/inventory?report_id=tsv-${randomUUID()}&generation=${encodeURIComponent(g)}`, { 'content-type': 'text/tab-separated-values', 'x-api-key': host.api_key }, line);
    t.is(res.status, 400, `generation=${JSON.stringify(g)}: ${res.status} ${res.text}`);
    t.is(res.body?.field, 'generation', g);
  }
  for (const q of ['generation=1&generation=2', 'generation[a]=1', 'complete=true&complete=false', 'complete=yes']) {
    const res = await raw('POST', `/systems/${host.id}/inventory?report_id=tsv-${randomUUID()}&${q}`, { 'content-type': 'text/tab-separated-values', 'x-api-key': host.api_key }, line);
    t.is(res.status, 400, `${q}: ${res.status} ${res.text}`);
  }
  const ok = await raw('POST', `/systems/${host.id}/inventory?report_id=tsv-${randomUUID()}&generation=1000`, { 'content-type': 'text/tab-separated-values', 'x-api-key': host.api_key }, line);
  t.is(ok.status, 202, ok.text);
});

test('row 9: report_id exactly once: repeated or nested is a 400, never replaced by a random id', async (t) => {
  const line = 'tank/data@auto-1\t1234\t10\t1700000000\t0\t0\n';
  const before = await reportRows();
  for (const q of ['report_id=a&report_id=b', 'report_id[a]=x', 'report_id[]=x', 'report_id=', 'unknown=1']) {
    const res = await raw('POST', `/systems/${host.id}/inventory?${q}&generation=5`, { 'content-type': 'text/tab-separated-values', 'x-api-key': host.api_key }, line);
    t.is(res.status, 400, `${q}: ${res.status} ${res.text}`);
    t.is(res.headers['content-type'], PROBLEM);
  }
  t.is(await reportRows(), before);
});

// ---- row 13: heartbeat metadata capped after the merge

test('row 13: heartbeat metadata is capped at 16 KiB after the merge', async (t) => {
  const sys = await registerSystem(api);
  const chunk = 'x'.repeat(3000);
  let last = 200;
  // Each heartbeat adds new keys; the merged whole must stay bounded.
  for (let i = 0; i < 10 && last === 200; i++) {
    const metadata = { [`k${i}a`]: chunk, [`k${i}b`]: chunk };
    const res = await api.request('POST', `/systems/${sys.id}/heartbeat`, { key: sys.api_key, body: { metadata } });
    last = res.status;
    if (res.status !== 200) {
      t.true(res.status === 413 || res.status === 400, res.text);
      t.is(res.headers.get('content-type'), PROBLEM);
      t.is(res.body.field, 'metadata');
    }
  }
  t.not(last, 200, 'refused once the merged metadata would pass 16 KiB');
  const stored = await pgQuery(env.db.url, 'select octet_length(extra_metadata::text) as n from systems where id = $1', [sys.id]);
  t.true(Number(stored.rows[0].n) <= 16_384 + 1024, `stored metadata is ${stored.rows[0].n} bytes`);
});

// ---- answers that carry a key are never cached

test('answers that carry a key say Cache-Control: no-store', async (t) => {
  const reg = await api.request('POST', '/systems', { key: admin, body: { hostname: `nostore-${randomUUID()}.test`, platform: 'linux' } });
  t.is(reg.status, 201);
  t.is(reg.headers.get('cache-control'), 'no-store');
  const rot = await api.request('POST', `/systems/${reg.body.id}/api-key/rotate`, { key: reg.body.api_key, body: {} });
  t.is(rot.status, 200, rot.text);
  t.truthy(rot.body.api_key);
  t.is(rot.headers.get('cache-control'), 'no-store');
});

test('found by the fuzzer: PUT /sync-groups/{id} updates the group (its UPDATE named the wrong parameter: 500)', async (t) => {
  const created = await api.request('POST', '/sync-groups', { key: admin, body: { name: `g-${randomUUID()}` } });
  t.is(created.status, 201, created.text);
  const name = `renamed-${randomUUID()}`;
  const updated = await api.request('PUT', `/sync-groups/${created.body.id}`, { key: admin, body: { name } });
  t.is(updated.status, 200, updated.text);
  t.is(updated.body.name, name);
});

test('row 9: GET /reports/{id} takes system_id once, as a plain value', async (t) => {
  for (const q of ['system_id=a&system_id=b', 'system_id[x]=1', 'other=1']) {
    const res = await api.request('GET', `/reports/r-1?${q}`, { key: admin });
    t.is(res.status, 400, `${q}: ${res.text}`);
  }
});
