import { arrayOf, dateTime, nullableDateTime, nullableUint64String, stringMap, uint64String, uuid } from './common.js';
import { AUTHENTICATED, defineRoute, json, pathUuid, problems, queryParam } from './route.js';

export const snapshotSchema = {
  $id: 'Snapshot',
  type: 'object',
  required: ['id', 'name', 'pool', 'dataset', 'kind', 'timestamp', 'guid', 'createtxg', 'system_id'],
  properties: {
    id: { type: 'string', pattern: '^[0-9]+$' },
    name: { type: 'string' },
    pool: { type: 'string' },
    dataset: { type: 'string', description: 'path relative to the pool ("" for the root dataset)' },
    kind: { enum: ['snapshot', 'bookmark'] },
    timestamp: nullableDateTime,
    size: nullableUint64String,
    used: nullableUint64String,
    referenced: nullableUint64String,
    guid: nullableUint64String,
    createtxg: nullableUint64String,
    userrefs: { type: ['integer', 'null'] },
    system_id: uuid,
    first_seen: nullableDateTime,
    last_seen: nullableDateTime,
    created_at: nullableDateTime,
    updated_at: nullableDateTime,
    extra_metadata: { type: 'object' },
  },
} as const;

const names = arrayOf({ type: 'string' });
const systemId = pathUuid('system_id', 'system id');
const dataset = (required: boolean) => queryParam('dataset', { type: 'string', maxLength: 255 }, 'dataset path relative to the pool (a pool prefix is understood)', required);
const systemIds = queryParam('system_ids', { type: 'array', items: { type: 'string', format: 'uuid' }, maxItems: 100 }, 'systems to compare, repeated (system_ids=A&system_ids=B); admins may omit it for every system holding the dataset');
const days = (dflt: number) => queryParam('days', { type: 'integer', minimum: 1, maximum: 3650, default: dflt }, 'window in days');
const pool = queryParam('pool', { type: 'string' }, 'only this pool');

