import {
  addGroupMembersSchema,
  createSyncGroupSchema,
  instructionStatusSchema,
  resolveConflictSchema,
  RESOLUTION_STRATEGIES,
  SYNC_STATE_STATUSES,
  syncStateReportSchema,
  updateSyncGroupSchema,
} from '../schemas/sync.schema.js';
import { instructionCommandFieldsSchema } from '../schemas/instruction.schema.js';
import { arrayOf, dateTime, nullableDateTime, nullableUint64String, nullableUuid, stringMap, uuid } from './common.js';
import { AUTHENTICATED, defineRoute, json, noContent, pathUuid, problems, queryParam } from './route.js';

const LINK_VERDICTS = ['in_sync', 'behind', 'out_of_sync', 'diverged', 'no_common_base', 'not_seeded', 'syncing', 'error'] as const;

export const syncGroupSchema = {
  $id: 'SyncGroup',
  type: 'object',
  required: ['id', 'name', 'enabled', 'directional', 'hub_system_id', 'system_ids', 'transfer_mode', 'max_lag_seconds', 'created_at', 'updated_at'],
  properties: {
    id: uuid,
    name: { type: 'string' },
    description: { type: ['string', 'null'] },
    enabled: { type: 'boolean' },
    sync_interval_seconds: { type: 'integer' },
    directional: { type: 'boolean' },
    hub_system_id: nullableUuid,
    extra_metadata: { type: 'object' },
    system_ids: arrayOf(uuid),
    transfer_mode: { enum: ['push', 'pull'] },
    snapshot_pattern: { type: ['string', 'null'] },
    min_snapshot_age_seconds: { type: 'integer' },
    max_lag_seconds: { type: 'integer' },
    datasets: { type: 'object', properties: { include: arrayOf({ type: 'string' }), exclude: arrayOf({ type: 'string' }) } },
    target_pools: stringMap({ type: 'string' }),
    send_options: { type: 'object', properties: { compressed: { type: 'boolean' }, raw: { type: 'boolean' } } },
    receive_options: { type: 'object', properties: { resumable: { type: 'boolean' }, unmounted: { type: 'boolean' } } },
    created_at: dateTime,
    updated_at: dateTime,
  },
} as const;

export const instructionSchema = {
  $id: 'Instruction',
  type: 'object',
  required: ['instruction_id', 'kind', 'sync_group_id', 'source_system_id', 'target_system_id', 'pool', 'dataset', 'target_pool', 'target_dataset', 'ending_snapshot', 'commands', 'status'],
  properties: {
    // The fields the commands are made of: the agent rebuilds the commands from them.
    ...instructionCommandFieldsSchema.properties,
    instruction_id: uuid,
    kind: { enum: ['transfer', 'remedy'] },
    strategy: { type: 'string' },
    sync_group_id: uuid,
    source_system_id: uuid,
    target_system_id: uuid,
    pool: { type: 'string' },
    dataset: { type: 'string' },
    dataset_path: { type: 'string' },
    target_pool: { type: 'string' },
    target_dataset: { type: 'string' },
    starting_snapshot: { type: ['string', 'null'] },
    starting_guid: nullableUint64String,
    ending_snapshot: { type: ['string', 'null'] },
    ending_guid: nullableUint64String,
    is_incremental: { type: 'boolean' },
    snapshot_count: { type: ['integer', 'null'] },
    resume_token: { type: ['string', 'null'] },
    source_ssh_hostname: { type: ['string', 'null'] },
    target_ssh_hostname: { type: ['string', 'null'] },
    commands: arrayOf({ type: 'string' }),
    would_destroy: arrayOf({ type: 'string' }),
    status: { type: 'string' },
    attempts: { type: 'integer' },
    consecutive_failures: { type: 'integer' },
    last_error: { type: ['string', 'null'] },
    lease_expires_at: nullableDateTime,
    next_attempt_at: nullableDateTime,
  },
} as const;

