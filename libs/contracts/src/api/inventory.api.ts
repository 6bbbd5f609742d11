import { inventoryReportSchema, originalSnapshotBatchSchema, originalSnapshotSchema, REPORT_ID_PATTERN } from '../schemas/inventory.schema.js';
import { dateTime, nullableDateTime, nullableUint64String, uuid } from './common.js';
import { AUTHENTICATED, defineRoute, json, pathUuid, problems, queryParam } from './route.js';

const counts = { type: 'object', required: ['added', 'removed', 'changed', 'unchanged'], properties: { added: { type: 'integer' }, removed: { type: 'integer' }, changed: { type: 'integer' }, unchanged: { type: 'integer' } } } as const;

const reportAccepted = {
  $id: 'ReportAccepted',
  type: 'object',
  description: '`queued`: accepted (a re-sent identical chunk says `duplicate: true`); `superseded`: older than the applied generation, nothing changed',
  required: ['report_id', 'system_id', 'status'],
  properties: {
    report_id: { type: 'string' },
    system_id: uuid,
    status: { enum: ['queued', 'superseded'] },
    duplicate: { type: 'boolean' },
    received_at: dateTime,
    chunk: { type: 'object', required: ['index', 'count'], properties: { index: { type: 'integer' }, count: { type: 'integer' } } },
    accepted: { type: 'object', required: ['datasets', 'snapshots', 'bookmarks'], properties: { datasets: { type: 'integer' }, snapshots: { type: 'integer' }, bookmarks: { type: 'integer' } } },
    status_url: { type: 'string' },
    detail: { type: 'string' },
  },
} as const;

/** A snapshot as it will be stored (the original API's answer shape). */
const acceptedSnapshot = {
  $id: 'AcceptedSnapshot',
  type: 'object',
  required: ['name', 'pool', 'dataset', 'timestamp', 'system_id'],
  properties: {
    name: { type: 'string' },
    pool: { type: 'string' },
    dataset: { type: 'string' },
    timestamp: dateTime,
    size: nullableUint64String,
    used: nullableUint64String,
    referenced: nullableUint64String,
    guid: nullableUint64String,
    createtxg: nullableUint64String,
    extra_metadata: { type: 'object' },
    system_id: uuid,
  },
} as const;

const singleAccepted = {
  $id: 'SnapshotAccepted',
  description: 'The snapshot as it will be stored, plus the report it travels in (its progress: status_url, also the Location header)',
  allOf: [
    { type: 'object', required: ['report_id', 'status', 'accepted', 'status_url'], properties: { report_id: { type: 'string' }, status: { const: 'queued' }, accepted: { type: 'integer' }, status_url: { type: 'string' } } },
    acceptedSnapshot,
  ],
} as const;

const location = { Location: { description: 'GET this for the report’s progress (/api/v1/reports/{report_id})', schema: { type: 'string' } } };

const reportStatus = {
  $id: 'ReportStatus',
  type: 'object',
  required: ['report_id', 'system_id', 'mode', 'status', 'received_at', 'applied_at', 'counts', 'chunks'],
  properties: {
    report_id: { type: 'string' },
    system_id: uuid,
    mode: { enum: ['inventory', 'batch'] },
    status: { type: 'string', description: 'queued, applying, applied, superseded, failed (and lost, when the queue lost it: re-send)' },
    generation: { type: ['integer', 'null'] },
    complete: { type: 'boolean' },
    received_at: dateTime,
    applied_at: nullableDateTime,
    applying_since: dateTime,
    counts,
    error: { type: 'string' },
    chunks: { type: 'object', properties: { received: { type: 'integer' }, expected: { type: 'integer' } } },
  },
} as const;

const TSV = 'text/tab-separated-values';

export const INVENTORY_API = {
  report: defineRoute({
    operationId: 'reportInventory',
    method: 'post',
    path: '/systems/{id}/inventory',
    tag: 'inventory',
    callers: ['admin', 'host'],
    summary: "Report a system's snapshot inventory (JSON, or the raw `zfs list` output as TSV)",
    description:
      'A dataset listed is replaced by what the report says; with `complete: true` unlisted datasets are gone too. Chunks apply atomically once all have arrived. `report_id` is an idempotency key. The TSV form takes `report_id`, `generation` and `complete` as query parameters.',
    params: [
      pathUuid('id', 'system id'),
      queryParam('report_id', { type: 'string', pattern: REPORT_ID_PATTERN }, 'TSV form only: the report id (default: a fresh one)'),
      queryParam('generation', { type: 'string', pattern: '^(0|[1-9][0-9]{0,15})$' }, 'TSV form only: monotonic generation (default: now in epoch milliseconds)'),
      queryParam('complete', { enum: ['true', 'false', '1', '0'] }, 'TSV form only: the report lists every dataset of the system'),
    ],
    body: {
      schema: inventoryReportSchema,
      alternatives: { [TSV]: { description: '`zfs list -Hp -t snapshot,bookmark -o name,guid,createtxg,creation,used,referenced` output', schema: { type: 'string' } } },
    },
    responses: { 202: json('accepted (or superseded)', reportAccepted), ...problems(400, 404, 409, 413, 415, ...AUTHENTICATED) },
  }),
  snapshot: defineRoute({
    operationId: 'reportSnapshot',
    method: 'post',
    path: '/snapshots',
    tag: 'inventory',
    callers: ['admin', 'host'],
    summary: "The original client's single-snapshot form (an upsert)",
    body: { schema: originalSnapshotSchema },
    responses: { 201: json('queued', singleAccepted, location), ...problems(400, 413, 415, ...AUTHENTICATED) },
  }),
  batch: defineRoute({
    operationId: 'reportSnapshotBatch',
    method: 'post',
    path: '/snapshots/batch',
    tag: 'inventory',
    callers: ['admin', 'host'],
    summary: "The original client's batch form (upserts only; never deletes)",
    body: { schema: originalSnapshotBatchSchema },
    responses: { 202: json('queued: the snapshots as they will be stored (the original answer, a JSON array)', { type: 'array', items: acceptedSnapshot }, location), ...problems(400, 413, 415, ...AUTHENTICATED) },
  }),
  status: defineRoute({
    operationId: 'getReport',
    method: 'get',
    path: '/reports/{report_id}',
    tag: 'inventory',
    callers: ['admin', 'host'],
    summary: 'Where a report stands (queued, applying, applied, superseded, failed)',
    params: [
      { name: 'report_id', in: 'path', required: true, description: 'the report id', schema: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,160}$' } },
      queryParam('system_id', { type: 'string', format: 'uuid' }, 'admins: the system, when several used the same report id'),
    ],
    responses: { 200: json('the report', reportStatus), ...problems(400, 404, ...AUTHENTICATED) },
  }),
} as const;
