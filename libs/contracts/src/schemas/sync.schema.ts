import type { FromSchema } from 'json-schema-to-ts';
import { metadataObject, uuidString } from './common.schema.js';

/** Sync groups (original fields + the policy fields), instruction feedback, conflict resolution. */

const groupFields = {
  name: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[^\\u0000-\\u001f]+$', description: 'must be 1–128 printable characters' },
  description: { anyOf: [{ type: 'string', maxLength: 2000 }, { type: 'null' }] },
  enabled: { type: 'boolean' },
  sync_interval_seconds: { type: 'integer', minimum: 60, maximum: 604_800 },
  directional: { type: 'boolean' },
  hub_system_id: { anyOf: [uuidString, { type: 'null' }] },
  extra_metadata: metadataObject,
  system_ids: { type: 'array', maxItems: 1000, items: uuidString },
  transfer_mode: { enum: ['push', 'pull'] },
  snapshot_pattern: { anyOf: [{ type: 'string', minLength: 1, maxLength: 256 }, { type: 'null' }] },
  min_snapshot_age_seconds: { type: 'integer', minimum: 0, maximum: 31_536_000 },
  max_lag_seconds: { type: 'integer', minimum: 0, maximum: 315_360_000 },
  datasets: {
    type: 'object',
    additionalProperties: false,
    properties: {
      include: { type: 'array', maxItems: 256, items: { type: 'string', minLength: 1, maxLength: 255 } },
      exclude: { type: 'array', maxItems: 256, items: { type: 'string', minLength: 1, maxLength: 255 } },
    },
  },
  target_pools: {
    type: 'object',
    maxProperties: 1000,
    propertyNames: { format: 'uuid' },
    additionalProperties: { type: 'string', minLength: 1, maxLength: 239 },
  },
  send_options: { type: 'object', additionalProperties: false, properties: { compressed: { type: 'boolean' }, raw: { type: 'boolean' } } },
  receive_options: { type: 'object', additionalProperties: false, properties: { resumable: { type: 'boolean' }, unmounted: { type: 'boolean' } } },
  initial_replication: { enum: ['most_recent', 'all'], description: "how a new replica is seeded: 'most_recent' (the newest eligible snapshot in full) or 'all' (the oldest eligible in full, then -I to the newest)" },
  protection: {
    anyOf: [
      {
        type: 'object',
        additionalProperties: false,
        required: ['min_copies'],
        properties: { min_copies: { type: 'integer', minimum: 1, maximum: 1000 }, min_sites: { type: 'integer', minimum: 0, maximum: 1000 } },
      },
      { type: 'null' },
    ],
  },
} as const;

export const createSyncGroupSchema = { $id: 'CreateSyncGroup', type: 'object', additionalProperties: false, required: ['name'], properties: groupFields } as const;
export const updateSyncGroupSchema = { $id: 'UpdateSyncGroup', type: 'object', additionalProperties: false, minProperties: 1, properties: groupFields } as const;

export type SyncGroupBody = FromSchema<typeof createSyncGroupSchema>;
export type UpdateSyncGroupBody = FromSchema<typeof updateSyncGroupSchema>;

export const addGroupMembersSchema = {
  $id: 'AddGroupMembers',
  type: 'object',
  additionalProperties: false,
  properties: { system_ids: { type: 'array', minItems: 1, maxItems: 1000, items: uuidString }, system_id: uuidString },
} as const;

export const instructionStatusSchema = {
  $id: 'InstructionStatus',
  type: 'object',
  additionalProperties: false,
  required: ['status'],
  properties: {
    status: { enum: ['started', 'progress', 'succeeded', 'failed'] },
    bytes_transferred: { anyOf: [{ type: 'string', pattern: '^(0|[1-9][0-9]{0,19})$', maxLength: 20 }, { type: 'integer', minimum: 0, maximum: 9_007_199_254_740_991 }] },
    error: { type: 'string', maxLength: 4000 },
  },
} as const;
export type InstructionStatusBody = FromSchema<typeof instructionStatusSchema>;

export const RESOLUTION_STRATEGIES = ['rollback_target', 'force_receive', 'full_resend', 'rename_target', 'ignore', 'manual'] as const;
export const resolveConflictSchema = {
  $id: 'ResolveConflict',
  type: 'object',
  additionalProperties: false,
  required: ['strategy'],
  properties: {
    strategy: { enum: RESOLUTION_STRATEGIES },
    confirm: { type: 'boolean' },
    note: { type: 'string', maxLength: 2000 },
  },
} as const;
export type ResolveConflictBody = FromSchema<typeof resolveConflictSchema>;

export const SYNC_STATE_STATUSES = ['in_sync', 'out_of_sync', 'syncing', 'conflict', 'error'] as const;
export const syncStateReportSchema = {
  $id: 'SyncStateReport',
  type: 'object',
  additionalProperties: false,
  required: ['sync_group_id', 'dataset', 'system_id', 'status'],
  properties: {
    sync_group_id: uuidString,
    dataset: { type: 'string', maxLength: 255 },
    system_id: uuidString,
    status: { enum: SYNC_STATE_STATUSES },
    error_message: { anyOf: [{ type: 'string', maxLength: 4000 }, { type: 'null' }] },
  },
} as const;
export type SyncStateReportBody = FromSchema<typeof syncStateReportSchema>;

export const recomputeGroupPayloadSchema = {
  $id: 'RecomputeGroupPayload',
  type: 'object',
  additionalProperties: false,
  required: ['group_id', 'reason'],
  properties: { group_id: uuidString, reason: { type: 'string', maxLength: 200 } },
} as const;

export const recomputeDatasetPayloadSchema = {
  $id: 'RecomputeDatasetPayload',
  type: 'object',
  additionalProperties: false,
  required: ['group_id', 'dataset', 'reason'],
  properties: { group_id: uuidString, dataset: { type: 'string', maxLength: 255 }, reason: { type: 'string', maxLength: 200 } },
} as const;
/** Recompute one (group, dataset): a host reported on a plan, an operator chose a resolution, or time passed. */
export type RecomputeDatasetPayload = FromSchema<typeof recomputeDatasetPayloadSchema>;
export type RecomputeGroupPayload = FromSchema<typeof recomputeGroupPayloadSchema>;
