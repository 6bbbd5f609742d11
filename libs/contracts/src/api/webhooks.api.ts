import { EVENT_TYPES } from '../events.js';
import { createWebhookSchema, rotateWebhookSecretSchema, updateWebhookSchema } from '../schemas/webhook.schema.js';
import { arrayOf, dateTime, nullableDateTime, uuid } from './common.js';
import { AUTHENTICATED, defineRoute, json, noContent, pathUuid, problems, queryParam } from './route.js';

export const webhookEndpointSchema = {
  $id: 'WebhookEndpoint',
  type: 'object',
  required: ['id', 'url', 'description', 'event_types', 'sync_group_ids', 'enabled', 'failing_since', 'disabled_reason', 'created_at', 'updated_at'],
  properties: {
    id: uuid,
    url: { type: 'string' },
    description: { type: ['string', 'null'] },
    event_types: arrayOf({ enum: ['*', ...EVENT_TYPES] }),
    sync_group_ids: { type: ['array', 'null'], items: uuid },
    enabled: { type: 'boolean' },
    failing_since: { ...nullableDateTime, description: 'since when every delivery has failed (null: healthy)' },
    disabled_reason: { type: ['string', 'null'], description: 'why the service disabled the endpoint (410, or failing too long)' },
    disabled_at: nullableDateTime,
    previous_secret_expires_at: { ...nullableDateTime, description: 'while set, the previous secret still signs alongside the current one' },
    created_at: dateTime,
    updated_at: dateTime,
  },
} as const;

const withSecret = {
  $id: 'WebhookEndpointWithSecret',
  type: 'object',
  required: [...webhookEndpointSchema.required, 'secret'],
  properties: { ...webhookEndpointSchema.properties, secret: { type: 'string', pattern: '^whsec_', description: 'the signing secret, shown only in this answer' } },
} as const;

export const webhookAttemptSchema = {
  $id: 'WebhookAttempt',
  type: 'object',
  required: ['attempt', 'started_at', 'duration_ms', 'status_code', 'error', 'next_attempt_at'],
  properties: {
    attempt: { type: 'integer' },
    started_at: dateTime,
    duration_ms: { type: 'integer' },
    status_code: { type: ['integer', 'null'] },
    error: { type: ['string', 'null'] },
    response_body: { type: ['string', 'null'], description: 'the start of the response body (at most 1 KiB)' },
    next_attempt_at: { ...nullableDateTime, description: 'when the retry this attempt caused is due' },
  },
} as const;

export const webhookDeliverySchema = {
  $id: 'WebhookDelivery',
  type: 'object',
  required: ['id', 'endpoint_id', 'event_id', 'event_type', 'status', 'attempt_count', 'next_attempt_at', 'last_status_code', 'last_error', 'created_at', 'attempts'],
  properties: {
    id: uuid,
    endpoint_id: uuid,
    event_id: { ...uuid, description: 'the webhook-id header of every attempt' },
    event_type: { type: 'string' },
    status: { enum: ['pending', 'failed', 'succeeded', 'dead'], description: 'pending: not attempted yet; failed: a retry is due at next_attempt_at; dead: given up' },
    attempt_count: { type: 'integer' },
    next_attempt_at: nullableDateTime,
    last_status_code: { type: ['integer', 'null'] },
    last_duration_ms: { type: ['integer', 'null'] },
    last_error: { type: ['string', 'null'] },
    created_at: dateTime,
    updated_at: dateTime,
    attempts: arrayOf(webhookAttemptSchema),
  },
} as const;

const id = pathUuid('id', 'webhook endpoint id');
const noStore = { 'Cache-Control': { description: 'no-store: the answer carries the secret', schema: { type: 'string' } } };
const tag = 'webhooks';

