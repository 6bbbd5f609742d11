import test from 'ava';
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { METRIC_CATALOG } from './metrics-catalog.js';
import { counter, createMetricsRegistry, gauge, histogram } from './metrics.js';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

test('the README documents exactly the catalog: every metric with its type, labels and exporting process', (t) => {
  const who = { all: 'every process', api: 'API', workers: 'workers', exporter: 'fleet-metrics' } as const;
  const rows = [...readme.matchAll(/^\| `(zfs_sync_[a-z0-9_]+)` \| (\w+) \| ([^|]*) \| ([^|]+) \|/gm)].map((m) => ({
    name: m[1]!,
    type: m[2]!,
    labels: m[3]!.trim() === '—' ? [] : [...m[3]!.matchAll(/`(\w+)`/g)].map((x) => x[1]!),
    process: m[4]!.trim(),
  }));
  t.deepEqual(
    rows,
    METRIC_CATALOG.map((m) => ({ name: m.name, type: m.type, labels: Object.keys(m.labels), process: who[m.process] })),
  );
});

test('catalog names: prefixed, unique, units and _total where Prometheus expects them', (t) => {
  const names = METRIC_CATALOG.map((m) => m.name);
  t.is(new Set(names).size, names.length);
  for (const m of METRIC_CATALOG) {
    t.regex(m.name, /^zfs_sync_[a-z0-9_]+$/);
    if (m.type === 'counter') t.regex(m.name, /_total$/, `${m.name}: counters end in _total`);
    else t.notRegex(m.name, /_total$/, m.name);
    if (m.type === 'histogram') t.regex(m.name, /_seconds$/, `${m.name}: unit in the name`);
    t.false(Object.keys(m.labels).includes('service'), 'service is the default label of every series');
  }
});

test('metrics are made only from the catalog, with its type and labels; a registry adds service and build info', async (t) => {
  const registry = createMetricsRegistry('test-service');
  counter(registry, 'zfs_sync_reports_accepted_total').inc({ mode: 'inventory' });
  t.throws(() => gauge(new Registry(), 'zfs_sync_reports_accepted_total'), { message: /is a counter/ });
  t.throws(() => histogram(new Registry(), 'zfs_sync_systems'), { message: /is a gauge/ });
  t.throws(() => counter(registry, 'zfs_sync_reports_accepted_total'), undefined, 'one metric per name and registry');
  const text = await registry.metrics();
  t.regex(text, /zfs_sync_reports_accepted_total\{mode="inventory",service="test-service"\} 1/);
  t.regex(text, /zfs_sync_build_info\{version="[^"]+",service="test-service"\} 1/);
  t.regex(text, /zfs_sync_process_cpu_seconds_total/);
  t.notRegex(text, /^process_cpu/m, 'Node.js metrics are prefixed too');
});