export const linkSchema = {
  $id: 'Link',
  type: 'object',
  required: ['sync_group_id', 'dataset', 'source_system_id', 'target_system_id', 'verdict', 'lag_seconds', 'explanation', 'updated_at'],
  properties: {
    sync_group_id: uuid,
    dataset: { type: 'string' },
    source_system_id: uuid,
    target_system_id: uuid,
    verdict: { enum: LINK_VERDICTS },
    computed_verdict: { enum: LINK_VERDICTS },
    lag_seconds: { type: ['integer', 'null'] },
    base: { type: ['object', 'null'], properties: { name: { type: 'string' }, guid: nullableUint64String, kind: { type: 'string' } } },
    source_only_count: { type: 'integer' },
    target_only_count: { type: 'integer' },
    name_collision: { type: 'boolean' },
    matched_by: { type: 'string' },
    explanation: { type: 'string' },
    instruction_id: nullableUuid,
    conflict_id: nullableUuid,
    updated_at: dateTime,
  },
} as const;

export const syncStateSchema = {
  $id: 'SyncState',
  type: 'object',
  required: ['id', 'sync_group_id', 'dataset', 'system_id', 'status', 'error_message', 'source', 'last_sync', 'updated_at'],
  properties: {
    id: { type: 'string' },
    sync_group_id: uuid,
    dataset: { type: 'string' },
    system_id: uuid,
    status: { enum: SYNC_STATE_STATUSES },
    error_message: { type: ['string', 'null'] },
    source: { enum: ['computed', 'reported'] },
    last_sync: dateTime,
    updated_at: dateTime,
  },
} as const;

export const resolutionSchema = {
  $id: 'ConflictResolution',
  type: 'object',
  description: 'An operator\'s choice, recorded by the API and carried out by the recompute processor',
  required: ['id', 'strategy', 'confirmed', 'status', 'requested_at'],
  properties: {
    id: { type: 'string' },
    strategy: { enum: RESOLUTION_STRATEGIES },
    confirmed: { type: 'boolean' },
    note: { type: ['string', 'null'] },
    requested_by: { type: 'string' },
    would_destroy: arrayOf({ type: 'string' }),
    status: { enum: ['pending', 'applied', 'refused'] },
    outcome: { type: ['string', 'null'] },
    instruction_id: nullableUuid,
    requested_at: dateTime,
    processed_at: nullableDateTime,
  },
} as const;

export const conflictSchema = {
  $id: 'Conflict',
  type: 'object',
  required: ['id', 'sync_group_id', 'dataset', 'type', 'severity', 'source_system_id', 'target_system_id', 'details', 'status', 'detected_at', 'strategies'],
  properties: {
    id: uuid,
    sync_group_id: uuid,
    dataset: { type: 'string' },
    type: { enum: ['diverged', 'no_common_base', 'name_collision'] },
    severity: { type: 'string' },
    source_system_id: uuid,
    target_system_id: uuid,
    details: { type: 'object' },
    status: { enum: ['open', 'resolved', 'ignored'] },
    detected_at: dateTime,
    updated_at: dateTime,
    resolved_at: nullableDateTime,
    resolution: { type: ['object', 'null'] },
    resolution_requests: arrayOf(resolutionSchema),
    strategies: arrayOf({ enum: RESOLUTION_STRATEGIES }),
  },
} as const;

const groupId = pathUuid('id', 'sync group id');
const group = json('the group', syncGroupSchema);
const links = json('links', arrayOf(linkSchema));
const states = json('states', arrayOf(syncStateSchema));
const conflicts = json('conflicts', arrayOf(conflictSchema));
const statusFilter = queryParam('status', { enum: SYNC_STATE_STATUSES }, 'only this status');
const conflictStatus = queryParam('status', { enum: ['open', 'resolved', 'ignored'] }, 'only this status');
const datasetFilter = queryParam('dataset', { type: 'string' }, 'only this dataset path');
const systemFilter = queryParam('system_id', { type: 'string', format: 'uuid' }, 'only links/states of this system (its own host key may ask)');
const groupFilter = queryParam('sync_group_id', { type: 'string', format: 'uuid' }, 'only this sync group');

