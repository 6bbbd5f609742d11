/**
 * The dashboard in headless Chromium against the real service (API + workers, PostgreSQL, Redis)
 * with a prepared fleet: what an operator sees and does.
 */
import test from 'ava';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { pgQuery } from '@zfs-sync/testkit';
import { TEST_ADMIN_TOKEN, eventually, registerSystem, reportInventory, syntheticSnapshots, type RegisteredSystem, type TestApi } from '@zfs-sync/testkit/stack';
import { startTestStack, type TestStack } from '@zfs-sync/testkit/stack';
import { ensureDashboardBuilt, launchChromium, login, originOf, screenshot } from './testing/browser.js';

const admin = TEST_ADMIN_TOKEN;

let stack: TestStack;
let api: TestApi;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let origin: string;
const sys: Record<'hub' | 'a' | 'b' | 'c' | 'd', RegisteredSystem> = {} as never;
let groupId: string;
let protectGroupId: string;

const data = syntheticSnapshots(5, { seed: 101 });
const quiet = syntheticSnapshots(3, { seed: 102 });
const lonely = syntheticSnapshots(2, { seed: 103 });
const cOwn = { ...syntheticSnapshots(1, { seed: 109, prefix: 'local' })[0]!, createtxg: '5000', creation: data[2]!.creation + 30 };

const links = (id: string) => api.request('GET', `/sync/groups/${id}/links`, { key: admin }).then((r) => r.body as any[]);
const cell = (dataset: string, systemId: string) => page.locator(`[data-testid="cell"][data-dataset="${dataset}"][data-system="${systemId}"]`);

test.before(async () => {
  ensureDashboardBuilt();
  stack = await startTestStack();
  api = stack.api;
  origin = originOf(api.baseUrl);
  for (const name of ['hub', 'a', 'b', 'c', 'd'] as const) sys[name] = await registerSystem(api, `${name}-${process.pid}.dash.test`, { site: name === 'b' ? 'dc-2' : 'dc-1' });
  await reportInventory(api, sys.hub, [
    { pool: 'tank', dataset: 'data', snapshots: data },
    { pool: 'tank', dataset: 'quiet', snapshots: quiet },
    { pool: 'tank', dataset: 'lonely', snapshots: lonely },
  ]);
  await reportInventory(api, sys.a, [
    { pool: 'tank', dataset: 'data', snapshots: data },
    { pool: 'tank', dataset: 'quiet', snapshots: quiet },
  ]);
  await reportInventory(api, sys.b, [
    { pool: 'tank', dataset: 'data', snapshots: data.slice(0, 3) },
    { pool: 'tank', dataset: 'quiet', snapshots: quiet },
  ]);
  await reportInventory(api, sys.c, [
    { pool: 'tank', dataset: 'data', snapshots: [...data.slice(0, 3), cOwn] },
    { pool: 'tank', dataset: 'quiet', snapshots: quiet },
  ]);
  await reportInventory(api, sys.d, [{ pool: 'tank', dataset: 'quiet', snapshots: quiet }]);
  // The scenario group: only "data" and "quiet" (lonely is excluded by the dataset globs).
  const g = await api.request('POST', '/sync-groups', {
    key: admin,
    body: { name: 'scenario', directional: true, hub_system_id: sys.hub.id, system_ids: Object.values(sys).map((s) => s.id), datasets: { include: ['data', 'quiet'], exclude: [] } },
  });
  if (g.status !== 201) throw new Error(g.text);
  groupId = g.body.id;
  await eventually(() => links(groupId), (l) => l.length === 8 && l.every((x) => x.verdict !== 'syncing'));
  const p = await api.request('POST', '/sync-groups', {
    key: admin,
    body: { name: 'protect', directional: true, hub_system_id: sys.hub.id, system_ids: [sys.hub.id, sys.a.id, sys.b.id], protection: { min_copies: 2, min_sites: 1 } },
  });
  if (p.status !== 201) throw new Error(p.text);
  protectGroupId = p.body.id;
  await eventually(
    () => api.request('GET', `/protection?sync_group_id=${protectGroupId}`, { key: admin }),
    (r) => r.body?.total === 3,
  );

  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  page = await context.newPage();
  await login(page, origin, admin);
});

