import type pg from 'pg';
import type { Gauge } from 'prom-client';
import { QUEUE_NAMES } from '@zfs-sync/contracts';
import { registerQueueDepth } from '@zfs-sync/queue';
import { CONFLICT_TYPES, LINK_VERDICTS, counter, gauge, withTimeout } from '@zfs-sync/runtime';
import { registerProtectionMetrics } from '../../metrics/protection.metrics.js';
import type { ProcessorDefinition } from '../../processor.js';

const CONNECTIVITY = ['online', 'offline', 'unknown'] as const;

export interface FleetSnapshot {
  systems: Array<{ connectivity: string; n: number }>;
  groups: Array<{ name: string; max_lag: number | null; oldest_conflict_age: number | null }>;
  links: Array<{ group: string; verdict: string; n: number }>;
  conflicts: Array<{ group: string; type: string; n: number }>;
  perLink: Array<{ group: string; dataset: string; source: string; target: string; verdict: string; lag: number | null }> | null;
  /** Seconds since the oldest event still waiting for the relay (0: none). */
  unrelayedAge: number;
}

/** Everything the fleet gauges show, in one round of set-based queries (no per-row work). */
export async function readFleet(pool: pg.Pool, opts: { perLink: boolean }): Promise<FleetSnapshot> {
  const [systems, groups, links, conflicts, perLink, unrelayed] = await Promise.all([
    pool.query<{ connectivity: string; n: number }>(`select connectivity_status as connectivity, count(*)::int as n from systems group by 1`),
    pool.query<{ name: string; max_lag: number | null; oldest_conflict_age: number | null }>(
      `select g.name,
              (select max(l.lag_seconds)::float8 from sync_links l where l.group_id = g.id) as max_lag,
              (select extract(epoch from now() - min(c.detected_at))::float8 from conflicts c where c.group_id = g.id and c.status = 'open') as oldest_conflict_age
         from sync_groups g`,
    ),
    pool.query<{ group: string; verdict: string; n: number }>(`select g.name as group, l.verdict, count(*)::int as n from sync_links l join sync_groups g on g.id = l.group_id group by 1, 2`),
    pool.query<{ group: string; type: string; n: number }>(`select g.name as group, c.type, count(*)::int as n from conflicts c join sync_groups g on g.id = c.group_id where c.status = 'open' group by 1, 2`),
    opts.perLink
      ? pool.query<{ group: string; dataset: string; source: string; target: string; verdict: string; lag: number | null }>(
          `select g.name as group, l.dataset, s.hostname as source, t.hostname as target, l.verdict, l.lag_seconds::float8 as lag
             from sync_links l join sync_groups g on g.id = l.group_id join systems s on s.id = l.source_system_id join systems t on t.id = l.target_system_id`,
        )
      : null,
    pool.query<{ age: number | null }>(`select extract(epoch from now() - min(occurred_at))::float8 as age from events where seq is null`),
  ]);
  return { systems: systems.rows, groups: groups.rows, links: links.rows, conflicts: conflicts.rows, perLink: perLink ? perLink.rows : null, unrelayedAge: Math.max(0, unrelayed.rows[0]?.age ?? 0) };
}

/**
 * The one exporter of state that lives in Redis and PostgreSQL: queue depth by state and the fleet
 * gauges (systems by connectivity, links by verdict, open conflicts by type, lag and oldest open
 * conflict per group, datasets under a protection policy by state). It runs no BullMQ worker; its gauges read their sources when Prometheus
 * scrapes this process. Run it in exactly one process (its own Deployment with one replica, or
 * the single-process mode): every other worker replica leaves it out, so scaling the workers
 * does not multiply the polling. Label values are bounded: fixed lists, and one value per sync
 * group; per-link series only with `link_metrics: true`.
 */
export const fleetMetricsProcessor: ProcessorDefinition = {
  name: 'fleet-metrics',
  async start(deps) {
    const errors = counter(deps.registry, 'zfs_sync_exporter_errors_total');
    registerQueueDepth(deps.registry, deps.producer, QUEUE_NAMES, () => errors.inc({ source: 'redis' }));

    // One read per scrape shared by every fleet gauge (prom-client collects each gauge on its own).
    let current: { at: number; promise: Promise<FleetSnapshot | null> } | null = null;
    const snapshot = () => {
      if (!current || Date.now() - current.at > 1000) {
        const promise = withTimeout(readFleet(deps.pool, { perLink: deps.config.linkMetrics }), 10_000, 'reading the fleet gauges').catch((err: Error) => {
          errors.inc({ source: 'postgres' });
          deps.logger.warn({ err: err.message }, 'fleet metrics: PostgreSQL unreadable; gauges left out of this scrape');
          return null;
        });
        current = { at: Date.now(), promise };
      }
      return current.promise;
    };
    const fill = (fn: (g: Gauge<string>, s: FleetSnapshot) => void) =>
      async function collect(this: Gauge<string>) {
        this.reset();
        const s = await snapshot();
        if (s) fn(this, s);
      };

    gauge(
      deps.registry,
      'zfs_sync_systems',
      fill((g, s) => {
        for (const c of CONNECTIVITY) g.set({ connectivity: c }, 0);
        for (const r of s.systems) g.set({ connectivity: r.connectivity }, r.n);
      }),
    );
    gauge(
      deps.registry,
      'zfs_sync_links',
      fill((g, s) => {
        // Every (group, verdict) pair exists, at 0 when empty, so "went to zero" is visible.
        for (const grp of s.groups) for (const v of LINK_VERDICTS) g.set({ sync_group: grp.name, verdict: v }, 0);
        for (const r of s.links) g.set({ sync_group: r.group, verdict: r.verdict }, r.n);
      }),
    );
    gauge(
      deps.registry,
      'zfs_sync_conflicts_open',
      fill((g, s) => {
        for (const grp of s.groups) for (const t of CONFLICT_TYPES) g.set({ sync_group: grp.name, type: t }, 0);
        for (const r of s.conflicts) g.set({ sync_group: r.group, type: r.type }, r.n);
      }),
    );
    gauge(
      deps.registry,
      'zfs_sync_link_max_lag_seconds',
      fill((g, s) => {
        for (const grp of s.groups) g.set({ sync_group: grp.name }, grp.max_lag ?? 0);
      }),
    );
    gauge(
      deps.registry,
      'zfs_sync_conflict_oldest_open_age_seconds',
      fill((g, s) => {
        for (const grp of s.groups) g.set({ sync_group: grp.name }, grp.oldest_conflict_age ?? 0);
      }),
    );
    gauge(
      deps.registry,
      'zfs_sync_events_unrelayed_oldest_age_seconds',
      fill((g, s) => g.set(s.unrelayedAge)),
    );
    registerProtectionMetrics(deps.registry, deps.pool, () => errors.inc({ source: 'postgres' }));
    if (deps.config.linkMetrics) {
      gauge(
        deps.registry,
        'zfs_sync_link_lag_seconds',
        fill((g, s) => {
          for (const l of s.perLink ?? []) g.set({ sync_group: l.group, dataset: l.dataset, source: l.source, target: l.target, verdict: l.verdict }, l.lag ?? 0);
        }),
      );
    }
    deps.logger.info({ link_metrics: deps.config.linkMetrics }, 'fleet-metrics exporter: queue depth and fleet gauges on this process\'s /metrics');
    return { workers: [] };
  },
};
