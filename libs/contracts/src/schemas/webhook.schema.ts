import type { FromSchema } from 'json-schema-to-ts';
import { EVENT_TYPES } from '../events.js';
import { uuidString } from './common.schema.js';

/** Webhook endpoints (issue 10): the admin API's bodies and the delivery job's payload. */

const endpointFields = {
  url: { type: 'string', minLength: 1, maxLength: 2048, description: 'http(s) URL the events are POSTed to; loopback, private, link-local, CGNAT, multicast and metadata addresses are refused' },
  description: { anyOf: [{ type: 'string', maxLength: 2000 }, { type: 'null' }] },
  event_types: {
    type: 'array',
    minItems: 1,
    maxItems: 64,
    uniqueItems: true,
    items: { enum: ['*', ...EVENT_TYPES] },
    description: 'event types to receive; ["*"] for all',
  },
  sync_group_ids: { anyOf: [{ type: 'array', maxItems: 1000, items: uuidString }, { type: 'null' }], description: 'only events about these sync groups; null for all events' },
  enabled: { type: 'boolean' },
} as const;

export const createWebhookSchema = { $id: 'CreateWebhook', type: 'object', additionalProperties: false, required: ['url', 'event_types'], properties: endpointFields } as const;
export const updateWebhookSchema = { $id: 'UpdateWebhook', type: 'object', additionalProperties: false, minProperties: 1, properties: endpointFields } as const;
export const rotateWebhookSecretSchema = {
  $id: 'RotateWebhookSecret',
  type: 'object',
  additionalProperties: false,
  properties: { grace_seconds: { type: 'integer', minimum: 0, maximum: 2_592_000, description: 'how long the old secret keeps signing alongside the new one (default webhook_secret_grace_seconds)' } },
} as const;

export type CreateWebhookBody = FromSchema<typeof createWebhookSchema>;
export type UpdateWebhookBody = FromSchema<typeof updateWebhookSchema>;

export const webhookDeliveryPayloadSchema = {
  $id: 'WebhookDeliveryPayload',
  type: 'object',
  additionalProperties: false,
  required: ['delivery_id', 'endpoint_id', 'attempt'],
  // endpoint_id: the per-endpoint concurrency limit is checked before anything is read.
  properties: { delivery_id: uuidString, endpoint_id: uuidString, attempt: { type: 'integer', minimum: 1, maximum: 10_000 } },
} as const;
export type WebhookDeliveryPayload = FromSchema<typeof webhookDeliveryPayloadSchema>;
