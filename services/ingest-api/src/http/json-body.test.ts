import { request as httpRequest } from 'node:http';
import test from 'ava';
import { TEST_ADMIN_TOKEN, createTestEnvironment, registerSystem, startTestApi, type TestApi, type TestEnvironment } from '@zfs-sync/testkit/stack';

/**
 * JSON bodies are read two ways (body.ts): a plain one — UTF-8, Content-Length, not compressed —
 * as it arrives, chunk by chunk; anything else (here: chunked transfer encoding) by body-parser.
 * A client must not be able to tell them apart: the same body gives the same answer, the same
 * problem, and the same idempotency fingerprint (a report re-sent the other way is a duplicate,
 * not a conflict). Bodies are written in small pieces, so multi-byte characters and escapes are
 * split across the chunks the server reads.
 */
let env: TestEnvironment;
let api: TestApi;

test.before(async () => {
  env = await createTestEnvironment();
  api = await startTestApi(env.config());
});

test.after.always(async () => {
  await api?.close();
  await env?.teardown();
});

/** POST a body in pieces of `piece` bytes, announced by Content-Length (plain) or sent chunked. */
function post(path: string, key: string, body: Buffer, how: 'plain' | 'chunked', piece = 7, contentType = 'application/json'): Promise<{ status: number; type: string | undefined; body: any }> {
  const url = new URL(`${api.baseUrl}${path}`);
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': contentType, 'x-api-key': key, ...(how === 'plain' ? { 'content-length': String(body.length) } : { 'transfer-encoding': 'chunked' }) } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        resolve({ status: res.statusCode!, type: res.headers['content-type'], body: text ? JSON.parse(text) : undefined });
      });
    });
    req.on('error', reject);
    req.setNoDelay(true);
    let at = 0;
    const writeNext = () => {
      if (at >= body.length) return req.end();
      const next = body.subarray(at, at + piece);
      at += piece;
      req.write(next);
      setImmediate(writeNext);
    };
    writeNext();
  });
}

const inventory = (reportId: string, extra: Record<string, unknown> = {}) => ({
  report_id: reportId,
  generation: 1,
  complete: false,
  datasets: [{ pool: 'tank', dataset: 'home/cafe', snapshots: [{ name: 'daily-1', guid: '18446744073709551615', createtxg: '12', creation: 1_700_000_000 }] }],
  ...extra,
});

const bom = (s: string) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(s)]);
const cases: Array<{ name: string; body: (reportId: string) => Buffer }> = [
  { name: 'a valid inventory', body: (id) => Buffer.from(JSON.stringify(inventory(id))) },
  // Multi-byte characters split across chunks: refused by the ZFS name rules, which name the code point read.
  { name: 'non-ASCII text', body: (id) => Buffer.from(JSON.stringify(inventory(id)).replace('home/cafe', 'home/café-ü€')) },
  { name: 'a UTF-8 byte order mark first', body: (id) => bom(JSON.stringify(inventory(id))) },
  { name: 'not JSON', body: (id) => Buffer.from(JSON.stringify(inventory(id)).slice(0, -3)) },
  { name: 'whitespace only', body: () => Buffer.from('   \n ') },
  { name: 'a bare JSON value', body: () => Buffer.from('"inventory"') },
  { name: 'null', body: () => Buffer.from('null') },
  { name: 'an array', body: () => Buffer.from('[]') },
  { name: 'a wrong type deep inside', body: (id) => Buffer.from(JSON.stringify(inventory(id, { generation: 'one' }))) },
  { name: 'a NUL escape', body: (id) => Buffer.from(JSON.stringify(inventory(id)).replace('home/cafe', 'home/a\\u0000b')) },
  { name: 'a lone surrogate escape', body: (id) => Buffer.from(JSON.stringify(inventory(id)).replace('home/cafe', 'home/a\\udc00b')) },
  { name: 'a paired surrogate (an emoji) as escapes', body: (id) => Buffer.from(JSON.stringify(inventory(id)).replace('home/cafe', 'home/a\\ud83d\\ude00b')) },
  { name: 'nested too deeply', body: (id) => Buffer.from(JSON.stringify(inventory(id)).replace('"complete":false', `"complete":false,"x":${'['.repeat(40)}${']'.repeat(40)}`)) },
  { name: 'bytes that are not UTF-8', body: (id) => Buffer.concat([Buffer.from(JSON.stringify(inventory(id)).slice(0, 40)), Buffer.from([0xff, 0xfe]), Buffer.from(JSON.stringify(inventory(id)).slice(40))]) },
];

const shape = (r: { status: number; type: string | undefined; body: any }) => ({
  status: r.status,
  type: r.type,
  problem: r.status >= 400 ? { type: r.body?.type, field: r.body?.field, pointer: r.body?.pointer, detail: r.body?.detail } : null,
  accepted: r.status < 400 ? r.body?.accepted : null,
});

for (const c of cases) {
  test(`a JSON body read as it arrives and one read by body-parser answer alike: ${c.name}`, async (t) => {
    const [a, b] = [await registerSystem(api), await registerSystem(api)];
    const plain = await post(`/systems/${a.id}/inventory`, a.api_key, c.body('r-1'), 'plain');
    const chunked = await post(`/systems/${b.id}/inventory`, b.api_key, c.body('r-1'), 'chunked');
    t.deepEqual(shape(plain), shape(chunked));
  });
}

test('the same report sent plain and then chunked is one report (the same fingerprint), not a conflict', async (t) => {
  const a = await registerSystem(api);
  const body = Buffer.from(JSON.stringify(inventory('same-1')));
  const first = await post(`/systems/${a.id}/inventory`, a.api_key, body, 'plain', 5);
  const again = await post(`/systems/${a.id}/inventory`, a.api_key, body, 'chunked', 3);
  t.is(first.status, 202, JSON.stringify(first.body));
  t.like(first.body, { report_id: 'same-1', duplicate: false });
  t.is(again.status, 202, JSON.stringify(again.body));
  t.like(again.body, { report_id: 'same-1', duplicate: true });
  // A different body under the same report id is still refused, whichever way it is read.
  const other = Buffer.from(JSON.stringify(inventory('same-1', { complete: true })));
  t.is((await post(`/systems/${a.id}/inventory`, a.api_key, other, 'plain')).status, 409);
});

test('a plain body whose client goes away mid-upload is dropped, and the API keeps answering', async (t) => {
  const a = await registerSystem(api);
  const body = Buffer.from(JSON.stringify(inventory('gone-1')));
  await new Promise<void>((resolve) => {
    const req = httpRequest(new URL(`${api.baseUrl}/systems/${a.id}/inventory`), { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': a.api_key, 'content-length': String(body.length) } });
    req.on('error', () => resolve());
    req.write(body.subarray(0, 20));
    setTimeout(() => {
      req.destroy();
      resolve();
    }, 50);
  });
  const status = await api.request('GET', '/reports/gone-1', { key: a.api_key });
  t.is(status.status, 404);
  const sent = await post(`/systems/${a.id}/inventory`, a.api_key, body, 'plain');
  t.is(sent.status, 202);
});
