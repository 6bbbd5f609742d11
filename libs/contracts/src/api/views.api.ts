import { arrayOf, dateTime, nullableUuid, uuid } from './common.js';
import { AUTHENTICATED, defineRoute, json, pathUuid, problems, queryParam } from './route.js';

/** Read views for operators and their tools (the dashboard reads these like any other client). */

const page = [queryParam('limit', { type: 'integer', minimum: 1 }, 'page size'), queryParam('offset', { type: 'integer', minimum: 0 }, 'rows to skip')];
const groupId = pathUuid('id', 'sync group id');
const obj = (required: string[], properties: Record<string, object> = {}) => ({ type: 'object', required, properties }) as const;

export const VIEWS_API = {
  whoami: defineRoute({
    operationId: 'whoami',
    method: 'get',
    path: '/whoami',
    tag: 'views',
    callers: ['admin', 'viewer', 'host', 'enrollment'],
    summary: 'What the presented credential is and may do',
    responses: { 200: json('the caller', obj(['kind', 'can_write'], { kind: { enum: ['admin', 'viewer', 'host', 'enrollment'] }, system_id: uuid, can_write: { type: 'boolean' } })), ...problems(...AUTHENTICATED) },
  }),
  overview: defineRoute({
    operationId: 'getOverview',
    method: 'get',
    path: '/overview',
    tag: 'views',
    callers: ['admin', 'viewer'],
    summary: 'The fleet at a glance: systems, links by verdict, conflicts, lag, queue backlog',
    responses: {
      200: json('the overview', obj(['queues', 'generated_at'], { queues: obj(['backlog', 'by_queue'], { backlog: { type: ['integer', 'null'] }, by_queue: { type: ['object', 'null'] } }), generated_at: dateTime })),
      ...problems(400, ...AUTHENTICATED),
    },
  }),
  fleetStatistics: defineRoute({
    operationId: 'getFleetStatistics',
    method: 'get',
    path: '/statistics/fleet',
    tag: 'views',
    callers: ['admin', 'viewer'],
    summary: 'Snapshots over the last days and the pools with the most snapshots',
    params: [queryParam('days', { type: 'integer', minimum: 1, maximum: 365, default: 30 }, 'window in days'), queryParam('top_pools', { type: 'integer', minimum: 1, maximum: 100, default: 10 }, 'how many pools')],
    responses: { 200: json('statistics', { type: 'object' }), ...problems(400, ...AUTHENTICATED) },
  }),
  protection: defineRoute({
    operationId: 'listProtection',
    method: 'get',
    path: '/protection',
    tag: 'views',
    callers: ['admin', 'viewer'],
    summary: 'Per dataset, how many hosts, pools and sites hold its newest eligible snapshot — least protected first',
    params: [queryParam('sync_group_id', { type: 'string', format: 'uuid' }, 'only this group'), queryParam('only_violations', { enum: ['true', 'false', '1', '0'] }, 'only datasets short of their policy'), ...page],
    responses: { 200: json('one page', obj(['total', 'limit', 'offset', 'items'], { total: { type: 'integer' }, limit: { type: 'integer' }, offset: { type: 'integer' }, items: arrayOf({ type: 'object' }) })), ...problems(400, ...AUTHENTICATED) },
  }),
  systemDatasets: defineRoute({
    operationId: 'listSystemDatasets',
    method: 'get',
    path: '/systems/{id}/datasets',
    tag: 'views',
    callers: ['admin', 'host'],
    summary: "A system's datasets with their snapshot counts",
    params: [pathUuid('id', 'system id'), ...page],
    responses: { 200: json('one page', obj(['limit', 'offset'], { limit: { type: 'integer' }, offset: { type: 'integer' } })), ...problems(400, 404, ...AUTHENTICATED) },
  }),
  groupMatrix: defineRoute({
    operationId: 'getGroupMatrix',
    method: 'get',
    path: '/sync/groups/{id}/matrix',
    tag: 'views',
    callers: ['admin', 'viewer'],
    summary: "A group as datasets × members, each cell the member's verdict (worst incoming link)",
    params: [groupId, queryParam('q', { type: 'string', maxLength: 255 }, 'dataset path contains'), queryParam('only_problems', { enum: ['true', 'false', '1', '0'] }, 'only datasets with a problem'), ...page],
    responses: {
      200: json(
        'the matrix',
        obj(['sync_group', 'members', 'total', 'limit', 'offset', 'rows'], {
          sync_group: obj(['id', 'name'], { id: uuid, name: { type: 'string' }, hub_system_id: nullableUuid }),
          members: arrayOf({ type: 'object' }),
          total: { type: 'integer' },
          limit: { type: 'integer' },
          offset: { type: 'integer' },
          rows: arrayOf(obj(['dataset', 'cells'], { dataset: { type: 'string' }, problem: { type: 'boolean' }, cells: arrayOf(obj(['system_id', 'state'], { system_id: uuid, state: { type: 'string' } })) })),
        }),
      ),
      ...problems(400, 404, ...AUTHENTICATED),
    },
  }),
  linkDetail: defineRoute({
    operationId: 'getLinkDetail',
    method: 'get',
    path: '/sync/groups/{id}/links/detail',
    tag: 'views',
    callers: ['admin', 'viewer'],
    summary: 'One link with its plan history, transitions and lag samples',
    params: [
      groupId,
      queryParam('dataset', { type: 'string', maxLength: 255 }, 'dataset path relative to the pool (empty for the root)', true),
      queryParam('source_system_id', { type: 'string', format: 'uuid' }, 'source', true),
      queryParam('target_system_id', { type: 'string', format: 'uuid' }, 'target', true),
      queryParam('days', { type: 'integer', minimum: 1, maximum: 30, default: 7 }, 'history window'),
    ],
    responses: {
      200: json('the link', obj(['link', 'plans', 'transitions', 'lag_history'], { link: { type: 'object' }, plans: arrayOf({ type: 'object' }), transitions: arrayOf({ type: 'object' }), lag_history: arrayOf(obj(['at'], { at: dateTime, lag_seconds: { type: ['integer', 'null'] }, verdict: { type: ['string', 'null'] } })) })),
      ...problems(400, 404, ...AUTHENTICATED),
    },
  }),
} as const;
