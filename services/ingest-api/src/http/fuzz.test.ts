/**
 * Property-based fuzzing of every write endpoint (issue 8): arbitrary JSON (deep nesting,
 * `__proto__`/`constructor` keys, huge numbers, control characters, lone surrogates), valid
 * bodies with one hostile field, invalid UTF-8, and `zfs list` TSV with near-miss ZFS names.
 * For every request: never a 5xx; every 4xx is application/problem+json; a refused request
 * changed nothing in PostgreSQL and queued nothing in Redis; Object.prototype is untouched; the
 * process still answers. About 1,300 requests in all (FUZZ_RUNS scales it; FUZZ_SEED replays).
 */
import test from 'ava';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { TEST_ADMIN_TOKEN, createTestEnvironment, registerSystem, startTestApi, type RegisteredSystem, type TestApi, type TestEnvironment } from '@zfs-sync/testkit/stack';

const SCALE = Number(process.env.FUZZ_RUNS ?? 1);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));

let env: TestEnvironment;
let api: TestApi;
let host: RegisteredSystem;
let other: RegisteredSystem;
let groupId: string;
let db: pg.Client;
let redis: Redis;
let tables: string[] = [];
const admin = TEST_ADMIN_TOKEN;
const PROTO_NAMES = Object.getOwnPropertyNames(Object.prototype).sort().join(',');

test.before(async () => {
  env = await createTestEnvironment();
  // Limits off: the fuzzer sends more than a host may per minute.
  api = await startTestApi(env.config({ rate_limit_per_minute: 0, rate_limit_admin_per_minute: 0, rate_limit_failed_auth_per_minute: 0 }));
  host = await registerSystem(api);
  other = await registerSystem(api);
  const group = await api.request('POST', '/sync-groups', { key: admin, body: { name: `fuzz-${randomUUID()}` } });
  if (group.status !== 201) throw new Error(`group: ${group.status} ${group.text}`);
  groupId = group.body.id;
  db = new pg.Client({ connectionString: env.db.url });
  await db.connect();
  tables = (await db.query<{ t: string }>(`select quote_ident(tablename) as t from pg_tables where schemaname = 'public' order by 1`)).rows.map((r) => r.t);
  redis = new Redis(env.redisUrl);
});

test.after.always(async () => {
  await db?.end();
  redis?.disconnect();
  await api?.close();
  await env?.teardown();
});

/**
 * What a refused request must not change: every table's rows (but a key's last use, which any
 * authenticated request records) and the job counters of every queue.
 */
async function fingerprint(): Promise<string> {
  const parts = tables.map((t) => `(select md5(coalesce(string_agg(x, ',' order by x), '')) from (select (to_jsonb(r) - 'last_used_at')::text as x from ${t} r) s)`);
  const { rows } = await db.query(`select concat_ws('|', ${parts.join(', ')}) as f`);
  const counters = await redis.mget(...['reconcile', 'recompute-links', 'recompute-datasets', 'recompute-groups'].map((q) => `${env.prefix}:${q}:id`));
  return `${rows[0].f}|${counters.join(',')}`;
}

// ---- JSON text with what JSON.stringify cannot write: raw numbers, duplicate and __proto__ keys

class Raw {
  constructor(readonly text: string) {}
}
class Obj {
  constructor(readonly entries: Array<[string, unknown]>) {}
}
function toJson(v: unknown): string {
  if (v instanceof Raw) return v.text;
  if (v instanceof Obj) return `{${v.entries.map(([k, x]) => `${JSON.stringify(k)}:${toJson(x)}`).join(',')}}`;
  if (Array.isArray(v)) return `[${v.map(toJson).join(',')}]`;
  if (v !== null && typeof v === 'object') return toJson(new Obj(Object.entries(v)));
  return JSON.stringify(v) ?? 'null';
}

