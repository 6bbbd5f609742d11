import test from 'ava';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { METRIC_CATALOG } from '@zfs-sync/runtime';
import { repoPath, run, tool } from './tools.js';

const promtool = tool('promtool', "apt-get install prometheus");
const dir = 'infra/prometheus';
const rules = parseYaml(readFileSync(repoPath(`${dir}/rules.yml`), 'utf8')) as { groups: Array<{ rules: Array<{ alert?: string; record?: string; expr: string }> }> };
const ruleTests = parseYaml(readFileSync(repoPath(`${dir}/rules.test.yml`), 'utf8')) as { tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }> };
const dashboard = JSON.parse(readFileSync(repoPath('infra/grafana/zfs-sync-dashboard.json'), 'utf8')) as { panels: Array<{ title: string; targets?: Array<{ expr: string }> }> };

const allRules = rules.groups.flatMap((g) => g.rules);
const alerts = allRules.filter((r) => r.alert).map((r) => r.alert!);
const records = new Set(allRules.filter((r) => r.record).map((r) => r.record!));
const panelExprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

const promtoolTest = promtool.available ? test : test.skip;

promtoolTest('promtool check rules: the alert and recording rules are valid', (t) => {
  const r = run('promtool', ['check', 'rules', `${dir}/rules.yml`]);
  t.is(r.status, 0, r.stdout + r.stderr);
});

promtoolTest('promtool check config: the compose scrape config is valid and finds its rule file', (t) => {
  const r = run('promtool', ['check', 'config', `${dir}/prometheus.yml`]);
  t.is(r.status, 0, r.stdout + r.stderr);
});

promtoolTest('promtool test rules: every alert fires on its unit-test series (and stays quiet where it should)', (t) => {
  const r = run('promtool', ['test', 'rules', 'rules.test.yml'], { cwd: repoPath(dir).pathname });
  t.is(r.status, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /SUCCESS/);
});

promtoolTest('every Grafana panel query is valid PromQL (checked by promtool as recording rules)', (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'zfs-sync-dashboard-'));
  const file = join(tmp, 'dashboard-queries.yml');
  // Grafana's own variables become what Prometheus would see.
  const expr = (e: string) => e.replaceAll('$__rate_interval', '5m').replaceAll('$__interval', '1m');
  const groups = [{ name: 'dashboard', rules: panelExprs.map((p, i) => ({ record: `dashboard:query_${i}`, expr: expr(p.expr) })) }];
  writeFileSync(file, JSON.stringify({ groups }));
  const r = run('promtool', ['check', 'rules', file]);
  t.is(r.status, 0, r.stdout + r.stderr);
});

test('the alerts the issue asks for exist, and each one has a unit test that expects it to fire', (t) => {
  for (const name of ['ZfsSyncSystemOffline', 'ZfsSyncLinkOutOfSync', 'ZfsSyncLinkError', 'ZfsSyncConflictOpenTooLong', 'ZfsSyncQueueBacklogGrowing', 'ZfsSyncReportsLost', 'ZfsSyncWebhookEndpointDisabled']) {
    t.true(alerts.includes(name), name);
  }
  const firing = new Set(ruleTests.tests.flatMap((x) => (x.alert_rule_test ?? []).filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
  t.deepEqual(alerts.filter((a) => !firing.has(a)), [], 'alerts without a firing unit test');
});

test('rules and dashboard name only metrics that exist (the catalog, recording rules, up)', (t) => {
  const known = new Set<string>(METRIC_CATALOG.map((m) => m.name));
  const exists = (name: string) =>
    known.has(name) || known.has(name.replace(/_(bucket|sum|count)$/, '')) || records.has(name) || /^zfs_sync_(process|nodejs)_/.test(name);
  const used = [...allRules.map((r) => ({ where: r.alert ?? r.record!, expr: r.expr })), ...panelExprs.map((p) => ({ where: `panel ${p.panel}`, expr: p.expr }))];
  t.true(panelExprs.length >= 15);
  for (const { where, expr } of used) {
    for (const m of expr.matchAll(/\bzfs_sync[:_][a-zA-Z0-9_:]+/g)) t.true(exists(m[0]), `${where}: ${m[0]} is not a zfs-sync metric`);
  }
});
