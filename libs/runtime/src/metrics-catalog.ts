/**
 * Every zfs-sync metric in one place: name (prefixed `zfs_sync_`, unit in the name), type, help,
 * its closed label set (each label's values come from a fixed list, or from the operator-created
 * set of sync groups) and which process exports it. Metrics are created only from this catalog
 * (`metric()` below), the README's metrics table is checked against it, and the alert rules and
 * the Grafana dashboard may only name metrics listed here.
 *
 * Who exports what:
 * - `api`: every ingest-API replica, on the API port at `/metrics`;
 * - `workers`: every worker process, on its ops port at `/metrics`;
 * - `exporter`: only the process running the `fleet-metrics` processor (run exactly one). Queue
 *   depth and fleet gauges are read from Redis and PostgreSQL at scrape time, so they are
 *   collected once, not by every worker replica.
 * Every process also exports the Node.js process metrics (`zfs_sync_process_*`, `zfs_sync_nodejs_*`)
 * and `zfs_sync_build_info`, and every series carries the default label `service`.
 */
export type MetricType = 'counter' | 'gauge' | 'histogram';
export type MetricProcess = 'all' | 'api' | 'workers' | 'exporter';

export interface MetricSpec {
  name: string;
  type: MetricType;
  help: string;
  /** Label name → the values it takes (documentation; the README shows it). */
  labels: Record<string, string>;
  process: MetricProcess;
  buckets?: number[];
}

export const LINK_VERDICTS = ['in_sync', 'behind', 'out_of_sync', 'diverged', 'no_common_base', 'not_seeded', 'syncing', 'error'] as const;
export const CONFLICT_TYPES = ['diverged', 'no_common_base', 'name_collision'] as const;
export const JOB_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed'] as const;

const ROUTE = 'route template, e.g. `/api/v1/systems/:id` (`unmatched` for unknown paths)';
const QUEUE = 'queue name from the job catalog (`reconcile`, `recompute-links`, …)';
const GROUP = 'sync group name (one series per group; groups are created by operators)';

