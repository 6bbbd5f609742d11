import type pg from 'pg';
import type { EventEnvelope } from '@zfs-sync/contracts';
import { appendEvents } from '../events/outbox.js';
import { diffFields, recordAudit, type AuditActor } from '../events/audit.repository.js';
import { withTransaction } from '../transaction.js';

export interface WebhookEndpointRow {
  id: string;
  url: string;
  description: string | null;
  event_types: string[];
  sync_group_ids: string[] | null;
  enabled: boolean;
  failing_since: Date | null;
  disabled_reason: string | null;
  disabled_at: Date | null;
  previous_secret_expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** An endpoint with what signing needs: the secret, and the previous one while its grace lasts. */
export interface WebhookEndpointWithSecrets extends WebhookEndpointRow {
  secret: string;
  previous_secret: string | null;
}

export type DeliveryStatus = 'pending' | 'failed' | 'succeeded' | 'dead';

export interface WebhookDeliveryRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  event: EventEnvelope;
  status: DeliveryStatus;
  attempt_count: number;
  next_attempt_at: Date | null;
  last_status_code: number | null;
  last_duration_ms: number | null;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface WebhookAttemptRow {
  attempt: number;
  started_at: Date;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
  response_body: string | null;
  next_attempt_at: Date | null;
}

const ENDPOINT_COLUMNS = `id, url, description, event_types, sync_group_ids::text[] as sync_group_ids, enabled, failing_since, disabled_reason, disabled_at,
  case when previous_secret_expires_at > now() then previous_secret_expires_at end as previous_secret_expires_at, created_at, updated_at`;

/** The wire shape of an endpoint: never its secret. */
export function webhookEndpointToJson(e: WebhookEndpointRow) {
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    event_types: e.event_types,
    sync_group_ids: e.sync_group_ids,
    enabled: e.enabled,
    failing_since: e.failing_since?.toISOString() ?? null,
    disabled_reason: e.disabled_reason,
    disabled_at: e.disabled_at?.toISOString() ?? null,
    previous_secret_expires_at: e.previous_secret_expires_at?.toISOString() ?? null,
    created_at: e.created_at.toISOString(),
    updated_at: e.updated_at.toISOString(),
  };
}

export function webhookAttemptToJson(a: WebhookAttemptRow) {
  return {
    attempt: a.attempt,
    started_at: a.started_at.toISOString(),
    duration_ms: a.duration_ms,
    status_code: a.status_code,
    error: a.error,
    response_body: a.response_body,
    next_attempt_at: a.next_attempt_at?.toISOString() ?? null,
  };
}

export function webhookDeliveryToJson(d: WebhookDeliveryRow, attempts: WebhookAttemptRow[] = []) {
  return {
    id: d.id,
    endpoint_id: d.endpoint_id,
    event_id: d.event_id,
    event_type: d.event_type,
    status: d.status,
    attempt_count: d.attempt_count,
    next_attempt_at: d.next_attempt_at?.toISOString() ?? null,
    last_status_code: d.last_status_code,
    last_duration_ms: d.last_duration_ms,
    last_error: d.last_error,
    created_at: d.created_at.toISOString(),
    updated_at: d.updated_at.toISOString(),
    attempts: attempts.map(webhookAttemptToJson),
  };
}

export interface NewEndpoint {
  url: string;
  description: string | null;
  event_types: string[];
  sync_group_ids: string[] | null;
  enabled: boolean;
  secret: string;
}

export type EndpointPatch = Partial<Omit<NewEndpoint, 'secret'>>;

export interface AttemptRecord {
  deliveryId: string;
  endpointId: string;
  attempt: number;
  startedAt: Date;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  responseBody: string | null;
  status: 'failed' | 'succeeded' | 'dead';
  nextAttemptAt: Date | null;
  failingSince: Date | null;
  disableReason: string | null;
}

/** Changes made by the service itself (tests, tools) rather than through the API. */
const SERVICE: AuditActor = { kind: 'system', id: null };

/** Webhook endpoints, deliveries and attempts. Every statement is here; routes and processors call these. */
export class WebhooksRepository {
  constructor(private readonly pool: pg.Pool) {}

