import type pg from 'pg';
import { Gauge, type Registry } from 'prom-client';
import { protectionSummary } from '@zfs-sync/db';

/**
 * `zfs_sync_protection_datasets{state}`: datasets of groups with a protection policy, by whether
 * they meet it (`ok`) or fall short (`violation`) — read from PostgreSQL at scrape time, so every
 * replica reports the same numbers. Alert on `zfs_sync_protection_datasets{state="violation"} > 0`.
 */
export function registerProtectionMetrics(registry: Registry, pool: pg.Pool): void {
  new Gauge({
    name: 'zfs_sync_protection_datasets',
    help: 'Datasets under a protection policy, by state (ok: enough copies and sites; violation: too few)',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      try {
        const s = await protectionSummary(pool);
        this.set({ state: 'ok' }, s.under_policy - s.violations);
        this.set({ state: 'violation' }, s.violations);
      } catch {
        // PostgreSQL unreachable: no sample this scrape; readiness reports the outage.
        this.reset();
      }
    },
  });
}