export const WEBHOOKS_API = {
  create: defineRoute({
    operationId: 'createWebhook',
    method: 'post',
    path: '/webhooks',
    tag,
    callers: ['admin'],
    summary: 'Subscribe a URL to events; the answer carries the signing secret, once',
    body: { schema: createWebhookSchema },
    responses: { 201: json('created, with its secret', withSecret, noStore), ...problems(400, 413, 415, 422, ...AUTHENTICATED) },
  }),
  list: defineRoute({ operationId: 'listWebhooks', method: 'get', path: '/webhooks', tag, callers: ['admin', 'viewer'], summary: 'Every webhook endpoint', responses: { 200: json('endpoints', arrayOf(webhookEndpointSchema)), ...problems(...AUTHENTICATED) } }),
  get: defineRoute({ operationId: 'getWebhook', method: 'get', path: '/webhooks/{id}', tag, callers: ['admin', 'viewer'], summary: 'One webhook endpoint', params: [id], responses: { 200: json('the endpoint', webhookEndpointSchema), ...problems(400, 404, ...AUTHENTICATED) } }),
  update: defineRoute({
    operationId: 'updateWebhook',
    method: 'patch',
    path: '/webhooks/{id}',
    tag,
    callers: ['admin'],
    summary: 'Change a webhook endpoint (only the fields sent); enabling it again clears its failure streak',
    params: [id],
    body: { schema: updateWebhookSchema },
    responses: { 200: json('the endpoint', webhookEndpointSchema), ...problems(400, 404, 413, 415, 422, ...AUTHENTICATED) },
  }),
  delete: defineRoute({ operationId: 'deleteWebhook', method: 'delete', path: '/webhooks/{id}', tag, callers: ['admin'], summary: 'Delete a webhook endpoint and its delivery log', params: [id], responses: { 204: noContent('deleted'), ...problems(400, 404, ...AUTHENTICATED) } }),
  rotateSecret: defineRoute({
    operationId: 'rotateWebhookSecret',
    method: 'post',
    path: '/webhooks/{id}/rotate-secret',
    tag,
    callers: ['admin'],
    summary: 'New signing secret; the old one keeps signing alongside it for a grace period',
    params: [id],
    body: { schema: rotateWebhookSecretSchema, optional: true },
    responses: { 200: json('the endpoint with its new secret', withSecret, noStore), ...problems(400, 404, 413, 415, ...AUTHENTICATED) },
  }),
  test: defineRoute({
    operationId: 'testWebhook',
    method: 'post',
    path: '/webhooks/{id}/test',
    tag,
    callers: ['admin'],
    summary: 'Send a webhook.test event to this endpoint',
    params: [id],
    responses: { 202: json('queued', webhookDeliverySchema), ...problems(400, 404, 409, ...AUTHENTICATED) },
  }),
  deliveries: defineRoute({
    operationId: 'listWebhookDeliveries',
    method: 'get',
    path: '/webhooks/{id}/deliveries',
    tag,
    callers: ['admin', 'viewer'],
    summary: 'The delivery log of an endpoint, newest first: every attempt with status code, duration, error and next retry',
    params: [id, queryParam('status', { enum: ['pending', 'failed', 'succeeded', 'dead'] }, 'only this status'), queryParam('limit', { type: 'integer', minimum: 1, maximum: 1000 }, 'at most this many (default 100)')],
    responses: { 200: json('deliveries', arrayOf(webhookDeliverySchema)), ...problems(400, 404, ...AUTHENTICATED) },
  }),
  redeliver: defineRoute({
    operationId: 'redeliverWebhook',
    method: 'post',
    path: '/webhooks/{id}/deliveries/{delivery_id}/redeliver',
    tag,
    callers: ['admin'],
    summary: 'Deliver the event again now (same webhook-id), whatever the delivery\'s status',
    params: [id, pathUuid('delivery_id', 'delivery id')],
    responses: { 202: json('queued', webhookDeliverySchema), ...problems(400, 404, ...AUTHENTICATED) },
  }),
} as const;
