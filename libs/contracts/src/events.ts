/**
 * The events the witness emits (issue 10): one envelope, a closed list of types. Written to the
 * outbox in the same transaction as the change, relayed onto a Redis stream, delivered to
 * webhooks and to SSE clients. The envelope is the wire format everywhere: the event log
 * (`GET /events`), the stream, and a webhook's body.
 */

export const EVENT_TYPES = [
  'system.registered',
  'system.deleted',
  'system.online',
  'system.offline',
  'system.key_rotated',
  'inventory.applied',
  'link.state_changed',
  'link.lag_exceeded',
  'sync.started',
  'sync.succeeded',
  'sync.failed',
  'conflict.opened',
  'conflict.resolved',
  'webhook.endpoint_disabled',
  'webhook.test',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const isEventType = (value: string): value is EventType => (EVENT_TYPES as readonly string[]).includes(value);

/** An event as stored, streamed and delivered. `id` is a uuid, identical across retries and redeliveries. */
export interface EventEnvelope<T extends EventType = EventType> {
  id: string;
  type: T;
  /** ISO-8601 UTC. */
  occurred_at: string;
  data: Record<string, unknown>;
}

/**
 * Fields of one Redis stream entry on the events stream (`eventStreamKey`): the event id (for
 * de-duplication by consumers) and the envelope as JSON.
 */
export interface EventStreamEntry {
  event_id: string;
  event: string;
  /**
   * The event's position in the log (decimal string), written by the relay: the cursor of
   * `GET /events?after=` and the SSE event id (`Last-Event-ID`). Optional for readers that only
   * need the envelope.
   */
  seq?: string;
}

// ---- data of each event type (issue 10). Ids are uuids; times ISO-8601; uint64 values decimal strings.

type Connectivity = 'online' | 'offline' | 'unknown';

export interface SystemEventData {
  system_id: string;
  hostname: string;
}
export interface SystemRegisteredData extends SystemEventData {
  platform: string;
  site: string | null;
}
export type SystemDeletedData = SystemRegisteredData;
export interface SystemKeyRotatedData extends SystemEventData {
  /** The new key's id (never the key). */
  key_id: string;
  old_key_valid_seconds: number;
}
export interface SystemConnectivityData extends SystemEventData {
  previous: Connectivity;
  last_seen: string | null;
}
export interface SystemOfflineData extends SystemConnectivityData {
  timeout_seconds: number;
}
export interface InventoryAppliedData {
  system_id: string;
  report_id: string;
  mode: 'inventory' | 'batch';
  generation: number | string | null;
  complete: boolean;
  counts: { added: number; removed: number; changed: number; unchanged: number };
  /** Datasets in the report. */
  datasets: number;
}
export interface LinkEventData {
  group_id: string;
  /** Dataset path relative to the pool. */
  dataset: string;
  source_system_id: string;
  target_system_id: string;
  /** Names for people (link.*, conflict.* events): the group's and the hosts' at the time. */
  group_name?: string | null;
  source_hostname?: string | null;
  target_hostname?: string | null;
}
export interface LinkStateChangedData extends LinkEventData {
  /** null: the link is new. */
  from: string | null;
  /** null: the link is gone. */
  to: string | null;
  lag_seconds: number | null;
  explanation: string;
}
export interface LinkLagExceededData extends LinkEventData {
  lag_seconds: number;
  max_lag_seconds: number;
  previous_lag_seconds: number | null;
  explanation: string;
}
export interface SyncEventData extends LinkEventData {
  instruction_id: string;
  executor_system_id: string;
  kind: 'transfer' | 'remedy';
  strategy?: string;
  /** sync.succeeded / sync.failed. */
  bytes_transferred?: string | null;
  /** sync.failed. */
  error?: string | null;
  consecutive_failures?: number;
}
export interface ConflictOpenedData extends LinkEventData {
  conflict_id: string;
  type: string;
  severity: string;
  explanation: string;
}
export interface ConflictResolvedData extends LinkEventData {
  conflict_id: string;
  type: string;
  /** `resolved` (the condition is gone) or `ignored` (an operator chose to ignore it). */
  status: 'resolved' | 'ignored';
  automatic: boolean;
  reason: string;
  by?: string;
}

/** The `data` of each event type this service emits (webhook.* types: see the webhooks section). */
export interface EventDataMap {
  'system.registered': SystemRegisteredData;
  'system.deleted': SystemDeletedData;
  'system.online': SystemConnectivityData;
  'system.offline': SystemOfflineData;
  'system.key_rotated': SystemKeyRotatedData;
  'inventory.applied': InventoryAppliedData;
  'link.state_changed': LinkStateChangedData;
  'link.lag_exceeded': LinkLagExceededData;
  'sync.started': SyncEventData;
  'sync.succeeded': SyncEventData;
  'sync.failed': SyncEventData;
  'conflict.opened': ConflictOpenedData;
  'conflict.resolved': ConflictResolvedData;
}

// ---- the same shapes as JSON Schemas: the contract tests check every emitted event against them,
// and receivers may validate with them. Extra fields may be added later (additionalProperties).

const str = { type: 'string' } as const;
const nstr = { type: ['string', 'null'] } as const;
const int = { type: 'integer' } as const;
const nint = { type: ['integer', 'null'] } as const;
const id = { type: 'string', format: 'uuid' } as const;
const obj = (required: readonly string[], properties: Record<string, object>) => ({ type: 'object', required, properties }) as const;
const linkBase = { group_id: id, dataset: str, source_system_id: id, target_system_id: id, group_name: nstr, source_hostname: nstr, target_hostname: nstr } as const;
const LINK_REQUIRED = ['group_id', 'dataset', 'source_system_id', 'target_system_id'] as const;
const systemBase = { system_id: id, hostname: str } as const;
const syncSchema = obj([...LINK_REQUIRED, 'instruction_id', 'executor_system_id', 'kind'], {
  ...linkBase,
  instruction_id: id,
  executor_system_id: id,
  kind: { enum: ['transfer', 'remedy'] },
  strategy: str,
  bytes_transferred: { anyOf: [{ type: 'string', pattern: '^[0-9]{1,20}$' }, { type: 'null' }] },
  error: nstr,
  consecutive_failures: int,
});

export const EVENT_DATA_SCHEMAS: Record<keyof EventDataMap, object> = {
  'system.registered': obj(['system_id', 'hostname', 'platform', 'site'], { ...systemBase, platform: str, site: nstr }),
  'system.deleted': obj(['system_id', 'hostname', 'platform', 'site'], { ...systemBase, platform: str, site: nstr }),
  'system.key_rotated': obj(['system_id', 'hostname', 'key_id', 'old_key_valid_seconds'], { ...systemBase, key_id: id, old_key_valid_seconds: int }),
  'system.online': obj(['system_id', 'hostname', 'previous', 'last_seen'], { ...systemBase, previous: { enum: ['online', 'offline', 'unknown'] }, last_seen: nstr }),
  'system.offline': obj(['system_id', 'hostname', 'previous', 'last_seen', 'timeout_seconds'], { ...systemBase, previous: { enum: ['online', 'offline', 'unknown'] }, last_seen: nstr, timeout_seconds: int }),
  'inventory.applied': obj(['system_id', 'report_id', 'mode', 'generation', 'complete', 'counts', 'datasets'], {
    system_id: id,
    report_id: str,
    mode: { enum: ['inventory', 'batch'] },
    generation: { type: ['integer', 'string', 'null'] },
    complete: { type: 'boolean' },
    counts: obj(['added', 'removed', 'changed', 'unchanged'], { added: int, removed: int, changed: int, unchanged: int }),
    datasets: int,
  }),
  'link.state_changed': obj([...LINK_REQUIRED, 'from', 'to', 'lag_seconds', 'explanation'], { ...linkBase, from: nstr, to: nstr, lag_seconds: nint, explanation: str }),
  'link.lag_exceeded': obj([...LINK_REQUIRED, 'lag_seconds', 'max_lag_seconds', 'previous_lag_seconds', 'explanation'], { ...linkBase, lag_seconds: int, max_lag_seconds: int, previous_lag_seconds: nint, explanation: str }),
  'sync.started': syncSchema,
  'sync.succeeded': syncSchema,
  'sync.failed': syncSchema,
  'conflict.opened': obj([...LINK_REQUIRED, 'conflict_id', 'type', 'severity', 'explanation'], { ...linkBase, conflict_id: id, type: str, severity: str, explanation: str }),
  'conflict.resolved': obj([...LINK_REQUIRED, 'conflict_id', 'type', 'status', 'automatic', 'reason'], { ...linkBase, conflict_id: id, type: str, status: { enum: ['resolved', 'ignored'] }, automatic: { type: 'boolean' }, reason: str, by: str }),
};
