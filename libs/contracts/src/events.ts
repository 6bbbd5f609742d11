/**
 * The events the witness emits (issue 10): one envelope, a closed list of types. Written to the
 * outbox in the same transaction as the change, relayed onto a Redis stream, delivered to
 * webhooks and to SSE clients. The envelope is the wire format everywhere: the event log
 * (`GET /events`), the stream, and a webhook's body.
 */

export const EVENT_TYPES = [
  'system.registered',
  'system.deleted',
  'system.online',
  'system.offline',
  'system.key_rotated',
  'inventory.applied',
  'link.state_changed',
  'link.lag_exceeded',
  'sync.started',
  'sync.succeeded',
  'sync.failed',
  'conflict.opened',
  'conflict.resolved',
  'webhook.endpoint_disabled',
  'webhook.test',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const isEventType = (value: string): value is EventType => (EVENT_TYPES as readonly string[]).includes(value);

/** An event as stored, streamed and delivered. `id` is a uuid, identical across retries and redeliveries. */
export interface EventEnvelope<T extends EventType = EventType> {
  id: string;
  type: T;
  /** ISO-8601 UTC. */
  occurred_at: string;
  data: Record<string, unknown>;
}

/**
 * Fields of one Redis stream entry on the events stream (`eventStreamKey`): the event id (for
 * de-duplication by consumers) and the envelope as JSON.
 */
export interface EventStreamEntry {
  event_id: string;
  event: string;
  /**
   * The event's position in the log (decimal string), written by the relay: the cursor of
   * `GET /events?after=` and the SSE event id (`Last-Event-ID`). Optional for readers that only
   * need the envelope.
   */
  seq?: string;
}