const ZFS_NEAR_MISSES = [
  'tank/data@auto-1', 'tank/data@', '@auto-1', 'tank//data@x', 'tank/data@a@b', '-tank/data@x', 'tank/da ta@x', 'tank/data#bm', 'tank/data@a#b',
  `tank/data@${'x'.repeat(300)}`, 'tank/./data@x', 'tank/../data@x', 'tank/data/@x', '/tank/data@x', 'tank\\data@x', 'tank/data@x\n', 'tank/data@$(reboot)', "tank/data@x'y", 'tank/data@x;rm -rf /', 'tank/data@\u00e9t\u00e9', 'tank', '',
];
const HOSTILE_STRINGS = [
  '\u0000', 'a\u0000b', '\ud800', 'x\udc00', '\udbff\udfff', '\u202e', '\u0007\u001b[31m', '\r\n', ' ', 'x'.repeat(70_000), '__proto__', 'constructor', 'prototype',
  '18446744073709551616', '18446744073709551615', '-1', '1e309', '0x10', '00012', ' 12', 'NaN', 'Infinity', 'null', 'true', '{}', '[]', '%00', '../../etc/passwd', '${jndi:x}',
];
const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf', '__defineGetter__', 'polluted', '', 'a\u0000', '\ud800'];
const FIELD_NAMES = ['metadata', 'extra_metadata', 'datasets', 'snapshots', 'bookmarks', 'report_id', 'generation', 'complete', 'name', 'pool', 'dataset', 'guid', 'createtxg', 'creation', 'used', 'referenced', 'system_id', 'timestamp', 'hostname', 'platform', 'ssh_port', 'status', 'chunk', 'site', 'agent_version', 'old_key_valid_seconds', 'system_ids', 'strategy'];
const RAW_NUMBERS = ['1e400', '-1e400', '123456789012345678901234567890', '18446744073709551616', '-0', '1.5e-400', '9007199254740993', '0.1e1', '1E2', '-9223372036854775809'];

const hostileString = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_STRINGS, ...ZFS_NEAR_MISSES) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('\u0000', '\u0001', '\u001f', '\u007f', '\ud800', '\udfff', 'a', '/', '@', '#', '\t', '\n'), maxLength: 10 }) },
);
const hostileNumber = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(...RAW_NUMBERS).map((t) => new Raw(t)), fc.constantFrom(0, -1, 2 ** 53, 2 ** 64, 1e308, Number.MIN_VALUE));
const hostileKey = fc.oneof(fc.constantFrom(...HOSTILE_KEYS, ...FIELD_NAMES), fc.string({ maxLength: 12 }));
const scalar = fc.oneof(hostileString, hostileNumber, fc.boolean(), fc.constant(null));

/** A nested value; deep chains (past the nesting limit) now and then. */
const { value: jsonish } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 4, arbitrary: scalar },
    { weight: 2, arbitrary: fc.array(tie('value'), { maxLength: 4 }) },
    { weight: 2, arbitrary: fc.array(fc.tuple(hostileKey, tie('value')), { maxLength: 5 }).map((e) => new Obj(e)) },
    { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 20, max: 200 }), fc.constantFrom('obj', 'arr'), scalar).map(([d, kind, leaf]) => deepChain(d, kind, leaf)) },
  ),
}));

function deepChain(depth: number, kind: string, leaf: unknown): unknown {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = kind === 'arr' ? [v] : new Obj([['a', v]]);
  return v;
}

// ---- the endpoints, with the credential that can reach their validation

interface Target {
  method: string;
  path: () => string;
  key: () => string;
  /** A valid body to mutate (schema-shaped fuzzing). */
  template?: () => unknown;
}

const badId = fc.constantFrom('not-a-uuid', '00000000-0000-0000-0000-000000000000', "1' or '1'='1", '%2e%2e', 'x'.repeat(300), '__proto__');
const snapshotItem = () => ({ name: 'auto-1', pool: 'tank', dataset: 'tank/data', timestamp: 1_700_000_000, system_id: host.id, guid: '123', createtxg: '10', used: '0', referenced: '0', extra_metadata: { a: 'b' } });

const TARGETS: Target[] = [
  { method: 'POST', path: () => '/systems', key: () => admin, template: () => ({ hostname: `fz-${randomUUID()}.test`, platform: 'linux', ssh_hostname: '10.0.0.1', ssh_user: 'zfs', ssh_port: 22, extra_metadata: { a: 1 } }) },
  { method: 'PUT', path: () => `/systems/${other.id}`, key: () => admin, template: () => ({ ssh_port: 2222, extra_metadata: { rack: 'b' } }) },
  { method: 'POST', path: () => `/systems/${host.id}/heartbeat`, key: () => host.api_key, template: () => ({ agent_version: '1.0', metadata: { os: 'linux' }, site: 'dc1' }) },
  { method: 'POST', path: () => `/systems/${randomUUID()}/api-key/rotate`, key: () => admin, template: () => ({ old_key_valid_seconds: 60 }) },
  {
    method: 'POST',
    path: () => `/systems/${host.id}/inventory`,
    key: () => host.api_key,
    template: () => ({
      report_id: `fz-${randomUUID()}`,
      generation: 1000,
      complete: false,
      datasets: [{ pool: 'tank', dataset: 'tank/data', snapshots: [{ name: 'auto-1', guid: '1234', createtxg: '10', creation: 1_700_000_000, used: '0', referenced: '0' }], bookmarks: [] }],
    }),
  },
  { method: 'POST', path: () => '/snapshots', key: () => host.api_key, template: snapshotItem },
  { method: 'POST', path: () => '/snapshots/batch', key: () => host.api_key, template: () => [snapshotItem(), snapshotItem()] },
  { method: 'POST', path: () => '/sync-groups', key: () => admin, template: () => ({ name: `fz-${randomUUID()}` }) },
  { method: 'PUT', path: () => `/sync-groups/${groupId}`, key: () => admin, template: () => ({ name: `fz-${randomUUID()}` }) },
  { method: 'POST', path: () => `/sync-groups/${groupId}/systems`, key: () => admin, template: () => ({ system_ids: [other.id] }) },
  { method: 'POST', path: () => `/sync/instructions/${randomUUID()}/status`, key: () => host.api_key, template: () => ({ status: 'started' }) },
  { method: 'POST', path: () => '/sync/states', key: () => host.api_key, template: () => ({ sync_group_id: groupId, dataset: 'tank/data', system_id: host.id, status: 'in_sync' }) },
  { method: 'POST', path: () => `/conflicts/${randomUUID()}/resolve`, key: () => admin, template: () => ({ strategy: 'ignore' }) },
  { method: 'DELETE', path: () => `/systems/${randomUUID()}`, key: () => admin },
  { method: 'DELETE', path: () => `/snapshots/system/${randomUUID()}`, key: () => admin },
  { method: 'DELETE', path: () => `/sync-groups/${randomUUID()}`, key: () => admin },
  { method: 'DELETE', path: () => `/sync-groups/${groupId}/systems/${randomUUID()}`, key: () => admin },
];