export const SYNC_GROUPS_API = {
  create: defineRoute({
    operationId: 'createSyncGroup',
    method: 'post',
    path: '/sync-groups',
    tag: 'sync-groups',
    callers: ['admin'],
    summary: 'Create a sync group (members, topology and replication policy)',
    body: { schema: createSyncGroupSchema },
    responses: { 201: json('created', syncGroupSchema), ...problems(400, 409, 413, 415, ...AUTHENTICATED) },
  }),
  list: defineRoute({ operationId: 'listSyncGroups', method: 'get', path: '/sync-groups', tag: 'sync-groups', callers: ['admin'], summary: 'Every sync group', responses: { 200: json('groups', arrayOf(syncGroupSchema)), ...problems(...AUTHENTICATED) } }),
  get: defineRoute({ operationId: 'getSyncGroup', method: 'get', path: '/sync-groups/{id}', tag: 'sync-groups', callers: ['admin'], summary: 'One sync group', params: [groupId], responses: { 200: group, ...problems(400, 404, ...AUTHENTICATED) } }),
  update: defineRoute({
    operationId: 'updateSyncGroup',
    method: 'put',
    path: '/sync-groups/{id}',
    tag: 'sync-groups',
    callers: ['admin'],
    summary: 'Change a sync group (only the fields sent)',
    params: [groupId],
    body: { schema: updateSyncGroupSchema },
    responses: { 200: group, ...problems(400, 404, 409, 413, 415, ...AUTHENTICATED) },
  }),
  delete: defineRoute({ operationId: 'deleteSyncGroup', method: 'delete', path: '/sync-groups/{id}', tag: 'sync-groups', callers: ['admin'], summary: 'Delete a sync group', params: [groupId], responses: { 204: noContent('deleted'), ...problems(400, 404, ...AUTHENTICATED) } }),
  addMembers: defineRoute({
    operationId: 'addSyncGroupMembers',
    method: 'post',
    path: '/sync-groups/{id}/systems',
    tag: 'sync-groups',
    callers: ['admin'],
    summary: 'Add systems to a group',
    params: [groupId],
    body: { schema: addGroupMembersSchema },
    responses: { 200: group, ...problems(400, 404, 409, 413, 415, ...AUTHENTICATED) },
  }),
  removeMember: defineRoute({
    operationId: 'removeSyncGroupMember',
    method: 'delete',
    path: '/sync-groups/{id}/systems/{system_id}',
    tag: 'sync-groups',
    callers: ['admin'],
    summary: 'Remove a system from a group (not its hub)',
    params: [groupId, pathUuid('system_id', 'member system id')],
    responses: { 200: group, ...problems(400, 404, 409, ...AUTHENTICATED) },
  }),
} as const;

