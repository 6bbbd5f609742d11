import test from 'ava';
import { TEST_ADMIN_TOKEN, createTestEnvironment, registerSystem, startTestApi, type TestApi, type TestEnvironment } from '@zfs-sync/testkit/stack';
import { pgQuery } from '@zfs-sync/testkit';

let env: TestEnvironment;
let api: TestApi;
const admin = TEST_ADMIN_TOKEN;

test.before(async () => {
  env = await createTestEnvironment();
  api = await startTestApi(env.config());
});
test.after.always(async () => {
  await api?.close();
  await env?.teardown();
});

test('GET /systems pages, searches, filters and sorts in PostgreSQL; the bare list stays the original array', async (t) => {
  const names = ['alpha', 'bravo', 'charlie', 'delta', 'echo'].map((n) => `${n}.pagelist.test`);
  const made = [];
  for (const [i, n] of names.entries()) made.push(await registerSystem(api, n, { site: i % 2 ? 'dc-odd' : 'dc-even', platform: i === 4 ? 'freebsd' : 'linux' }));
  // bravo and delta have sent a heartbeat: online.
  for (const s of [made[1]!, made[3]!]) t.is((await api.request('POST', `/systems/${s.id}/heartbeat`, { key: s.api_key })).status, 200);
  await pgQuery(env.db.url, `update systems set last_inventory_at = now() - interval '1 hour' where id = $1`, [made[2]!.id]);

  const all = await api.request('GET', '/systems', { key: admin });
  t.true(Array.isArray(all.body));
  t.is(all.headers.get('x-total-count'), null);

  const page = await api.request('GET', '/systems?q=pagelist.test&limit=2&offset=2&sort=hostname', { key: admin });
  t.is(page.status, 200);
  t.is(page.headers.get('x-total-count'), '5');
  t.deepEqual(page.body.map((s: any) => s.hostname), [names[2], names[3]]);
  t.like(page.body[0], { site: 'dc-even', status: 'offline', last_inventory_at: page.body[0].last_inventory_at });
  t.truthy(page.body[0].last_inventory_at);

  const online = await api.request('GET', '/systems?q=pagelist&status=online&sort=hostname&order=desc', { key: admin });
  t.deepEqual(online.body.map((s: any) => s.hostname), [names[3], names[1]]);
  t.is(online.headers.get('x-total-count'), '2');

  const bySite = await api.request('GET', '/systems?q=pagelist&site=dc-odd', { key: admin });
  t.deepEqual(bySite.body.map((s: any) => s.hostname), [names[1], names[3]]);
  const freebsd = await api.request('GET', '/systems?q=FREEBSD&site=dc-even', { key: admin });
  t.deepEqual(freebsd.body.map((s: any) => s.hostname), [names[4]]);
  // LIKE wildcards in the search are literal.
  t.is((await api.request('GET', '/systems?q=%25', { key: admin })).headers.get('x-total-count'), '0');

  const stats = await api.request('GET', `/systems?q=${names[0]}&include=stats`, { key: admin });
  t.like(stats.body[0], { hostname: names[0], dataset_count: 0, snapshot_count: 0, agent_version: null });

  for (const [query, field] of [
    ['sort=password', 'sort'],
    ['limit=0', 'limit'],
    ['status=sleeping', 'status'],
    ['colour=red', 'colour'],
    ['limit=1&limit=2', 'limit'],
  ] as const) {
    const bad = await api.request('GET', `/systems?${query}`, { key: admin });
    t.is(bad.status, 400, query);
    t.is(bad.body.field, field, query);
    t.is(bad.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  }
  t.is((await api.request('GET', '/systems?limit=5', { key: made[0]!.api_key })).status, 403);
});

test('site: set at registration and by PUT, validated, cleared with null', async (t) => {
  const s = await registerSystem(api, 'site.paging.test', { site: 'Frankfurt rack 3' });
  t.is((await api.request('GET', `/systems/${s.id}`, { key: admin })).body.site, 'Frankfurt rack 3');
  const bad = await api.request('PUT', `/systems/${s.id}`, { key: admin, body: { site: 'x'.repeat(65) } });
  t.is(bad.status, 400);
  t.is(bad.body.field, 'site');
  const ctl = await api.request('PUT', `/systems/${s.id}`, { key: admin, body: { site: 'a\u0007b' } });
  t.is(ctl.status, 400);
  t.is((await api.request('PUT', `/systems/${s.id}`, { key: admin, body: { site: null } })).body.site, null);
  // The agent's configuration sets it with the host's own key; a heartbeat without it leaves it.
  t.is((await api.request('POST', `/systems/${s.id}/heartbeat`, { key: s.api_key, body: { agent_version: '1.0.0', site: 'dc-agent' } })).status, 200);
  t.is((await api.request('POST', `/systems/${s.id}/heartbeat`, { key: s.api_key })).status, 200);
  t.is((await api.request('GET', `/systems/${s.id}`, { key: admin })).body.site, 'dc-agent');
  t.is((await api.request('POST', `/systems/${s.id}/heartbeat`, { key: s.api_key, body: { site: '' } })).body.field, 'site');
});

test('whoami tells what the credential may do; the overview and views need an operator credential', async (t) => {
  const host = await registerSystem(api, 'whoami.paging.test');
  t.deepEqual((await api.request('GET', '/whoami', { key: admin })).body, { kind: 'admin', can_write: true });
  t.deepEqual((await api.request('GET', '/whoami', { key: host.api_key })).body, { kind: 'host', system_id: host.id, can_write: false });
  t.is((await api.request('GET', '/whoami')).status, 401);
  t.is((await api.request('GET', '/whoami', { key: 'zs_admin_wrong' })).status, 401);

  const overview = await api.request('GET', '/overview', { key: admin });
  t.is(overview.status, 200, overview.text);
  t.like(overview.body, { conflicts: { open: 0 }, links: { total: 0, by_verdict: {} }, oldest_lag: null, protection: { under_policy: 0, violations: 0 } });
  t.true(overview.body.systems.total >= 1);
  t.is(typeof overview.body.queues.backlog, 'number');
  t.is((await api.request('GET', '/overview', { key: host.api_key })).status, 403);
  t.is((await api.request('GET', '/overview?x=1', { key: admin })).status, 400);

  const stats = await api.request('GET', '/statistics/fleet?days=7', { key: admin });
  t.is(stats.body.snapshots_per_day.length, 7);
  t.deepEqual(stats.body.top_pools, []);
  t.is((await api.request('GET', '/statistics/fleet?days=9999', { key: admin })).body.field, 'days');

  const missing = await api.request('GET', '/sync/groups/00000000-0000-4000-8000-000000000000/matrix', { key: admin });
  t.is(missing.status, 404);
  const noDataset = await api.request('GET', '/sync/groups/00000000-0000-4000-8000-000000000000/links/detail?source_system_id=00000000-0000-4000-8000-000000000000&target_system_id=00000000-0000-4000-8000-000000000000', { key: admin });
  t.is(noDataset.status, 400);
  t.is(noDataset.body.field, 'dataset');
});

test('the dashboard is served at / with a strict Content-Security-Policy; unknown paths stay problem+json', async (t) => {
  const origin = api.baseUrl.replace(/\/api\/v1$/, '');
  const page = await fetch(`${origin}/`);
  t.is(page.status, 200);
  t.regex(page.headers.get('content-type') ?? '', /text\/html/);
  t.regex(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  t.regex(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
  t.is(page.headers.get('x-content-type-options'), 'nosniff');
  const html = await page.text();
  const script = /<script type="module" crossorigin src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  t.truthy(script, html);
  t.false(/<script(?![^>]*src=)[^>]*>/.test(html), 'no inline script');
  const asset = await fetch(`${origin}${script}`);
  t.is(asset.status, 200);
  t.regex(asset.headers.get('cache-control') ?? '', /immutable/);
  const nothing = await fetch(`${origin}/nothing-here`);
  t.is(nothing.status, 404);
  t.is(nothing.headers.get('content-type'), 'application/problem+json; charset=utf-8');
});
