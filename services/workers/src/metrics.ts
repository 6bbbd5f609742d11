import type { Registry } from 'prom-client';
import { counter } from '@zfs-sync/runtime';

/** Counters the processors increment (names, help and labels from the catalog in libs/runtime). */
export function createWorkerMetrics(registry: Registry) {
  return {
    reportsApplied: counter(registry, 'zfs_sync_reports_applied_total'),
    reportsFailed: counter(registry, 'zfs_sync_reports_failed_total'),
    reportsLost: counter(registry, 'zfs_sync_reports_lost_total'),
    rowsApplied: counter(registry, 'zfs_sync_inventory_rows_applied_total'),
    webhookEndpointsDisabled: counter(registry, 'zfs_sync_webhook_endpoints_disabled_total'),
  };
}
export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