export const SYNC_API = {
  instructions: defineRoute({
    operationId: 'getInstructions',
    method: 'get',
    path: '/sync/instructions/{system_id}',
    tag: 'sync',
    callers: ['admin', 'host'],
    summary: 'The transfers this system must run now (a host asking with its own key leases them)',
    params: [pathUuid('system_id', 'the executing system'), groupFilter, queryParam('include_diagnostics', { enum: ['true', 'false', '1', '0'] }, 'also explain every link of the system that has no plan for it now'), queryParam('lease', { enum: ['true', 'false'] }, 'false: a host looks at its plans without taking their offer lease (the agent\'s --dry-run)')],
    responses: {
      200: json('instructions', {
        type: 'object',
        required: ['system_id', 'timestamp', 'dataset_count', 'datasets', 'incoming'],
        properties: {
          system_id: uuid,
          timestamp: dateTime,
          dataset_count: { type: 'integer' },
          datasets: arrayOf(instructionSchema),
          incoming: arrayOf({ type: 'object', required: ['instruction_id', 'source_system_id', 'dataset', 'status'], properties: { instruction_id: uuid, sync_group_id: uuid, source_system_id: uuid, dataset: { type: 'string' }, status: { type: 'string' }, ending_snapshot: { type: ['string', 'null'] }, ending_guid: nullableUint64String } }),
          diagnostics: arrayOf({ type: 'object', required: ['sync_group_id', 'dataset', 'verdict', 'reason'], properties: { sync_group_id: uuid, dataset: { type: 'string' }, source_system_id: uuid, target_system_id: uuid, verdict: { type: 'string' }, conflict_id: nullableUuid, instruction_id: nullableUuid, reason: { type: 'string' } } }),
        },
      }),
      ...problems(400, 404, ...AUTHENTICATED),
    },
  }),
  instructionStatus: defineRoute({
    operationId: 'reportInstructionStatus',
    method: 'post',
    path: '/sync/instructions/{instruction_id}/status',
    tag: 'sync',
    callers: ['host'],
    summary: 'The executing host reports started / progress / succeeded / failed',
    params: [pathUuid('instruction_id', 'instruction id')],
    body: { schema: instructionStatusSchema },
    responses: { 200: json('the instruction as it is now', instructionSchema), ...problems(400, 404, 409, 413, 415, ...AUTHENTICATED) },
  }),
  groupLinks: defineRoute({ operationId: 'listGroupLinks', method: 'get', path: '/sync/groups/{id}/links', tag: 'sync', callers: ['admin'], summary: "A group's links with their verdicts", params: [groupId], responses: { 200: links, ...problems(400, 404, ...AUTHENTICATED) } }),
  links: defineRoute({
    operationId: 'listLinks',
    method: 'get',
    path: '/sync/links',
    tag: 'sync',
    callers: ['admin', 'viewer', 'host'],
    summary: 'Links (of one system, or all for operators); with paging parameters one page, worst first, the total in X-Total-Count',
    params: [
      systemFilter,
      groupFilter,
      queryParam('verdict', { type: 'string' }, 'comma-separated verdicts'),
      queryParam('only_problems', { enum: ['true', 'false', '1', '0'] }, 'only links that need attention'),
      queryParam('q', { type: 'string', maxLength: 255 }, 'dataset or host name contains'),
      queryParam('limit', { type: 'integer', minimum: 1 }, 'page size'),
      queryParam('offset', { type: 'integer', minimum: 0 }, 'rows to skip'),
    ],
    responses: { 200: links, ...problems(400, ...AUTHENTICATED) },
  }),
  states: defineRoute({ operationId: 'listSyncStates', method: 'get', path: '/sync/states', tag: 'sync', callers: ['admin', 'host'], summary: 'Sync states (the original per-dataset, per-system view)', params: [groupFilter, systemFilter, statusFilter, datasetFilter], responses: { 200: states, ...problems(400, ...AUTHENTICATED) } }),
  groupStates: defineRoute({ operationId: 'listGroupSyncStates', method: 'get', path: '/sync/groups/{id}/states', tag: 'sync', callers: ['admin'], summary: "A group's sync states", params: [groupId, systemFilter, statusFilter, datasetFilter], responses: { 200: states, ...problems(400, 404, ...AUTHENTICATED) } }),
  groupStatus: defineRoute({
    operationId: 'getGroupSyncStatus',
    method: 'get',
    path: '/sync/groups/{id}/status',
    tag: 'sync',
    callers: ['admin'],
    summary: "Counts of a group's sync states",
    params: [groupId],
    responses: {
      200: json('counts', {
        type: 'object',
        required: ['sync_group_id', 'total_states', 'status_breakdown', 'last_updated'],
        properties: {
          sync_group_id: uuid,
          total_states: { type: 'integer' },
          status_breakdown: stringMap({ type: 'integer' }),
          in_sync_count: { type: 'integer' },
          out_of_sync_count: { type: 'integer' },
          syncing_count: { type: 'integer' },
          conflict_count: { type: 'integer' },
          error_count: { type: 'integer' },
          last_updated: nullableDateTime,
        },
      }),
      ...problems(400, 404, ...AUTHENTICATED),
    },
  }),
  groupAnalysis: defineRoute({
    operationId: 'getGroupAnalysis',
    method: 'get',
    path: '/sync/groups/{id}/analysis',
    tag: 'sync',
    callers: ['admin'],
    summary: 'Every dataset of a group × every member: presence, newest snapshot, state, verdict',
    params: [groupId],
    responses: {
      200: json('analysis', {
        type: 'object',
        required: ['sync_group_id', 'dataset_count', 'datasets'],
        properties: {
          sync_group_id: uuid,
          dataset_count: { type: 'integer' },
          datasets: arrayOf({
            type: 'object',
            required: ['dataset', 'systems'],
            properties: {
              dataset: { type: 'string' },
              systems: arrayOf({
                type: 'object',
                required: ['system_id', 'hostname', 'present', 'snapshot_count', 'latest_snapshot', 'status'],
                properties: {
                  system_id: uuid,
                  hostname: { type: 'string' },
                  present: { type: 'boolean' },
                  pool: { type: ['string', 'null'] },
                  snapshot_count: { type: 'integer' },
                  latest_snapshot: { type: ['object', 'null'], properties: { name: { type: 'string' }, guid: nullableUint64String, timestamp: dateTime } },
                  status: { type: 'string' },
                  verdict: { type: ['string', 'null'] },
                },
              }),
            },
          }),
          analysis_timestamp: dateTime,
        },
      }),
      ...problems(400, 404, ...AUTHENTICATED),
    },
  }),
  reportState: defineRoute({
    operationId: 'reportSyncState',
    method: 'post',
    path: '/sync/states',
    tag: 'sync',
    callers: ['admin', 'host'],
    summary: 'A host reports a sync state by hand (JSON body, or the same fields as query parameters as the original client sends them)',
    params: [groupFilter, queryParam('dataset', { type: 'string' }, 'query form'), queryParam('system_id', { type: 'string', format: 'uuid' }, 'query form'), statusFilter, queryParam('error_message', { type: 'string' }, 'query form')],
    body: { schema: syncStateReportSchema, optional: true },
    responses: { 200: json('the stored state', syncStateSchema), ...problems(400, 404, 413, 415, ...AUTHENTICATED) },
  }),
} as const;

