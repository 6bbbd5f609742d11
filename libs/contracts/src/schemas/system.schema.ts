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

export interface RegisterSystemBody {
  hostname: string;
  platform: string;
  connectivity_status?: ConnectivityStatus;
  ssh_hostname?: string | null;
  ssh_user?: string | null;
  ssh_port?: number;
  extra_metadata?: Record<string, unknown>;
  /** Where the host stands (room, building, city): copies in different sites count toward a group's min_sites. */
  site?: string | null;
}
export type UpdateSystemBody = Partial<RegisterSystemBody>;

export const registerSystemSchema = {
  $id: 'RegisterSystem',
  type: 'object',
  additionalProperties: false,
  required: ['hostname', 'platform'],
  properties: systemFields,
} as const;

export const updateSystemSchema = {
  $id: 'UpdateSystem',
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: systemFields,
} as const;

export interface HeartbeatBody {
  agent_version?: string;
  metadata?: Record<string, unknown>;
  /** The host's site from the agent's configuration (null clears it); absent leaves it as it is. */
  site?: string | null;
}
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

export interface RotateKeyBody {
  old_key_valid_seconds?: number;
}
export const rotateKeySchema = {
  $id: 'RotateKey',
  type: 'object',
  additionalProperties: false,
  properties: { old_key_valid_seconds: { type: 'integer', minimum: 0, maximum: 2_592_000 } },
} as const;