test.after.always(async () => {
  await browser?.close();
  await stack?.stop();
});

test.serial('the group matrix colours every cell by its verdict, explains it, and filters to problems', async (t) => {
  await page.goto(`${origin}/#/groups/${groupId}`);
  await page.getByTestId('matrix').waitFor();
  const states = async (dataset: string) => Object.fromEntries(await Promise.all((['hub', 'a', 'b', 'c', 'd'] as const).map(async (n) => [n, await cell(dataset, sys[n].id).getAttribute('data-state')])));
  t.deepEqual(await states('data'), { hub: 'source', a: 'in_sync', b: 'behind', c: 'diverged', d: 'not_seeded' });
  t.deepEqual(await states('quiet'), { hub: 'source', a: 'in_sync', b: 'in_sync', c: 'in_sync', d: 'in_sync' });

  // Four verdicts, four colours (and each cell also says it in words).
  const colours = await Promise.all(['a', 'b', 'c', 'd'].map((n) => cell('data', sys[n as 'a'].id).evaluate((el) => (globalThis as any).getComputedStyle(el).backgroundColor as string)));
  t.is(new Set(colours).size, 4, `colours: ${colours.join(' ')}`);
  t.is(colours[0], 'rgb(211, 242, 220)'); // in sync: green
  t.is(colours[2], 'rgb(255, 208, 208)'); // diverged: red
  t.regex((await cell('data', sys.c.id).innerText()).toLowerCase(), /diverged/);

  // The tooltip explains the verdict, from the link's own explanation, on keyboard focus too.
  await cell('data', sys.b.id).locator('a').focus();
  const tip = cell('data', sys.b.id).getByRole('tooltip');
  t.true(await tip.isVisible());
  const link = (await links(groupId)).find((l) => l.dataset === 'data' && l.target_system_id === sys.b.id);
  t.true((await tip.innerText()).includes(link.explanation), await tip.innerText());
  t.regex(await tip.innerText(), /Latest common snapshot: auto-2/);

  await page.mouse.move(1, 1); // one tooltip (the focused cell's), not also the hovered one
  await screenshot(page, 'group-matrix.png');

  await page.getByLabel('Only problems').check();
  // (Locators, not waitForFunction: the page's CSP forbids the eval that string predicates need.)
  await page.locator('[data-testid="cell"][data-dataset="quiet"]').first().waitFor({ state: 'detached' });
  t.is(await cell('data', sys.b.id).getAttribute('data-state'), 'behind');
  t.is(await page.locator('[data-testid="cell"][data-dataset="quiet"]').count(), 0);
  await page.getByLabel('Only problems').uncheck();
});

test.serial('a snapshot reported through the API changes a cell live, without a reload', async (t) => {
  await page.goto(`${origin}/#/groups/${groupId}`);
  await cell('data', sys.a.id).waitFor();
  t.is(await cell('data', sys.a.id).getAttribute('data-state'), 'in_sync');
  await page.locator('[data-state="live"]').waitFor({ timeout: 10_000 });
  await page.evaluate('window.__noReload = true');
  // The hub takes a new snapshot and reports it: a is now behind.
  const next = syntheticSnapshots(6, { seed: 101 });
  await reportInventory(api, sys.hub, [
    { pool: 'tank', dataset: 'data', snapshots: next },
    { pool: 'tank', dataset: 'quiet', snapshots: quiet },
    { pool: 'tank', dataset: 'lonely', snapshots: lonely },
  ]);
  await page.locator(`[data-testid="cell"][data-dataset="data"][data-system="${sys.a.id}"][data-state="behind"]`).waitFor({ timeout: 15_000 });
  t.is(await cell('data', sys.a.id).getAttribute('data-state'), 'behind');
  t.true(await page.evaluate('window.__noReload === true'), 'the page was not reloaded');
});