const conflictId = pathUuid('id', 'conflict id');
export const CONFLICTS_API = {
  list: defineRoute({
    operationId: 'listConflicts',
    method: 'get',
    path: '/conflicts',
    tag: 'conflicts',
    callers: ['admin'],
    summary: 'Conflicts, newest first (with limit/offset: one page, the total in X-Total-Count)',
    params: [groupFilter, conflictStatus, queryParam('limit', { type: 'integer', minimum: 1, maximum: 1000 }, 'page size'), queryParam('offset', { type: 'integer', minimum: 0 }, 'rows to skip')],
    responses: { 200: conflicts, ...problems(400, ...AUTHENTICATED) },
  }),
  forGroup: defineRoute({ operationId: 'listGroupConflicts', method: 'get', path: '/conflicts/sync-group/{id}', tag: 'conflicts', callers: ['admin'], summary: "A group's conflicts", params: [groupId, conflictStatus], responses: { 200: conflicts, ...problems(400, ...AUTHENTICATED) } }),
  summary: defineRoute({
    operationId: 'getConflictSummary',
    method: 'get',
    path: '/conflicts/summary/{id}',
    tag: 'conflicts',
    callers: ['admin'],
    summary: "Counts of a group's conflicts by status, type and severity",
    params: [groupId],
    responses: {
      200: json('counts', {
        type: 'object',
        required: ['sync_group_id', 'total_conflicts', 'open_conflicts', 'by_status', 'by_type', 'by_severity'],
        properties: { sync_group_id: uuid, total_conflicts: { type: 'integer' }, open_conflicts: { type: 'integer' }, by_status: stringMap({ type: 'integer' }), by_type: stringMap({ type: 'integer' }), by_severity: stringMap({ type: 'integer' }), summary_timestamp: dateTime },
      }),
      ...problems(400, ...AUTHENTICATED),
    },
  }),
  get: defineRoute({ operationId: 'getConflict', method: 'get', path: '/conflicts/{id}', tag: 'conflicts', callers: ['admin'], summary: 'One conflict', params: [conflictId], responses: { 200: json('the conflict', conflictSchema), ...problems(400, 404, ...AUTHENTICATED) } }),
  resolve: defineRoute({
    operationId: 'resolveConflict',
    method: 'post',
    path: '/conflicts/{id}/resolve',
    tag: 'conflicts',
    callers: ['admin'],
    summary: 'Resolve a conflict: destructive strategies need "confirm": true, else 409 lists what would be destroyed',
    params: [conflictId],
    body: { schema: resolveConflictSchema },
    responses: {
      202: json(
        'the choice is recorded; the recompute processor carries it out (a remedy plan for the executing host, or closing the conflict)',
        {
          type: 'object',
          required: ['conflict', 'resolution', 'would_destroy', 'status_url'],
          properties: { conflict: conflictSchema, resolution: resolutionSchema, would_destroy: arrayOf({ type: 'string' }), status_url: { type: 'string' } },
        },
        { Location: { description: 'the conflict, to follow the resolution', schema: { type: 'string' } } },
      ),
      ...problems(400, 404, 409, 413, 415, ...AUTHENTICATED),
    },
  }),
} as const;
