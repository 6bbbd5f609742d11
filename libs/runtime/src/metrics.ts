import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { SERVICE_VERSION } from '@zfs-sync/logger';
import { metricSpec, type MetricName } from './metrics-catalog.js';

/**
 * A process's metrics registry: the Node.js process metrics (prefixed `zfs_sync_`), the build info
 * and the default label `service` on every series. Each process has its own registry (tests run
 * the API and the workers in one process), never prom-client's global one.
 */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: 'zfs_sync_' });
  gauge(registry, 'zfs_sync_build_info').set({ version: SERVICE_VERSION }, 1);
  return registry;
}

const labelNames = (name: MetricName) => Object.keys(metricSpec(name).labels);

/** A counter from the catalog (its name, help and label set). */
export function counter(registry: Registry, name: MetricName): Counter<string> {
  const spec = metricSpec(name);
  if (spec.type !== 'counter') throw new Error(`${name} is a ${spec.type}`);
  return new Counter({ name, help: spec.help, labelNames: labelNames(name), registers: [registry] });
}

/** A gauge from the catalog; `collect` runs at scrape time (an exporter reading its source). */
export function gauge(registry: Registry, name: MetricName, collect?: (this: Gauge<string>) => Promise<void> | void): Gauge<string> {
  const spec = metricSpec(name);
  if (spec.type !== 'gauge') throw new Error(`${name} is a ${spec.type}`);
  return new Gauge({ name, help: spec.help, labelNames: labelNames(name), registers: [registry], ...(collect ? { collect } : {}) });
}

export function histogram(registry: Registry, name: MetricName): Histogram<string> {
  const spec = metricSpec(name);
  if (spec.type !== 'histogram') throw new Error(`${name} is a ${spec.type}`);
  return new Histogram({ name, help: spec.help, labelNames: labelNames(name), registers: [registry], ...(spec.buckets ? { buckets: spec.buckets } : {}) });
}
