import { EVENT_TYPES } from '../events.js';
import { arrayOf, dateTime, uuid } from './common.js';
import { AUTHENTICATED, defineRoute, json, problems, queryParam, type ParamSpec, type ResponseSpec } from './route.js';

/** Events, the live stream and the audit log (issue 10). Operators: the admin token or the read-only viewer token. */

const SEQ = { type: 'string', pattern: '^[0-9]{1,19}$' } as const;

export const LOGGED_EVENT_SCHEMA = {
  type: 'object',
  required: ['id', 'type', 'occurred_at', 'data', 'seq'],
  properties: {
    id: uuid,
    type: { enum: [...EVENT_TYPES] },
    occurred_at: dateTime,
    data: { type: 'object' },
    seq: { ...SEQ, description: 'position in the log: the cursor (`after=`) and the SSE event id' },
  },
} as const;

const eventQuery: ParamSpec[] = [
  queryParam('after', SEQ, 'only events after this position (the `seq` of the last event you have, or `next_after` of the previous page)'),
  queryParam('types', { type: 'string', maxLength: 2000 }, `comma-separated event types (${EVENT_TYPES.join(', ')})`),
];

const sseResponse = (description: string): ResponseSpec => ({
  description: `${description} Server-Sent Events: each event is \`id: <seq>\`, \`event: <type>\`, \`data: <the envelope as JSON>\`; a comment line every \`events_keepalive_seconds\` (15 s) keeps proxies from closing the stream. Reconnect with the \`Last-Event-ID\` header (or \`after=\`) to resume without a gap.`,
  contentType: 'text/event-stream',
  schema: { type: 'string' },
});

const lastEventId: ParamSpec = { name: 'Last-Event-ID', in: 'header', description: 'resume after this event (the `seq` of the last event received)', schema: SEQ };

export const EVENTS_API = {
  listEvents: defineRoute({
    operationId: 'listEvents',
    method: 'get',
    path: '/events',
    tag: 'events',
    callers: ['admin', 'viewer'],
    summary: 'The event log, oldest first after a cursor',
    description: 'Cursor-paginated: pass `next_after` of one page as `after` of the next. Without `after`: the newest `limit` events (oldest first), to follow from there; `after=0` reads the log from its oldest kept event.',
    params: [...eventQuery, queryParam('limit', { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, 'page size')],
    responses: {
      200: json('one page of events', { type: 'object', required: ['items', 'next_after'], properties: { items: arrayOf(LOGGED_EVENT_SCHEMA), next_after: { anyOf: [SEQ, { type: 'null' }] } } }),
      ...problems(400, ...AUTHENTICATED),
    },
  }),
  eventStream: defineRoute({
    operationId: 'streamEvents',
    method: 'get',
    path: '/events/stream',
    tag: 'events',
    callers: ['admin', 'viewer'],
    summary: 'The live event stream (Server-Sent Events)',
    params: [...eventQuery, lastEventId],
    responses: { 200: sseResponse('Events as they happen, in log order.'), ...problems(400, ...AUTHENTICATED) },
  }),
  dashboardEventStream: defineRoute({
    operationId: 'streamDashboardEvents',
    method: 'get',
    path: '/dashboard/events',
    tag: 'events',
    callers: ['admin', 'viewer'],
    summary: 'The live event stream at the original zfs_sync path (same as /events/stream)',
    params: [...eventQuery, lastEventId],
    responses: { 200: sseResponse('Same as GET /events/stream.'), ...problems(400, ...AUTHENTICATED) },
  }),
  listAudit: defineRoute({
    operationId: 'listAudit',
    method: 'get',
    path: '/audit',
    tag: 'events',
    callers: ['admin', 'viewer'],
    summary: 'The audit log of admin actions, newest first',
    description: 'Who (the credential kind and id, never the secret) did what to which resource, and what changed. Cursor-paginated: pass `next_before` as `before`.',
    params: [
      queryParam('before', SEQ, 'only entries older than this position (`next_before` of the previous page)'),
      queryParam('resource_type', { type: 'string', maxLength: 64 }, 'only this kind of resource (system, sync_group, conflict, webhook)'),
      queryParam('resource_id', { type: 'string', maxLength: 128 }, 'only this resource'),
      queryParam('limit', { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, 'page size'),
    ],
    responses: {
      200: json('one page of audit entries', {
        type: 'object',
        required: ['items', 'next_before'],
        properties: {
          items: arrayOf({
            type: 'object',
            required: ['id', 'seq', 'at', 'actor', 'action', 'resource_type', 'resource_id', 'changes'],
            properties: {
              id: uuid,
              seq: SEQ,
              at: dateTime,
              actor: { type: 'object', required: ['kind'], properties: { kind: { type: 'string' }, id: { type: ['string', 'null'] } } },
              action: { type: 'string' },
              resource_type: { type: 'string' },
              resource_id: { type: ['string', 'null'] },
              changes: { type: 'object' },
            },
          }),
          next_before: { anyOf: [SEQ, { type: 'null' }] },
        },
      }),
      ...problems(400, ...AUTHENTICATED),
    },
  }),
} as const;