  /** Create an endpoint; its audit entry (never the secret) commits with it. */
  async create(e: NewEndpoint, actor: AuditActor = SERVICE): Promise<WebhookEndpointRow> {
    return withTransaction(this.pool, async (client) => {
      const { rows } = await client.query(
        `insert into webhook_endpoints (url, description, event_types, sync_group_ids, enabled, secret) values ($1, $2, $3, $4::uuid[], $5, $6) returning ${ENDPOINT_COLUMNS}`,
        [e.url, e.description, e.event_types, e.sync_group_ids, e.enabled, e.secret],
      );
      const { secret: _secret, ...fields } = e;
      await recordAudit(client, { actor, action: 'webhook.created', resource_type: 'webhook', resource_id: rows[0].id, changes: fields });
      return rows[0];
    });
  }

  /** Which of these sync group ids name no group. */
  async unknownSyncGroups(ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.pool.query('select id::text from unnest($1::uuid[]) as t(id) where not exists (select 1 from sync_groups g where g.id = t.id)', [ids]);
    return rows.map((r: { id: string }) => r.id);
  }

  async list(): Promise<WebhookEndpointRow[]> {
    return (await this.pool.query(`select ${ENDPOINT_COLUMNS} from webhook_endpoints order by created_at, id`)).rows;
  }

  async get(id: string): Promise<WebhookEndpointRow | null> {
    return (await this.pool.query(`select ${ENDPOINT_COLUMNS} from webhook_endpoints where id = $1`, [id])).rows[0] ?? null;
  }

  /** For signing: the secret and, while its grace lasts, the previous one. */
  async getWithSecrets(id: string): Promise<WebhookEndpointWithSecrets | null> {
    const { rows } = await this.pool.query(
      `select ${ENDPOINT_COLUMNS}, secret, case when previous_secret_expires_at > now() then previous_secret end as previous_secret from webhook_endpoints where id = $1`,
      [id],
    );
    return rows[0] ?? null;
  }

  /** Change the fields given; enabling an endpoint clears why it was disabled and its failure streak. */
  async update(id: string, p: EndpointPatch, actor: AuditActor = SERVICE): Promise<WebhookEndpointRow | null> {
    return withTransaction(this.pool, async (client) => {
      const before = (await client.query(`select ${ENDPOINT_COLUMNS} from webhook_endpoints where id = $1 for update`, [id])).rows[0];
      if (!before) return null;
      const { rows } = await client.query(
        `update webhook_endpoints set
           url = coalesce($2, url),
           description = case when $3::boolean then $4 else description end,
           event_types = coalesce($5, event_types),
           sync_group_ids = case when $6::boolean then $7::uuid[] else sync_group_ids end,
           enabled = coalesce($8, enabled),
           disabled_reason = case when $8 is true then null else disabled_reason end,
           disabled_at = case when $8 is true then null when $8 is false and enabled then now() else disabled_at end,
           failing_since = case when $8 is true and not enabled then null else failing_since end,
           updated_at = now()
         where id = $1 returning ${ENDPOINT_COLUMNS}`,
        [id, p.url ?? null, p.description !== undefined, p.description ?? null, p.event_types ?? null, p.sync_group_ids !== undefined, p.sync_group_ids ?? null, p.enabled ?? null],
      );
      await recordAudit(client, { actor, action: 'webhook.updated', resource_type: 'webhook', resource_id: id, changes: diffFields(before, rows[0], ['url', 'description', 'event_types', 'sync_group_ids', 'enabled']) });
      return rows[0] ?? null;
    });
  }

  async delete(id: string, actor: AuditActor = SERVICE): Promise<boolean> {
    return withTransaction(this.pool, async (client) => {
      const { rows } = await client.query('delete from webhook_endpoints where id = $1 returning url', [id]);
      if (!rows[0]) return false;
      await recordAudit(client, { actor, action: 'webhook.deleted', resource_type: 'webhook', resource_id: id, changes: { url: rows[0].url } });
      return true;
    });
  }

