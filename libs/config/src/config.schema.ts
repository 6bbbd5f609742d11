/**
 * The one description of every configuration key: its type, default, bounds and documentation.
 * The YAML example file and the README's configuration table are written from this list.
 */
export interface ConfigKeySpec {
  /** snake_case key as written in the YAML file. */
  key: string;
  /** Environment variables that set it, the first present wins. */
  env: string[];
  type: 'string' | 'integer' | 'boolean' | 'string-list';
  default: string | number | boolean | string[] | null;
  doc: string;
  minimum?: number;
  maximum?: number;
  enum?: string[];
  pattern?: string;
  /** Strings: the fewest characters accepted (1 when absent). */
  minLength?: number;
  /** string-list: the pattern of each item (default: processor names, `^[a-z0-9-]+$`). */
  itemPattern?: string;
  secret?: boolean;
}

const zs = (key: string) => `ZFS_SYNC_${key.toUpperCase()}`;

export const CONFIG_KEYS = [
  { key: 'database_url', env: ['DATABASE_URL', zs('database_url')], type: 'string', pattern: '^postgres(ql)?://', default: 'postgresql://postgres@127.0.0.1:5432/zfs_sync', doc: 'PostgreSQL connection URL. The database is created if it does not exist.' },
  { key: 'redis_url', env: ['REDIS_URL', zs('redis_url')], type: 'string', pattern: '^rediss?://', default: 'redis://127.0.0.1:6379', doc: 'Redis connection URL (BullMQ queues, rate limits).' },
  { key: 'port', env: ['PORT', zs('port')], type: 'integer', minimum: 0, maximum: 65535, default: 8000, doc: 'HTTP port of the ingest API.' },
  { key: 'host', env: [zs('host')], type: 'string', default: '0.0.0.0', doc: 'Address the ingest API listens on.' },
  { key: 'ops_port', env: [zs('ops_port')], type: 'integer', minimum: 0, maximum: 65535, default: 9464, doc: 'Port of the workers\' ops server (/metrics, /healthz, /readyz). 0 picks a free port.' },
  { key: 'log_level', env: [zs('log_level')], type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info', doc: 'Minimum log level.' },
  { key: 'log_format', env: [zs('log_format')], type: 'string', enum: ['auto', 'json', 'pretty'], default: 'auto', doc: 'auto = pretty in a terminal, JSON otherwise.' },
  { key: 'admin_token', env: [zs('admin_token')], type: 'string', default: null, secret: true, minLength: 32, doc: 'Operator token (Authorization: Bearer … or X-API-Key), at least 32 characters (e.g. zs_admin_ and `openssl rand -hex 32`). Unset: the first API start generates one and writes it to admin_token_file (never to the logs); only its hash is stored.' },
  { key: 'admin_token_file', env: [zs('admin_token_file')], type: 'string', default: null, doc: 'Where a generated admin token is written, once, readable only by the service user (mode 0600; the path is printed, the token never). Unset: ~/.config/zfs-sync/admin-token of the user running the API. `npm run admin-token:rotate` writes a new one there.' },
  { key: 'enrollment_token', env: [zs('enrollment_token')], type: 'string', default: null, secret: true, doc: 'Token agents use to register their own system (POST /systems). Unset: enrollment disabled.' },
  { key: 'open_registration', env: [zs('open_registration')], type: 'boolean', default: false, doc: 'Allow POST /systems with no credential at all. Off by default; for trials only.' },
  { key: 'heartbeat_timeout_seconds', env: [zs('heartbeat_timeout_seconds')], type: 'integer', minimum: 1, maximum: 2_592_000, default: 300, doc: 'A system without a heartbeat for this long is offline.' },
  { key: 'heartbeat_sweep_seconds', env: [zs('heartbeat_sweep_seconds')], type: 'integer', minimum: 1, maximum: 3600, default: 30, doc: 'How often the heartbeat-expiry processor sweeps.' },
  { key: 'sync_sweep_seconds', env: [zs('sync_sweep_seconds')], type: 'integer', minimum: 1, maximum: 86_400, default: 300, doc: 'How often time-driven sync work runs: groups whose verdicts change with time alone (min_snapshot_age_seconds > 0) are recomputed, transfers whose run lease ran out are noticed, host reports whose processing was lost are re-driven, and snapshots that batch-only clients stopped re-reporting are removed.' },
  { key: 'report_sweep_seconds', env: [zs('report_sweep_seconds')], type: 'integer', minimum: 5, maximum: 3600, default: 60, doc: 'Every how many seconds the report sweep looks for accepted reports whose queued job Redis lost (restarted empty, a failover): they are marked `lost` and GET /reports/{id} asks the host to re-send. Every worker process also re-creates lost job schedulers (the periodic sweeps) this often.' },
  { key: 'worker_processors', env: ['WORKER_PROCESSORS', zs('worker_processors')], type: 'string-list', default: [], doc: 'Comma-separated processors this worker process runs; empty = all.' },
  { key: 'queue_prefix', env: [zs('queue_prefix')], type: 'string', pattern: '^[A-Za-z0-9_{}-]{1,64}$', default: 'zfs-sync', doc: 'Redis key prefix of every queue. Use a hash tag such as {zfs-sync} on Redis Cluster.' },
  { key: 'json_body_limit_bytes', env: [zs('json_body_limit_bytes')], type: 'integer', minimum: 1024, maximum: 1_073_741_824, default: 1_048_576, doc: 'Largest JSON body accepted by ordinary routes (413 above).' },
  { key: 'inventory_body_limit_bytes', env: [zs('inventory_body_limit_bytes')], type: 'integer', minimum: 1024, maximum: 1_073_741_824, default: 67_108_864, doc: 'Largest body accepted by the inventory and batch snapshot routes.' },
  { key: 'shutdown_timeout_ms', env: [zs('shutdown_timeout_ms')], type: 'integer', minimum: 100, maximum: 600_000, default: 10_000, doc: 'How long a process waits for in-flight work on SIGTERM before it forces exit.' },
  { key: 'dashboard_dir', env: [zs('dashboard_dir')], type: 'string', default: null, doc: 'Directory of the built dashboard the API serves at /. Unset: services/dashboard/dist of this installation (built by npm ci or npm run build).' },
  { key: 'job_lock_ms', env: [zs('job_lock_ms')], type: 'integer', minimum: 1000, maximum: 3_600_000, default: 15_000, doc: 'Lock of an inventory-report job. A running worker renews it every half of this however long the job takes; when the worker dies (crash, SIGKILL, lost node) another worker takes the job over once the lock expired and the next stalled check ran (at most 10 s later).' },
  { key: 'instruction_offer_seconds', env: [zs('instruction_offer_seconds')], type: 'integer', minimum: 1, maximum: 86_400, default: 120, doc: 'How long a plan handed to a host is withheld from the next hand-out before the host reports `started`: long enough that an overlapping cron run does not get it twice, short enough that a host that died gets it again soon.' },
  { key: 'instruction_lease_seconds', env: [zs('instruction_lease_seconds')], type: 'integer', minimum: 1, maximum: 86_400, default: 3600, doc: 'How long a transfer reported `started` stays leased to its host; every `progress` report renews it. A lease that runs out without progress makes the plan offerable again, and the link says so.' },
  { key: 'failure_backoff_seconds', env: [zs('failure_backoff_seconds')], type: 'integer', minimum: 1, maximum: 86_400, default: 60, doc: 'Wait after a failed transfer before it is offered again; doubles with every failure in a row (the link shows `error` after 3).' },
  { key: 'failure_backoff_max_seconds', env: [zs('failure_backoff_max_seconds')], type: 'integer', minimum: 1, maximum: 604_800, default: 21_600, doc: 'The longest wait between retries of a failing transfer.' },
  { key: 'legacy_stale_after_seconds', env: [zs('legacy_stale_after_seconds')], type: 'integer', minimum: 1, maximum: 31_536_000, default: 10_800, doc: 'For a system that reports only through the original /snapshots/batch endpoints: a snapshot its batches have not listed for this long, while newer batches kept arriving, is treated as gone (systems that send full inventories are never subject to this).' },
  { key: 'api_processes', env: [zs('api_processes')], type: 'integer', minimum: 1, maximum: 64, default: 1, doc: 'API processes serving the one port (node cluster); more than one uses more cores of one node. On Kubernetes keep 1 and scale replicas instead.' },
  { key: 'auth_cache_seconds', env: [zs('auth_cache_seconds')], type: 'integer', minimum: 0, maximum: 300, default: 10, doc: 'How long an API process remembers which system a host key belongs to. Rotation and deletion drop the entry at once in every process (Redis pub/sub); this bounds how long a missed message can matter. 0 = look every key up in PostgreSQL.' },
  { key: 'inflight_body_limit_bytes', env: [zs('inflight_body_limit_bytes')], type: 'integer', minimum: 1_048_576, maximum: 4_294_967_296, default: 4_194_304, doc: 'Request body bytes one API process holds at once (inventories and batches being read and parsed; parsing costs several times the bytes). A request beyond it waits up to 5 s for room, then is answered 503 with Retry-After, instead of risking the memory of the process.' },
  { key: 'rate_limit_per_minute', env: [zs('rate_limit_per_minute')], type: 'integer', minimum: 0, maximum: 10_000_000, default: 1200, doc: 'Requests one host key (or the enrollment token) may make per minute, counted in Redis across every API replica; beyond it 429 with Retry-After. 0 = no limit.' },
  { key: 'rate_limit_admin_per_minute', env: [zs('rate_limit_admin_per_minute')], type: 'integer', minimum: 0, maximum: 10_000_000, default: 12_000, doc: 'Requests the admin token may make per minute (all operators and dashboards together). 0 = no limit.' },
  { key: 'rate_limit_failed_auth_per_minute', env: [zs('rate_limit_failed_auth_per_minute')], type: 'integer', minimum: 0, maximum: 10_000_000, default: 30, doc: 'Failed authentications (a presented credential that is not valid) one source address may make per minute; beyond it they are answered 429 with Retry-After instead of 401. Valid credentials from the address are not affected. 0 = no limit.' },
  { key: 'trust_proxy', env: [zs('trust_proxy')], type: 'string', default: null, doc: 'Behind a reverse proxy or ingress: which proxies to trust for X-Forwarded-For (express "trust proxy": e.g. `loopback`, `10.0.0.0/8`, or a hop count such as `1`), so the failed-authentication limit counts the real client address. Unset: the socket address.' },
  { key: 'headers_timeout_ms', env: [zs('headers_timeout_ms')], type: 'integer', minimum: 1000, maximum: 600_000, default: 15_000, doc: 'A request\'s headers must arrive within this time (slowloris); the connection is closed otherwise.' },
  { key: 'request_timeout_ms', env: [zs('request_timeout_ms')], type: 'integer', minimum: 1000, maximum: 3_600_000, default: 300_000, doc: 'A whole request, body included, must arrive within this time (a 64 MiB inventory on a slow link needs minutes); 408 and the connection closed otherwise.' },
  { key: 'idle_timeout_ms', env: [zs('idle_timeout_ms')], type: 'integer', minimum: 1000, maximum: 3_600_000, default: 30_000, doc: 'A connection in the middle of a request that sends nothing for this long (a body trickling in, or stalled) is closed.' },
  { key: 'worker_concurrency', env: [zs('worker_concurrency')], type: 'integer', minimum: 1, maximum: 256, default: 4, doc: 'Jobs each processor runs at once in one process.' },
  { key: 'metrics_token', env: [zs('metrics_token')], type: 'string', default: null, secret: true, doc: 'When set, the API\'s /metrics answers only to Authorization: Bearer <this token> (Prometheus: authorization.credentials). Unset: /metrics is open; keep it off the public network.' },
  { key: 'link_metrics', env: [zs('link_metrics')], type: 'boolean', default: false, doc: 'Export zfs_sync_link_lag_seconds, one series per link, from the fleet-metrics exporter. Off by default: fleets with many links would make too many series.' },
  { key: 'bull_board_read_only', env: [zs('bull_board_read_only')], type: 'boolean', default: true, doc: 'Bull Board (/admin/queues) only shows the queues; set false to let the admin retry, promote and remove jobs from the browser.' },
  // ---- events, live stream, audit (issue 10)
  { key: 'viewer_token', env: [zs('viewer_token')], type: 'string', default: null, secret: true, doc: 'Read-only operator token: every GET of the API (lists, views, the event log and live stream, the audit log) and nothing else; any write presented with it is refused with 403. Unset: no viewer access.' },
  { key: 'events_flap_window_seconds', env: [zs('events_flap_window_seconds')], type: 'integer', minimum: 0, maximum: 86_400, default: 300, doc: 'Flapping protection: a link emits at most one link.state_changed event per direction (the same from → to) within this many seconds; the link state itself always changes. 0 = an event for every change.' },
  { key: 'events_stream_max_length', env: [zs('events_stream_max_length')], type: 'integer', minimum: 100, maximum: 10_000_000, default: 100_000, doc: 'Approximate number of events the Redis events stream keeps (XADD MAXLEN ~); older ones stay in PostgreSQL, which is the record.' },
  { key: 'events_relay_poll_ms', env: [zs('events_relay_poll_ms')], type: 'integer', minimum: 50, maximum: 60_000, default: 1000, doc: 'How often the events relay sweeps the outbox for events nobody announced (a NOTIFY on commit wakes it at once otherwise).' },
  { key: 'events_keepalive_seconds', env: [zs('events_keepalive_seconds')], type: 'integer', minimum: 1, maximum: 300, default: 15, doc: 'How often an idle live event stream (SSE) sends a comment line, so proxies and load balancers do not close it.' },
  { key: 'events_retention_days', env: [zs('events_retention_days')], type: 'integer', minimum: 1, maximum: 3650, default: 30, doc: 'Events older than this are pruned from the event log by the retention job.' },
  { key: 'audit_retention_days', env: [zs('audit_retention_days')], type: 'integer', minimum: 1, maximum: 3650, default: 365, doc: 'Audit entries older than this are pruned by the retention job.' },
  { key: 'retention_sweep_seconds', env: [zs('retention_sweep_seconds')], type: 'integer', minimum: 1, maximum: 86_400, default: 3600, doc: 'How often the retention job prunes old events and audit entries.' },
  { key: 'webhook_allowed_cidrs', env: [zs('webhook_allowed_cidrs')], type: 'string-list', itemPattern: '^[0-9A-Fa-f.:]+(/[0-9]{1,3})?$', default: [], doc: 'Comma-separated CIDR ranges webhooks may reach although they are loopback, private, link-local or otherwise internal (e.g. 10.20.0.0/16 for an internal receiver). Empty: only public addresses.' },
  { key: 'webhook_retry_schedule', env: [zs('webhook_retry_schedule')], type: 'string-list', itemPattern: '^[0-9]{1,9}(ms|s|m|h|d)$', default: ['5s', '5m', '30m', '2h', '5h', '10h', '10h'], doc: 'Delays before each retry of a failed webhook delivery (after the first attempt), comma-separated (ms, s, m, h, d); after the last one the delivery is given up. A 429/503 answer\'s Retry-After replaces the delay.' },
  { key: 'webhook_disable_after_seconds', env: [zs('webhook_disable_after_seconds')], type: 'integer', minimum: 1, maximum: 31_536_000, default: 432_000, doc: 'A webhook endpoint that has failed every delivery for this long is disabled (and a webhook.endpoint_disabled event says so).' },
  { key: 'webhook_timeout_ms', env: [zs('webhook_timeout_ms')], type: 'integer', minimum: 100, maximum: 120_000, default: 15_000, doc: 'Timeout of one webhook request (connect to last response byte).' },
  { key: 'webhook_delivery_concurrency', env: [zs('webhook_delivery_concurrency')], type: 'integer', minimum: 1, maximum: 1024, default: 32, doc: 'Webhook requests one delivery process makes at once.' },
  { key: 'webhook_endpoint_concurrency', env: [zs('webhook_endpoint_concurrency')], type: 'integer', minimum: 1, maximum: 64, default: 2, doc: 'Webhook requests one delivery process makes at once to the same endpoint: a slow endpoint holds at most this many of the process\'s slots.' },
  { key: 'webhook_secret_grace_seconds', env: [zs('webhook_secret_grace_seconds')], type: 'integer', minimum: 0, maximum: 2_592_000, default: 86_400, doc: 'After a webhook secret rotation, how long the old secret keeps signing alongside the new one (the rotate call may ask for another period).' },
  { key: 'webhook_delivery_retention_seconds', env: [zs('webhook_delivery_retention_seconds')], type: 'integer', minimum: 60, maximum: 315_360_000, default: 2_592_000, doc: 'Webhook deliveries (and their attempts) older than this are pruned by a scheduled job.' },
] as const satisfies readonly ConfigKeySpec[];
