import { CONNECTIVITY_STATUSES, heartbeatSchema, registerSystemSchema, rotateKeySchema, updateSystemSchema } from '../schemas/system.schema.js';
import { arrayOf, dateTime, nullableDateTime, uuid } from './common.js';
import { AUTHENTICATED, defineRoute, json, noContent, pathUuid, problems, queryParam } from './route.js';

export const systemSchema = {
  $id: 'System',
  type: 'object',
  required: ['id', 'hostname', 'platform', 'connectivity_status', 'ssh_hostname', 'ssh_user', 'ssh_port', 'extra_metadata', 'last_seen', 'created_at', 'updated_at'],
  properties: {
    id: uuid,
    hostname: { type: 'string' },
    platform: { type: 'string' },
    connectivity_status: { enum: CONNECTIVITY_STATUSES },
    ssh_hostname: { type: ['string', 'null'] },
    ssh_user: { type: ['string', 'null'] },
    ssh_port: { type: 'integer' },
    extra_metadata: { type: 'object' },
    last_seen: nullableDateTime,
    created_at: dateTime,
    updated_at: dateTime,
  },
} as const;

const systemWithKey = {
  $id: 'RegisteredSystem',
  description: 'The system, with its host key: shown only in this answer (only its SHA-256 is stored)',
  allOf: [systemSchema, { type: 'object', required: ['api_key'], properties: { api_key: { type: 'string', pattern: '^zs_host_' } } }],
} as const;

const systemHealth = {
  $id: 'SystemHealth',
  type: 'object',
  required: ['system_id', 'hostname', 'status', 'last_seen', 'seconds_since_last_seen', 'timeout_seconds', 'is_healthy'],
  properties: {
    system_id: uuid,
    hostname: { type: 'string' },
    status: { enum: ['online', 'offline'] },
    last_seen: nullableDateTime,
    seconds_since_last_seen: { type: ['integer', 'null'] },
    timeout_seconds: { type: 'integer' },
    is_healthy: { type: 'boolean' },
  },
} as const;

const systemHealthList = { $id: 'SystemHealthList', type: 'object', required: ['systems', 'count'], properties: { systems: arrayOf(systemHealth), count: { type: 'integer' } } } as const;
const id = pathUuid('id', 'system id');

const healthList = (filter: 'all' | 'online' | 'offline') =>
  defineRoute({
    operationId: `listSystemsHealth${filter[0]!.toUpperCase()}${filter.slice(1)}`,
    method: 'get',
    path: `/systems/health/${filter}`,
    tag: 'systems',
    callers: ['admin'],
    summary: filter === 'all' ? 'Heartbeat health of every system' : `Systems that are ${filter} (heartbeat within the timeout or not)`,
    responses: { 200: json('systems and their count', systemHealthList), ...problems(...AUTHENTICATED) },
  });

export const SYSTEMS_API = {
  register: defineRoute({
    operationId: 'registerSystem',
    method: 'post',
    path: '/systems',
    tag: 'systems',
    callers: ['admin', 'enrollment', 'open-registration'],
    summary: 'Register a system; the answer carries its host key, once',
    body: { schema: registerSystemSchema },
    responses: { 201: json('registered', systemWithKey), ...problems(400, 409, 413, 415, ...AUTHENTICATED) },
  }),
  list: defineRoute({
    operationId: 'listSystems',
    method: 'get',
    path: '/systems',
    tag: 'systems',
    callers: ['admin', 'viewer'],
    summary: 'Every system (a bare array, as the original API); with any query parameter one page, searched, filtered and sorted, the total in X-Total-Count',
    params: [
      queryParam('q', { type: 'string', maxLength: 253 }, 'host name, site or platform contains'),
      queryParam('status', { enum: ['online', 'offline'] }, 'heartbeat status'),
      queryParam('site', { type: 'string', maxLength: 64 }, 'site'),
      queryParam('sort', { enum: ['hostname', 'platform', 'site', 'status', 'last_seen', 'last_inventory_at', 'created_at'] }, 'sort key'),
      queryParam('order', { enum: ['asc', 'desc'] }, 'sort order'),
      queryParam('limit', { type: 'integer', minimum: 1, maximum: 1000 }, 'page size'),
      queryParam('offset', { type: 'integer', minimum: 0 }, 'rows to skip'),
      queryParam('include', { enum: ['stats'] }, 'add dataset and snapshot counts'),
    ],
    responses: { 200: json('systems', arrayOf(systemSchema), { 'X-Total-Count': { description: 'paged form: all matching systems', schema: { type: 'integer' } } }), ...problems(400, ...AUTHENTICATED) },
  }),
  healthAll: healthList('all'),
  healthOnline: healthList('online'),
  healthOffline: healthList('offline'),
  get: defineRoute({ operationId: 'getSystem', method: 'get', path: '/systems/{id}', tag: 'systems', callers: ['admin', 'host'], summary: 'One system', params: [id], responses: { 200: json('the system', systemSchema), ...problems(400, 404, ...AUTHENTICATED) } }),
  update: defineRoute({
    operationId: 'updateSystem',
    method: 'put',
    path: '/systems/{id}',
    tag: 'systems',
    callers: ['admin'],
    summary: 'Change a system (only the fields sent)',
    params: [id],
    body: { schema: updateSystemSchema },
    responses: { 200: json('the changed system', systemSchema), ...problems(400, 404, 409, 413, 415, ...AUTHENTICATED) },
  }),
  delete: defineRoute({ operationId: 'deleteSystem', method: 'delete', path: '/systems/{id}', tag: 'systems', callers: ['admin'], summary: 'Delete a system with its inventory and keys', params: [id], responses: { 204: noContent('deleted'), ...problems(400, 404, 409, ...AUTHENTICATED) } }),
  heartbeat: defineRoute({
    operationId: 'heartbeat',
    method: 'post',
    path: '/systems/{id}/heartbeat',
    tag: 'systems',
    callers: ['host'],
    summary: "A host's heartbeat, with its own key (body optional)",
    params: [id],
    body: { schema: heartbeatSchema, optional: true },
    responses: {
      200: json('recorded', { type: 'object', required: ['system_id', 'last_seen', 'status'], properties: { system_id: uuid, last_seen: dateTime, status: { const: 'online' } } }),
      ...problems(400, 404, 413, 415, ...AUTHENTICATED),
    },
  }),
  rotateKey: defineRoute({
    operationId: 'rotateSystemKey',
    method: 'post',
    path: '/systems/{id}/api-key/rotate',
    tag: 'systems',
    callers: ['admin', 'host'],
    summary: 'New host key (shown once); the old one keeps working for old_key_valid_seconds',
    params: [id],
    body: { schema: rotateKeySchema, optional: true },
    responses: {
      200: json('the new key', { type: 'object', required: ['system_id', 'api_key', 'old_key_valid_seconds'], properties: { system_id: uuid, api_key: { type: 'string' }, old_key_valid_seconds: { type: 'integer' } } }),
      ...problems(400, 404, 413, 415, ...AUTHENTICATED),
    },
  }),
  health: defineRoute({ operationId: 'getSystemHealth', method: 'get', path: '/systems/{id}/health', tag: 'systems', callers: ['admin', 'host'], summary: "One system's heartbeat health", params: [id], responses: { 200: json('health', systemHealth), ...problems(400, 404, ...AUTHENTICATED) } }),
} as const;