  /** New secret now; the old one keeps signing alongside until the grace ends. */
  async rotateSecret(id: string, secret: string, graceSeconds: number, actor: AuditActor = SERVICE): Promise<WebhookEndpointRow | null> {
    return withTransaction(this.pool, async (client) => {
      const { rows } = await client.query(
        `update webhook_endpoints set previous_secret = secret, previous_secret_expires_at = now() + make_interval(secs => $3), secret = $2, updated_at = now()
         where id = $1 returning ${ENDPOINT_COLUMNS}`,
        [id, secret, graceSeconds],
      );
      if (rows[0]) await recordAudit(client, { actor, action: 'webhook.secret_rotated', resource_type: 'webhook', resource_id: id, changes: { previous_secret_valid_seconds: graceSeconds } });
      return rows[0] ?? null;
    });
  }

  /**
   * One delivery per matching enabled endpoint for this event (idempotent: a re-read stream entry
   * creates nothing twice). Returns the deliveries of the event not attempted yet — the new ones
   * and any a crashed fan-out created without queueing — so the caller queues them (job ids
   * deduplicate). `webhook.test` goes only to the endpoint it names.
   */
  async fanOut(event: EventEnvelope, groupIds: readonly string[]): Promise<Array<{ id: string; endpoint_id: string }>> {
    const { rows } = await this.pool.query(
      `with inserted as (
         insert into webhook_deliveries (endpoint_id, event_id, event_type, event)
         select e.id, $1, $2, $3::jsonb from webhook_endpoints e
          where e.enabled
            and ($2 <> 'webhook.test' or e.id::text = $3::jsonb #>> '{data,endpoint_id}')
            and ('*' = any(e.event_types) or $2 = any(e.event_types))
            and (e.sync_group_ids is null or e.sync_group_ids && $4::uuid[])
         on conflict (endpoint_id, event_id) do nothing
         returning id, endpoint_id)
       select id, endpoint_id from inserted
       union
       select id, endpoint_id from webhook_deliveries where event_id = $1 and status = 'pending' and attempt_count = 0`,
      [event.id, event.type, JSON.stringify(event), groupIds],
    );
    return rows;
  }

  /** A delivery and its endpoint (with secrets) for one attempt. */
  async forAttempt(deliveryId: string): Promise<{ delivery: WebhookDeliveryRow; endpoint: WebhookEndpointWithSecrets } | null> {
    const { rows } = await this.pool.query('select * from webhook_deliveries where id = $1', [deliveryId]);
    if (!rows[0]) return null;
    const endpoint = await this.getWithSecrets(rows[0].endpoint_id);
    return endpoint ? { delivery: rows[0], endpoint } : null;
  }

  /**
   * Record one attempt and its consequence, once: a second worker recording the same attempt
   * (a stalled job re-run) changes nothing and learns `recorded: false`. Disabling the endpoint
   * appends `webhook.endpoint_disabled` in the same transaction; `disabled` says whether this
   * call disabled it.
   */
  async recordAttempt(r: AttemptRecord): Promise<{ recorded: boolean; disabled: boolean }> {
    return withTransaction(this.pool, async (client) => {
      const attempt = await client.query(
        `insert into webhook_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error, response_body, next_attempt_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict do nothing`,
        [r.deliveryId, r.attempt, r.startedAt, r.durationMs, r.statusCode, r.error, r.responseBody, r.nextAttemptAt],
      );
      if (!attempt.rowCount) return { recorded: false, disabled: false };
      await client.query(
        `update webhook_deliveries set status = $2, attempt_count = greatest(attempt_count, $3), next_attempt_at = $4, last_status_code = $5,
           last_duration_ms = $6, last_error = $7, updated_at = now() where id = $1`,
        [r.deliveryId, r.status, r.attempt, r.nextAttemptAt, r.statusCode, r.durationMs, r.error],
      );
      if (r.status === 'succeeded') {
        await client.query('update webhook_endpoints set failing_since = null where id = $1 and failing_since is not null', [r.endpointId]);
        return { recorded: true, disabled: false };
      }
      await client.query('update webhook_endpoints set failing_since = coalesce(failing_since, $2) where id = $1', [r.endpointId, r.failingSince ?? r.startedAt]);
      if (!r.disableReason) return { recorded: true, disabled: false };
      const disabled = await client.query(
        `update webhook_endpoints set enabled = false, disabled_reason = $2, disabled_at = now(), updated_at = now() where id = $1 and enabled returning id, url`,
        [r.endpointId, r.disableReason],
      );
      if (!disabled.rowCount) return { recorded: true, disabled: false };
      await appendEvents(client, [{ type: 'webhook.endpoint_disabled', data: { endpoint_id: r.endpointId, url: disabled.rows[0].url, reason: r.disableReason } }]);
      return { recorded: true, disabled: true };
    });
  }