export const SNAPSHOTS_API = {
  listForSystem: defineRoute({
    operationId: 'listSystemSnapshots',
    method: 'get',
    path: '/snapshots/system/{system_id}',
    tag: 'snapshots',
    callers: ['admin', 'host'],
    summary: "A system's snapshots and bookmarks, newest first, paged (X-Next-Cursor / Link)",
    params: [
      systemId,
      pool,
      dataset(false),
      queryParam('kind', { enum: ['snapshot', 'bookmark'] }, 'only this kind'),
      queryParam('limit', { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, 'page size'),
      queryParam('cursor', { type: 'string', maxLength: 200 }, 'from X-Next-Cursor'),
      queryParam('skip', { type: 'integer', minimum: 0, maximum: 1_000_000 }, 'rows to skip (not with cursor)'),
    ],
    responses: {
      200: json('a page', arrayOf(snapshotSchema), { 'X-Next-Cursor': { description: 'cursor of the next page, when there is one', schema: { type: 'string' } }, Link: { description: 'rel="next" URL', schema: { type: 'string' } } }),
      ...problems(400, 404, ...AUTHENTICATED),
    },
  }),
  deleteForSystem: defineRoute({
    operationId: 'deleteSystemSnapshots',
    method: 'delete',
    path: '/snapshots/system/{system_id}',
    tag: 'snapshots',
    callers: ['admin'],
    summary: "Forget a system's inventory (it reports again with its next run)",
    params: [systemId],
    responses: {
      200: json('what was deleted', {
        type: 'object',
        required: ['system_id', 'deleted_snapshots', 'deleted_datasets', 'deleted_history', 'deleted_count'],
        properties: { system_id: uuid, hostname: { type: 'string' }, deleted_snapshots: { type: 'integer' }, deleted_datasets: { type: 'integer' }, deleted_history: { type: 'integer' }, deleted_count: { type: 'integer' }, message: { type: 'string' } },
      }),
      ...problems(400, 404, ...AUTHENTICATED),
    },
  }),
  differences: defineRoute({
    operationId: 'snapshotDifferences',
    method: 'get',
    path: '/snapshots/differences',
    tag: 'snapshots',
    callers: ['admin', 'host'],
    summary: 'Snapshots of a dataset on one system and not the other (matched by guid)',
    params: [queryParam('system_id_1', { type: 'string', format: 'uuid' }, 'first system', true), queryParam('system_id_2', { type: 'string', format: 'uuid' }, 'second system', true), dataset(true)],
    responses: {
      200: json('the comparison', {
        type: 'object',
        required: ['system_1', 'system_2', 'dataset', 'only_in_system_1', 'only_in_system_2', 'in_both', 'matches'],
        properties: {
          system_1: uuid,
          system_2: uuid,
          dataset: { type: 'string' },
          only_in_system_1: names,
          only_in_system_2: names,
          in_both: names,
          matches: arrayOf({ type: 'object', required: ['system_1_name', 'system_2_name', 'match'], properties: { system_1_name: { type: 'string' }, system_2_name: { type: 'string' }, guid: nullableUint64String, match: { enum: ['guid', 'name'] } } }),
          comparison_timestamp: dateTime,
        },
      }),
      ...problems(400, 404, ...AUTHENTICATED),
    },
  }),
  gaps: defineRoute({
    operationId: 'snapshotGaps',
    method: 'get',
    path: '/snapshots/gaps',
    tag: 'snapshots',
    callers: ['admin', 'host'],
    summary: 'Per system, the snapshots of a dataset that other compared systems hold and it lacks',
    params: [dataset(true), systemIds],
    responses: {
      200: json('gaps', {
        type: 'object',
        required: ['gaps', 'count'],
        properties: {
          gaps: arrayOf({ type: 'object', required: ['system_id', 'missing_snapshot', 'guid', 'available_on_systems', 'dataset'], properties: { system_id: uuid, missing_snapshot: { type: 'string' }, guid: nullableUint64String, available_on_systems: arrayOf(uuid), dataset: { type: 'string' } } }),
          count: { type: 'integer' },
        },
      }),
      ...problems(400, 404, ...AUTHENTICATED),
    },
  }),
  compare: defineRoute({
    operationId: 'compareDataset',
    method: 'get',
    path: '/snapshots/compare-dataset',
    tag: 'snapshots',
    callers: ['admin', 'host'],
    summary: 'A dataset across systems: common, unique, missing and latest snapshots',
    params: [dataset(true), systemIds],
    responses: {
      200: json('the comparison', {
        type: 'object',
        required: ['dataset', 'common_snapshots', 'unique_snapshots', 'missing_snapshots', 'latest_snapshots'],
        properties: {
          dataset: { type: 'string' },
          common_snapshots: names,
          unique_snapshots: stringMap(names),
          missing_snapshots: stringMap(names),
          latest_snapshots: stringMap({ type: 'object', required: ['name'], properties: { name: { type: 'string' }, timestamp: nullableDateTime, size: nullableUint64String } }),
          comparison_timestamp: dateTime,
        },
      }),
      ...problems(400, 404, ...AUTHENTICATED),
    },
  }),
  history: defineRoute({
    operationId: 'snapshotHistory',
    method: 'get',
    path: '/snapshots/history/{system_id}',
    tag: 'snapshots',
    callers: ['admin', 'host'],
    summary: 'Snapshots that appeared or disappeared on a system, newest first',
    params: [systemId, days(7), queryParam('limit', { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, 'at most this many events'), pool, dataset(false)],
    responses: {
      200: json('history', {
        type: 'object',
        required: ['system_id', 'days', 'history', 'count'],
        properties: {
          system_id: uuid,
          days: { type: 'integer' },
          history: arrayOf({ allOf: [snapshotSchema, { type: 'object', required: ['event', 'at'], properties: { event: { enum: ['appeared', 'disappeared'] }, at: nullableDateTime, gone_at: nullableDateTime } }] }),
          count: { type: 'integer' },
        },
      }),
      ...problems(400, 404, ...AUTHENTICATED),
    },
  }),
  statistics: defineRoute({
    operationId: 'snapshotStatistics',
    method: 'get',
    path: '/snapshots/statistics/{system_id}',
    tag: 'snapshots',
    callers: ['admin', 'host'],
    summary: "Counts and sizes of a system's inventory, per pool",
    params: [systemId, days(30)],
    responses: {
      200: json('statistics', {
        type: 'object',
        required: ['system_id', 'total_snapshots', 'total_bookmarks', 'total_datasets', 'total_used', 'per_pool', 'days'],
        properties: {
          system_id: uuid,
          total_snapshots: { type: 'integer' },
          total_bookmarks: { type: 'integer' },
          total_datasets: { type: 'integer' },
          total_used: uint64String,
          oldest_snapshot: nullableDateTime,
          newest_snapshot: nullableDateTime,
          appeared_last_days: { type: 'integer' },
          disappeared_last_days: { type: 'integer' },
          per_pool: stringMap({ type: 'object', required: ['datasets', 'snapshots', 'bookmarks'], properties: { datasets: { type: 'integer' }, snapshots: { type: 'integer' }, bookmarks: { type: 'integer' }, used: { type: ['string', 'null'] } } }),
          days: { type: 'integer' },
          period_days: { type: 'integer' },
          total_size: uint64String,
        },
      }),
      ...problems(400, 404, ...AUTHENTICATED),
    },
  }),
  get: defineRoute({
    operationId: 'getSnapshot',
    method: 'get',
    path: '/snapshots/{id}',
    tag: 'snapshots',
    callers: ['admin', 'host'],
    summary: 'One snapshot or bookmark by id',
    params: [{ name: 'id', in: 'path', required: true, description: 'snapshot id', schema: { type: 'string', pattern: '^[0-9]{1,19}$' } }],
    responses: { 200: json('the snapshot', snapshotSchema), ...problems(400, 404, ...AUTHENTICATED) },
  }),
} as const;