test.serial('a conflict is resolved through the UI: dry-run casualties, then an explicit confirmation', async (t) => {
  const [conflict] = (await api.request('GET', `/conflicts?sync_group_id=${groupId}&status=open`, { key: admin })).body;
  t.truthy(conflict, 'c diverged: a conflict is open');
  await page.goto(`${origin}/#/conflicts`);
  const card = page.locator(`[data-testid="conflict"][data-id="${conflict.id}"]`);
  await card.getByRole('button', { name: 'rollback target…' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  // The dry run lists exactly what would be destroyed on c.
  t.deepEqual(await dialog.getByTestId('casualties').locator('li code').allInnerTexts(), [cOwn.name]);
  const destroy = dialog.getByRole('button', { name: 'Destroy and resolve' });
  t.true(await destroy.isDisabled(), 'nothing happens before the acknowledgement');
  t.deepEqual((await api.request('GET', `/conflicts/${conflict.id}`, { key: admin })).body.resolution_requests, [], 'the dry run changed nothing');
  await dialog.getByTestId('confirm-destroy').check();
  await destroy.click();
  await page.getByRole('status').filter({ hasText: 'Resolution recorded' }).waitFor();
  const after = (await api.request('GET', `/conflicts/${conflict.id}`, { key: admin })).body;
  t.like(after.resolution_requests[0], { strategy: 'rollback_target', confirmed: true, would_destroy: [cOwn.name] });
});

test.serial('the protection page lists a dataset held on one host above one held on three', async (t) => {
  await page.goto(`${origin}/#/protection?sync_group_id=${protectGroupId}`);
  await page.getByTestId('protection').waitFor();
  const order = await page.getByTestId('protection-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-dataset')));
  t.true(order.indexOf('lonely') >= 0 && order.indexOf('quiet') >= 0, order.join(','));
  t.true(order.indexOf('lonely') < order.indexOf('quiet'), order.join(','));
  const lonelyRow = page.locator('[data-testid="protection-row"][data-dataset="lonely"]');
  t.regex(await lonelyRow.innerText(), /1 host, 1 pool, 1 site/);
  t.regex(await lonelyRow.innerText(), /short of policy/);
  t.regex(await page.locator('[data-testid="protection-row"][data-dataset="quiet"]').innerText(), /3 hosts, 3 pools, 2 sites/);
});

test.serial('a host name containing <script> (and a site and a group name with markup) render as text', async (t) => {
  const evil = `<script>window.__xss=1</script><img src=x onerror="window.__xss=2">`;
  // The API refuses such a host name; the original witness accepted anything, so a row imported
  // from it may hold one: put it in the database as such a migration would.
  const {
    rows: [row],
  } = await pgQuery(stack.env.db.url, `insert into systems (hostname, platform, site) values ($1, 'linux', $2) returning id`, [evil, '<b onmouseover=alert(1)>dc</b>']);
  const named = await api.request('POST', '/sync-groups', { key: admin, body: { name: `<img src=x onerror="window.__xss=3">`, system_ids: [row.id, sys.a.id] } });
  t.is(named.status, 201, named.text);

  await page.goto(`${origin}/#/systems?q=script`);
  const hostLink = page.getByTestId('system-link').first();
  await hostLink.waitFor();
  t.is(await hostLink.innerText(), evil);
  await hostLink.click();
  await page.getByRole('heading', { level: 1, name: evil }).waitFor();
  await page.goto(`${origin}/#/groups/${named.body.id}`);
  await page.getByRole('heading', { level: 1 }).filter({ hasText: 'onerror' }).waitFor();
  await page.goto(`${origin}/#/groups`);
  await page.getByRole('link', { name: named.body.name }).waitFor();
  t.is(await page.evaluate('window.__xss'), undefined, 'no injected script ran');
  t.is(await page.locator('main img, main script, main b').count(), 0, 'no element was built from the data');
});