/** Replace, add or remove one value somewhere in a template (JSON path chosen by `pick`). */
function mutate(template: unknown, pick: number, action: number, replacement: unknown, key: string): unknown {
  const paths: Array<Array<string | number>> = [];
  const walk = (v: unknown, p: Array<string | number>) => {
    paths.push(p);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...p, i]));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...p, k]);
  };
  walk(template, []);
  const path = paths[pick % paths.length]!;
  const copy = structuredClone(template) as Record<string | number, unknown>;
  if (path.length === 0) return action % 3 === 0 ? replacement : new Obj([...Object.entries(copy as object), [key, replacement]]);
  let parent: any = copy;
  for (const p of path.slice(0, -1)) parent = parent[p];
  const last = path[path.length - 1]!;
  switch (action % 3) {
    case 0:
      parent[last] = replacement;
      break;
    case 1:
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete parent[last];
      break;
    default: {
      const target = parent[last];
      if (target && typeof target === 'object' && !Array.isArray(target)) parent[last] = new Obj([...Object.entries(target), [key, replacement]]);
      else parent[last] = replacement;
    }
  }
  return copy;
}

let sent = 0;
/** Answers seen, per property and route, for the log (`npx ava --verbose` shows them). */
const seen = new Map<string, number>();
/** Requests checked per property (label): a property must have run every one of its cases. */
const checked = new Map<string, number>();
async function check(t: { fail: (m: string) => void }, label: string, method: string, path: string, key: string | null, body: string | Buffer | undefined, contentType = 'application/json', headers: Record<string, string> = {}): Promise<boolean> {
  const before = await fingerprint();
  sent++;
  const res = await api.request(method, path, { key, ...(body !== undefined ? { rawBody: body } : {}), headers: { 'content-type': contentType, ...headers } });
  const bucket = `${label} ${method} ${path.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '{id}').split('?')[0]} ${res.status}`;
  seen.set(bucket, (seen.get(bucket) ?? 0) + 1);
  checked.set(label, (checked.get(label) ?? 0) + 1);
  const where = `${label}: ${method} ${path} → ${res.status} ${res.text.slice(0, 300)}\n  body: ${String(body ?? '').slice(0, 300)}`;
  if (res.status >= 500 || res.status < 200) return fail(t, `a 5xx (or no answer) — ${where}`);
  if (Object.getOwnPropertyNames(Object.prototype).sort().join(',') !== PROTO_NAMES || ({} as Record<string, unknown>).polluted !== undefined) return fail(t, `Object.prototype changed — ${where}`);
  if (res.status >= 400) {
    if (res.headers.get('content-type') !== 'application/problem+json; charset=utf-8') return fail(t, `not problem+json — ${where}`);
    if (res.body?.status !== res.status || typeof res.body?.detail !== 'string' || typeof res.body?.type !== 'string') return fail(t, `not a problem body — ${where}`);
    if ((await fingerprint()) !== before) return fail(t, `a refused request changed stored or queued state — ${where}`);
  }
  return true;
}
function fail(t: { fail: (m: string) => void }, message: string): false {
  t.fail(message);
  return false;
}

const params = (numRuns: number) => ({ numRuns: runs(numRuns), ...(SEED !== undefined ? { seed: SEED } : {}), endOnFailure: true });

