import type { FromSchema } from 'json-schema-to-ts';
import { hostNameString, metadataObject, siteString } from './common.schema.js';

export const CONNECTIVITY_STATUSES = ['unknown', 'online', 'offline'] as const;
export type ConnectivityStatus = (typeof CONNECTIVITY_STATUSES)[number];

const systemFields = {
  hostname: hostNameString,
  platform: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9 ._+()/-]*$', description: 'must be a short platform name such as linux, freebsd or truenas' },
  connectivity_status: { type: 'string', enum: CONNECTIVITY_STATUSES },
  ssh_hostname: { anyOf: [hostNameString, { type: 'null' }] },
  ssh_user: { anyOf: [{ type: 'string', minLength: 1, maxLength: 32, format: 'posix-user' }, { type: 'null' }] },
  ssh_port: { type: 'integer', minimum: 1, maximum: 65535 },
  extra_metadata: metadataObject,
  site: { anyOf: [siteString, { type: 'null' }] },
} as const;

export const registerSystemSchema = {
  $id: 'RegisterSystem',
  type: 'object',
  additionalProperties: false,
  required: ['hostname', 'platform'],
  properties: systemFields,
} as const;
/** Handler types come from the schema the validator uses: one definition, no second copy. */
export type RegisterSystemBody = FromSchema<typeof registerSystemSchema>;

export const updateSystemSchema = {
  $id: 'UpdateSystem',
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: systemFields,
} as const;
export type UpdateSystemBody = FromSchema<typeof updateSystemSchema>;

export const heartbeatSchema = {
  $id: 'Heartbeat',
  type: 'object',
  additionalProperties: false,
  properties: {
    agent_version: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._+-]+$', description: 'must be a version string such as 1.2.3' },
    metadata: metadataObject,
    site: { anyOf: [siteString, { type: 'null' }] },
  },
} as const;
export type HeartbeatBody = FromSchema<typeof heartbeatSchema>;

export const rotateKeySchema = {
  $id: 'RotateKey',
  type: 'object',
  additionalProperties: false,
  properties: { old_key_valid_seconds: { type: 'integer', minimum: 0, maximum: 2_592_000 } },
} as const;
export type RotateKeyBody = FromSchema<typeof rotateKeySchema>;
