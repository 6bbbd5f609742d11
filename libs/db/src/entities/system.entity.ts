import { randomUUID } from 'node:crypto';
import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export const CONNECTIVITY_STATUSES = ['unknown', 'online', 'offline'] as const;
export type ConnectivityStatus = (typeof CONNECTIVITY_STATUSES)[number];

/** A host that reports to the witness. The table is created by the migrations, not from here. */
export const SystemEntity = defineEntity({
  name: 'System',
  tableName: 'systems',
  properties: {
    id: p.uuid().primary().onCreate(() => randomUUID()),
    hostname: p.string(),
    platform: p.string(),
    sshHostname: p.string().nullable().fieldName('ssh_hostname'),
    sshUser: p.string().nullable().fieldName('ssh_user'),
    sshPort: p.integer().fieldName('ssh_port').default(22),
    extraMetadata: p.json<Record<string, unknown>>().fieldName('extra_metadata'),
    site: p.string().nullable(),
    connectivityStatus: p.enum([...CONNECTIVITY_STATUSES]).fieldName('connectivity_status').default('unknown'),
    lastSeen: p.datetime().nullable().fieldName('last_seen'),
    createdAt: p.datetime().fieldName('created_at').onCreate(() => new Date()),
    updatedAt: p.datetime().fieldName('updated_at').onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type System = InferEntity<typeof SystemEntity>;