test.serial('fuzz: arbitrary JSON at every write endpoint: never a 5xx, refusals are problem+json and change nothing', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.nat(TARGETS.length - 1), jsonish, fc.boolean(), async (i, value, asAdmin) => {
      const target = TARGETS[i]!;
      return check(t, 'arbitrary', target.method, target.path(), asAdmin ? admin : target.key(), toJson(value));
    }),
    params(500),
  );
  t.true((checked.get('arbitrary') ?? 0) >= runs(500), `every case was sent and checked (${checked.get('arbitrary') ?? 0})`);
});

test.serial('fuzz: valid bodies with one hostile field (names, uint64 strings, keys, nesting) stay 4xx problems or are accepted', async (t) => {
  const withTemplate = TARGETS.filter((x) => x.template);
  await fc.assert(
    fc.asyncProperty(fc.nat(withTemplate.length - 1), fc.nat(), fc.nat(), jsonish, hostileKey, async (i, pick, action, replacement, key) => {
      const target = withTemplate[i]!;
      return check(t, 'mutated', target.method, target.path(), target.key(), toJson(mutate(target.template!(), pick, action, replacement, key)));
    }),
    params(500),
  );
  t.true((checked.get('mutated') ?? 0) >= runs(500), `every case was sent and checked (${checked.get('mutated') ?? 0})`);
});

test.serial('fuzz: bytes that are not UTF-8 JSON, odd content types and encodings, bad ids', async (t) => {
  const contentTypes = fc.constantFrom('application/json', 'application/json; charset=latin1', 'application/json; charset=utf-16', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/problem+json', '');
  await fc.assert(
    fc.asyncProperty(fc.nat(TARGETS.length - 1), fc.uint8Array({ maxLength: 200 }), contentTypes, fc.constantFrom(undefined, 'gzip', 'deflate', 'br', 'identity', 'x-bogus'), badId, fc.boolean(), async (i, bytes, type, encoding, id, useBadId) => {
      const target = TARGETS[i]!;
      const path = useBadId ? target.path().replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/, encodeURIComponent(id)) : target.path();
      return check(t, 'bytes', target.method, path, target.key(), Buffer.from(bytes), type, encoding ? { 'content-encoding': encoding } : {});
    }),
    params(150),
  );
  t.true((checked.get('bytes') ?? 0) >= runs(150), `every case was sent and checked (${checked.get('bytes') ?? 0})`);
});

test.serial('fuzz: zfs list TSV with near-miss names, hostile fields and query parameters', async (t) => {
  const field = fc.oneof(fc.constantFrom('0', '1', '-', '18446744073709551615', '18446744073709551616', '-1', '1e3', '0x10', '', ' ', '\u0000', '1700000000', 'abc'), fc.string({ maxLength: 8 }));
  const line = fc.tuple(fc.constantFrom(...ZFS_NEAR_MISSES, 'tank/data#bm', 'tank/data@a'), fc.array(field, { minLength: 0, maxLength: 7 })).map(([name, rest]) => [name, ...rest].join('\t'));
  const query = fc.array(fc.tuple(fc.constantFrom('report_id', 'generation', 'complete', 'report_id[a]', 'generation[]', 'x', '__proto__', 'constructor[prototype][polluted]'), fc.constantFrom('', '1', '0x10', '1e3', 'true', 'r-1', '\u0000', '99999999999999999999', 'yes')), { maxLength: 3 });
  await fc.assert(
    fc.asyncProperty(fc.array(line, { maxLength: 6 }), query, fc.constantFrom('\n', '\r\n', '\r', '\t\n'), async (lines, q, eol) => {
      const qs = q.map(([k, v]) => `${encodeURIComponent(k).replace(/%5B/g, '[').replace(/%5D/g, ']')}=${encodeURIComponent(v)}`).join('&');
      return check(t, 'tsv', 'POST', `/systems/${host.id}/inventory${qs ? `?${qs}` : ''}`, host.api_key, lines.join(eol), 'text/tab-separated-values');
    }),
    params(150),
  );
  t.true((checked.get('tsv') ?? 0) >= runs(150), `every case was sent and checked (${checked.get('tsv') ?? 0})`);
});

test.serial('after the fuzzing: the process answers, and valid requests still work', async (t) => {
  t.true(sent >= runs(1300), `${sent} requests sent`);
  t.log([...seen].sort().map(([k, n]) => `${k}: ${n}`).join('\n'));
  t.is((await api.request('GET', '/health/live')).status, 200);
  t.is((await api.request('POST', `/systems/${host.id}/heartbeat`, { key: host.api_key, body: { agent_version: '1.0' } })).status, 200);
  t.is(Object.getOwnPropertyNames(Object.prototype).sort().join(','), PROTO_NAMES);
});
