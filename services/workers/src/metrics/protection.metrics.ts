import type pg from 'pg';
import type { Registry } from 'prom-client';
import { protectionSummary } from '@zfs-sync/db';
import { gauge } from '@zfs-sync/runtime';

/**
 * `zfs_sync_protection_datasets{state}`: datasets of groups with a protection policy, by whether
 * they meet it (`ok`) or fall short (`violation`) — read from PostgreSQL at scrape time by the
 * fleet-metrics exporter (the one process that polls for fleet gauges). Alert:
 * ZfsSyncProtectionViolation (infra/prometheus/rules.yml).
 */
export function registerProtectionMetrics(registry: Registry, pool: pg.Pool, onError: () => void = () => {}): void {
  gauge(registry, 'zfs_sync_protection_datasets', async function collect() {
    try {
      const s = await protectionSummary(pool);
      this.set({ state: 'ok' }, s.under_policy - s.violations);
      this.set({ state: 'violation' }, s.violations);
    } catch {
      // PostgreSQL unreachable: no sample this scrape; readiness reports the outage.
      this.reset();
      onError();
    }
  });
}
