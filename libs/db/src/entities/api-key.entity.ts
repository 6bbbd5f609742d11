import { randomUUID } from 'node:crypto';
import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { SystemEntity } from './system.entity.js';

/**
 * A host credential. Only the SHA-256 of the key is stored; `expires_at` lets an old key keep
 * working for a while after a rotation so hosts can be updated without an outage.
 */
export const ApiKeyEntity = defineEntity({
  name: 'ApiKey',
  tableName: 'api_keys',
  properties: {
    id: p.uuid().primary().onCreate(() => randomUUID()),
    system: () => p.manyToOne(SystemEntity).fieldName('system_id').deleteRule('cascade'),
    keyHash: p.string().fieldName('key_hash'),
    createdAt: p.datetime().fieldName('created_at').onCreate(() => new Date()),
    expiresAt: p.datetime().nullable().fieldName('expires_at'),
    lastUsedAt: p.datetime().nullable().fieldName('last_used_at'),
  },
});
export type ApiKey = InferEntity<typeof ApiKeyEntity>;
