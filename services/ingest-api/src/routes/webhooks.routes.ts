import { Router, type Response } from 'express';
import { WEBHOOKS_API } from '@zfs-sync/contracts';
import { webhookDeliveryToJson, webhookEndpointToJson, type WebhookEndpointRow } from '@zfs-sync/db';
import { checkWebhookUrl, newWebhookSecret, parseAllowedCidrs } from '@zfs-sync/domain';
import { auditActor, requireAdmin } from '../auth/authenticate.js';
import type { ApiDeps } from '../deps.js';
import { jsonBody } from '../http/body.js';
import { HttpProblem, conflict, notFound } from '../http/problem.js';
import { queryParams } from '../http/query.js';
import { bodyParser, route } from '../http/route.js';
import { uuidParam } from './sync.routes.js';

const DELIVERY_STATUSES = ['pending', 'failed', 'succeeded', 'dead'] as const;

/**
 * Webhook endpoints (admin): subscriptions, their secrets, a test event, the delivery log and
 * redelivery. Deliveries themselves are the workers' (webhook-fanout, webhook-delivery).
 */
export function webhookRoutes(deps: ApiDeps): Router {
  const r = Router();
  const allowed = parseAllowedCidrs(deps.config.webhookAllowedCidrs);
  const parseCreate = bodyParser(WEBHOOKS_API.create);
  const parseUpdate = bodyParser(WEBHOOKS_API.update);
  const parseRotate = bodyParser(WEBHOOKS_API.rotateSecret);
  const body = jsonBody(deps.config.jsonBodyLimitBytes);

  /** A URL the delivery processor would refuse is refused now: 422 naming `url`. */
  const checkedUrl = (raw: string): string => {
    const check = checkWebhookUrl(raw, allowed);
    if (!check.ok) throw new HttpProblem(422, 'webhook-url-refused', `url ${check.reason}`, { field: 'url', pointer: '/url' });
    return check.url.toString();
  };
  /** `["*"]` means every type; `*` next to named types would be ambiguous. */
  const checkedTypes = (types: string[]): string[] => {
    if (types.includes('*') && types.length > 1) throw new HttpProblem(422, 'validation-error', 'event_types is either ["*"] or a list of event types', { field: 'event_types', pointer: '/event_types' });
    return types;
  };
  /** Every group of the filter must exist (a typo would silently filter out everything). */
  const checkedGroups = async (ids: readonly string[] | null | undefined): Promise<string[] | null> => {
    if (!ids) return null;
    const unique = [...new Set(ids.map((s) => s.toLowerCase()))];
    const unknown = await deps.webhooks.unknownSyncGroups(unique);
    if (unknown.length) throw new HttpProblem(422, 'validation-error', `sync_group_ids names no sync group: ${unknown.join(', ')}`, { field: 'sync_group_ids', pointer: '/sync_group_ids' });
    return unique;
  };
  const getOr404 = async (id: string): Promise<WebhookEndpointRow> => {
    const e = await deps.webhooks.get(id);
    if (!e) throw notFound(`no webhook endpoint with id ${id}`);
    return e;
  };
  const sendWithSecret = (res: Response, status: number, e: WebhookEndpointRow, secret: string) => {
    res.setHeader('Cache-Control', 'no-store');
    res.status(status).json({ ...webhookEndpointToJson(e), secret });
  };

  route(r, WEBHOOKS_API.create, ...body, async (req, res) => {
    requireAdmin(res);
    const b = parseCreate(req);
    const secret = newWebhookSecret();
    const e = await deps.webhooks.create({
      url: checkedUrl(b.url),
      description: b.description ?? null,
      event_types: checkedTypes([...b.event_types]),
      sync_group_ids: await checkedGroups(b.sync_group_ids),
      enabled: b.enabled ?? true,
      secret,
    }, auditActor(res));
    deps.logger.info({ webhook_id: e.id, url: e.url }, 'webhook endpoint created');
    res.location(`/api/v1/webhooks/${e.id}`);
    sendWithSecret(res, 201, e, secret);
  });

  route(r, WEBHOOKS_API.list, async (_req, res) => {
    requireAdmin(res);
    res.json((await deps.webhooks.list()).map(webhookEndpointToJson));
  });

  route(r, WEBHOOKS_API.get, async (req, res) => {
    requireAdmin(res);
    res.json(webhookEndpointToJson(await getOr404(uuidParam(req, 'id'))));
  });

  route(r, WEBHOOKS_API.update, ...body, async (req, res) => {
    requireAdmin(res);
    const id = uuidParam(req, 'id');
    const b = parseUpdate(req);
    const e = await deps.webhooks.update(id, {
      ...(b.url !== undefined ? { url: checkedUrl(b.url) } : {}),
      ...(b.description !== undefined ? { description: b.description } : {}),
      ...(b.event_types !== undefined ? { event_types: checkedTypes([...b.event_types]) } : {}),
      ...(b.sync_group_ids !== undefined ? { sync_group_ids: await checkedGroups(b.sync_group_ids) } : {}),
      ...(b.enabled !== undefined ? { enabled: b.enabled } : {}),
    }, auditActor(res));
    if (!e) throw notFound(`no webhook endpoint with id ${id}`);
    res.json(webhookEndpointToJson(e));
  });

  route(r, WEBHOOKS_API.delete, async (req, res) => {
    requireAdmin(res);
    const id = uuidParam(req, 'id');
    if (!(await deps.webhooks.delete(id, auditActor(res)))) throw notFound(`no webhook endpoint with id ${id}`);
    res.status(204).end();
  });

  route(r, WEBHOOKS_API.rotateSecret, ...body, async (req, res) => {
    requireAdmin(res);
    const id = uuidParam(req, 'id');
    const b = parseRotate(req);
    const secret = newWebhookSecret();
    const e = await deps.webhooks.rotateSecret(id, secret, b.grace_seconds ?? deps.config.webhookSecretGraceSeconds, auditActor(res));
    if (!e) throw notFound(`no webhook endpoint with id ${id}`);
    deps.logger.info({ webhook_id: id }, 'webhook secret rotated');
    sendWithSecret(res, 200, e, secret);
  });

  route(r, WEBHOOKS_API.test, async (req, res) => {
    requireAdmin(res);
    const e = await getOr404(uuidParam(req, 'id'));
    if (!e.enabled) throw conflict('the endpoint is disabled; enable it (PATCH enabled: true) to test it', { field: 'enabled' });
    // A test event goes to this endpoint only: its delivery is recorded and queued here.
    const delivery = await deps.webhooks.createTestDelivery(e.id);
    await deps.producer.enqueue('webhookDelivery', { delivery_id: delivery.id, endpoint_id: e.id, attempt: 1 });
    res.status(202).json(webhookDeliveryToJson(delivery));
  });

  route(r, WEBHOOKS_API.deliveries, async (req, res) => {
    requireAdmin(res);
    const id = uuidParam(req, 'id');
    const q = queryParams(req, ['status', 'limit']);
    const status = q.oneOf('status', DELIVERY_STATUSES, null);
    const limit = q.int('limit', 1, 1000, 100);
    await getOr404(id);
    res.json((await deps.webhooks.listDeliveries(id, { limit, status })).map((d) => webhookDeliveryToJson(d.delivery, d.attempts)));
  });

  route(r, WEBHOOKS_API.redeliver, async (req, res) => {
    requireAdmin(res);
    const id = uuidParam(req, 'id');
    const deliveryId = uuidParam(req, 'delivery_id');
    const again = await deps.webhooks.redeliver(id, deliveryId);
    if (!again) throw notFound(`no delivery ${deliveryId} of webhook endpoint ${id}`);
    // Its own job id: a retry of the same attempt number already waiting must not swallow it
    // (whichever runs first records the attempt; the other finds it recorded and stops).
    await deps.producer.enqueue('webhookDelivery', { delivery_id: deliveryId, endpoint_id: id, attempt: again.attempt }, { jobId: `dlv-${deliveryId}-${again.attempt}-redeliver-${Date.now()}` });
    res.status(202).json(webhookDeliveryToJson(again.delivery));
  });

  return r;
}