export const METRIC_CATALOG = [
  { name: 'zfs_sync_build_info', type: 'gauge', process: 'all', help: 'Always 1; the running version', labels: { version: 'version from package.json' } },
  { name: 'zfs_sync_job_id_collisions_total', type: 'counter', process: 'all', help: 'New jobs whose deterministic id a finished (completed or failed) job still held; the finished job was removed and the new one queued (BullMQ would have dropped it silently)', labels: { queue: QUEUE } },
  // ---- API
  { name: 'zfs_sync_http_requests_total', type: 'counter', process: 'api', help: 'HTTP requests answered, by method, route template and status code', labels: { method: 'HTTP method', route: ROUTE, status: 'HTTP status code' } },
  {
    name: 'zfs_sync_http_request_duration_seconds',
    type: 'histogram',
    process: 'api',
    help: 'Time to answer an HTTP request, by method, route template and status code',
    labels: { method: 'HTTP method', route: ROUTE, status: 'HTTP status code' },
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  },
  { name: 'zfs_sync_reports_accepted_total', type: 'counter', process: 'api', help: 'Inventory report chunks accepted and queued (202), not counting idempotent replays', labels: { mode: '`inventory` (full inventories) or `batch` (the original snapshot forms)' } },
  { name: 'zfs_sync_inventory_bodies_recognised_total', type: 'counter', process: 'api', help: 'Full inventories not parsed because their body was the system\'s previous inventory again, apart from report_id and generation (queued as references)', labels: {} },
  { name: 'zfs_sync_plans_handed_out_total', type: 'counter', process: 'api', help: 'Transfer and remedy plans handed (leased) to executing hosts', labels: { kind: '`transfer` or `remedy`' } },
  { name: 'zfs_sync_transfers_total', type: 'counter', process: 'api', help: 'Transfers that hosts reported finished', labels: { outcome: '`succeeded` or `failed`' } },
  // ---- workers
  { name: 'zfs_sync_jobs_processed_total', type: 'counter', process: 'workers', help: 'Jobs this process completed, by queue', labels: { queue: QUEUE } },
  { name: 'zfs_sync_jobs_failed_total', type: 'counter', process: 'workers', help: 'Job attempts that failed in this process (retries included), by queue', labels: { queue: QUEUE } },
  {
    name: 'zfs_sync_job_duration_seconds',
    type: 'histogram',
    process: 'workers',
    help: 'Time from a job starting to finishing in this process, by queue and outcome',
    labels: { queue: QUEUE, outcome: '`completed` or `failed`' },
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  },
  { name: 'zfs_sync_reports_applied_total', type: 'counter', process: 'workers', help: 'Inventory reports applied to PostgreSQL', labels: { mode: '`inventory` or `batch`' } },
  { name: 'zfs_sync_reports_failed_total', type: 'counter', process: 'workers', help: 'Inventory reports that failed for good (rejected, or out of retries)', labels: { mode: '`inventory` or `batch`' } },
  { name: 'zfs_sync_reports_lost_total', type: 'counter', process: 'workers', help: 'Accepted reports whose queued job disappeared (e.g. Redis restarted empty) and that were marked lost; hosts must re-send', labels: {} },
  { name: 'zfs_sync_inventory_rows_applied_total', type: 'counter', process: 'workers', help: 'Snapshot and bookmark rows of applied reports, by what happened to them', labels: { change: '`added`, `removed`, `changed` or `unchanged`' } },
  { name: 'zfs_sync_webhook_endpoints_disabled_total', type: 'counter', process: 'workers', help: 'Webhook endpoints disabled after failing continuously (or answering 410)', labels: {} },
  // ---- the one exporter (fleet-metrics processor)
  { name: 'zfs_sync_queue_jobs', type: 'gauge', process: 'exporter', help: 'Jobs per queue and state, read from Redis at scrape time; the backlog is state=~"waiting|prioritized"', labels: { queue: QUEUE, state: JOB_STATES.map((s) => `\`${s}\``).join(', ') } },
  { name: 'zfs_sync_systems', type: 'gauge', process: 'exporter', help: 'Registered systems by connectivity', labels: { connectivity: '`online`, `offline` or `unknown`' } },
  { name: 'zfs_sync_links', type: 'gauge', process: 'exporter', help: 'Replication links by sync group and verdict', labels: { sync_group: GROUP, verdict: LINK_VERDICTS.map((v) => `\`${v}\``).join(', ') } },
  { name: 'zfs_sync_link_max_lag_seconds', type: 'gauge', process: 'exporter', help: 'The largest lag of any link in the group (time between the newest eligible source snapshot and the common base)', labels: { sync_group: GROUP } },
  { name: 'zfs_sync_conflicts_open', type: 'gauge', process: 'exporter', help: 'Open conflicts by sync group and type', labels: { sync_group: GROUP, type: CONFLICT_TYPES.map((v) => `\`${v}\``).join(', ') } },
  { name: 'zfs_sync_conflict_oldest_open_age_seconds', type: 'gauge', process: 'exporter', help: 'Age of the oldest open conflict in the group', labels: { sync_group: GROUP } },
  { name: 'zfs_sync_events_unrelayed_oldest_age_seconds', type: 'gauge', process: 'exporter', help: 'Age of the oldest committed event the events relay has not yet moved to the Redis stream (0: none); growing means the relay is stopped or failing', labels: {} },
  { name: 'zfs_sync_protection_datasets', type: 'gauge', process: 'exporter', help: 'Datasets under a protection policy, by state (ok: enough copies and sites; violation: too few)', labels: { state: '`ok` or `violation`' } },
  {
    name: 'zfs_sync_link_lag_seconds',
    type: 'gauge',
    process: 'exporter',
    help: 'Lag of each link — only with ZFS_SYNC_LINK_METRICS=true (one series per link: mind the cardinality)',
    labels: { sync_group: GROUP, dataset: 'dataset path relative to the pool', source: 'source hostname', target: 'target hostname', verdict: 'the link verdict' },
  },
  { name: 'zfs_sync_exporter_errors_total', type: 'counter', process: 'exporter', help: 'Scrapes in which the exporter could not read a source (the affected gauges are left out of that scrape)', labels: { source: '`redis` or `postgres`' } },
] as const satisfies readonly MetricSpec[];

export type MetricName = (typeof METRIC_CATALOG)[number]['name'];

export function metricSpec(name: MetricName): MetricSpec {
  const spec = (METRIC_CATALOG as readonly MetricSpec[]).find((m) => m.name === name);
  if (!spec) throw new Error(`metric ${name} is not in the catalog`);
  return spec;
}