  /** Give up a delivery without an attempt (its endpoint is disabled or gone). */
  async markDead(deliveryId: string, reason: string): Promise<void> {
    await this.pool.query(`update webhook_deliveries set status = 'dead', next_attempt_at = null, last_error = $2, updated_at = now() where id = $1 and status in ('pending', 'failed')`, [deliveryId, reason]);
  }

  /**
   * A `webhook.test` event for one endpoint: recorded in the event log, and its delivery row
   * created in the same transaction (to be queued by the caller). When the relay streams the
   * event, the fan-out finds the delivery already there.
   */
  async createTestDelivery(endpointId: string): Promise<WebhookDeliveryRow> {
    return withTransaction(this.pool, async (client) => {
      const [event] = await appendEvents(client, [{ type: 'webhook.test', data: { endpoint_id: endpointId, message: 'a test event from zfs-sync' } }]);
      const { rows } = await client.query(
        `insert into webhook_deliveries (endpoint_id, event_id, event_type, event) values ($1, $2, $3, $4::jsonb) returning *`,
        [endpointId, event!.id, event!.type, JSON.stringify(event)],
      );
      return rows[0];
    });
  }

  /** A delivery of an event to one endpoint, outside the fan-out (tests, tools). */
  async createDirectDelivery(endpointId: string, event: EventEnvelope): Promise<WebhookDeliveryRow> {
    const { rows } = await this.pool.query(
      `insert into webhook_deliveries (endpoint_id, event_id, event_type, event) values ($1, $2, $3, $4::jsonb) returning *`,
      [endpointId, event.id, event.type, JSON.stringify(event)],
    );
    return rows[0];
  }

  async listDeliveries(endpointId: string, opts: { limit: number; status: DeliveryStatus | null }): Promise<Array<{ delivery: WebhookDeliveryRow; attempts: WebhookAttemptRow[] }>> {
    const { rows } = await this.pool.query(
      `select d.*, coalesce((select json_agg(a order by a.attempt) from webhook_attempts a where a.delivery_id = d.id), '[]') as attempts
         from webhook_deliveries d where d.endpoint_id = $1 and ($3::text is null or d.status = $3)
        order by d.created_at desc, d.id limit $2`,
      [endpointId, opts.limit, opts.status],
    );
    return rows.map(({ attempts, ...d }) => ({
      delivery: d as WebhookDeliveryRow,
      attempts: (attempts as Array<Record<string, unknown>>).map((a) => ({
        ...(a as unknown as WebhookAttemptRow),
        started_at: new Date(a.started_at as string),
        next_attempt_at: a.next_attempt_at ? new Date(a.next_attempt_at as string) : null,
      })),
    }));
  }

  /**
   * Deliver again by hand (whatever its status): the delivery becomes pending with its next
   * attempt now. Returns the attempt number to make, or null when there is no such delivery.
   */
  async redeliver(endpointId: string, deliveryId: string): Promise<{ delivery: WebhookDeliveryRow; attempt: number } | null> {
    const { rows } = await this.pool.query(
      `update webhook_deliveries set status = 'pending', next_attempt_at = now(), updated_at = now() where id = $1 and endpoint_id = $2 returning *`,
      [deliveryId, endpointId],
    );
    return rows[0] ? { delivery: rows[0], attempt: rows[0].attempt_count + 1 } : null;
  }

  /** Retention: delete deliveries (and their attempts) created before the cutoff, in bounded batches. */
  async prune(olderThan: Date, batch = 5000): Promise<number> {
    let total = 0;
    for (;;) {
      const { rowCount } = await this.pool.query(
        'delete from webhook_deliveries where id in (select id from webhook_deliveries where created_at < $1 limit $2)',
        [olderThan, batch],
      );
      total += rowCount ?? 0;
      if ((rowCount ?? 0) < batch) return total;
    }
  }
}
