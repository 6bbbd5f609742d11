import { DelayedError } from 'bullmq';
import { WebhooksRepository } from '@zfs-sync/db';
import { classifyResponse, decideRetry, parseAllowedCidrs, parseDurationMs, signatureHeader, type AttemptOutcome } from '@zfs-sync/domain';
import { defineWorker, type WorkerContext } from '@zfs-sync/queue';
import type { WebhookDeliveryPayload } from '@zfs-sync/contracts';
import type { ProcessorDefinition, WorkerDeps } from '../../processor.js';
import { postWebhook, type NodeLookup } from './webhook-http.js';

/**
 * Requests in flight per endpoint in this process. A job for an endpoint that has its share
 * waits (delayed, not holding a worker slot), so a slow or dead endpoint holds at most
 * `webhook_endpoint_concurrency` of the process's slots and never delays the others.
 */
class EndpointSlots {
  private readonly inFlight = new Map<string, number>();
  constructor(private readonly perEndpoint: number) {}
  tryAcquire(id: string): boolean {
    const n = this.inFlight.get(id) ?? 0;
    if (n >= this.perEndpoint) return false;
    this.inFlight.set(id, n + 1);
    return true;
  }
  release(id: string): void {
    const n = (this.inFlight.get(id) ?? 1) - 1;
    if (n <= 0) this.inFlight.delete(id);
    else this.inFlight.set(id, n);
  }
}

export interface DeliveryOptions {
  /** Tests: resolve names with this instead of the system resolver (the address check still applies). */
  resolve?: NodeLookup;
}

/** The attempt a delivery job asks for: made once, recorded once, and the retry it calls for queued. */
export function createDeliverer(deps: Pick<WorkerDeps, 'config' | 'pool' | 'producer' | 'metrics' | 'logger'>, options: DeliveryOptions = {}) {
  const repo = new WebhooksRepository(deps.pool);
  const allowed = parseAllowedCidrs(deps.config.webhookAllowedCidrs);
  const scheduleMs = deps.config.webhookRetrySchedule.map(parseDurationMs);
  const slots = new EndpointSlots(deps.config.webhookEndpointConcurrency);

  const queueAttempt = async (deliveryId: string, endpointId: string, attempt: number, at: Date) => {
    await deps.producer.enqueue('webhookDelivery', { delivery_id: deliveryId, endpoint_id: endpointId, attempt }, { delay: Math.max(0, at.getTime() - Date.now()) });
  };

  return async function deliver(payload: WebhookDeliveryPayload, ctx: Pick<WorkerContext, 'job' | 'token' | 'logger'>): Promise<Record<string, unknown>> {
    // First, before any query: an endpoint that has its share of requests in flight waits.
    if (!slots.tryAcquire(payload.endpoint_id)) {
      await ctx.job.moveToDelayed(Date.now() + 200 + Math.floor(Math.random() * 800), ctx.token);
      throw new DelayedError();
    }
    try {
      return await attempt(payload, ctx);
    } finally {
      slots.release(payload.endpoint_id);
    }
  };

  async function attempt(payload: WebhookDeliveryPayload, ctx: Pick<WorkerContext, 'logger'>): Promise<Record<string, unknown>> {
    const found = await repo.forAttempt(payload.delivery_id);
    if (!found) return { skipped: 'no such delivery (its endpoint was deleted, or it was pruned)' };
    const { delivery: d, endpoint: e } = found;
    if (d.attempt_count >= payload.attempt) {
      // A re-run of an attempt already recorded (a worker died after recording it): only make
      // sure the retry it called for is queued (job ids deduplicate).
      if (d.attempt_count === payload.attempt && d.status === 'failed' && d.next_attempt_at) await queueAttempt(d.id, e.id, payload.attempt + 1, d.next_attempt_at);
      return { skipped: `attempt ${payload.attempt} already made` };
    }
    if (d.status === 'succeeded' || d.status === 'dead') return { skipped: `delivery is ${d.status}` };
    if (!e.enabled) {
      await repo.markDead(d.id, 'the endpoint is disabled');
      return { skipped: 'endpoint disabled' };
    }
    const body = JSON.stringify(d.event);
    const startedAt = new Date();
    const timestamp = Math.floor(startedAt.getTime() / 1000);
    const res = await postWebhook({
      url: e.url,
      body,
      timeoutMs: deps.config.webhookTimeoutMs,
      allowed,
      ...(options.resolve ? { resolve: options.resolve } : {}),
      headers: {
        'content-type': 'application/json',
        'user-agent': 'zfs-sync-webhooks/1',
        'webhook-id': d.event_id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signatureHeader(e.previous_secret ? [e.secret, e.previous_secret] : [e.secret], d.event_id, timestamp, body),
      },
    });
    const now = new Date();
    const outcome: AttemptOutcome = res.statusCode === null ? { kind: 'failure', retryAfterMs: null } : classifyResponse(res.statusCode, res.retryAfter, now);
    const decision = decideRetry({ attempt: payload.attempt, outcome, scheduleMs, now, failingSince: e.failing_since, disableAfterMs: deps.config.webhookDisableAfterSeconds * 1000 });
    const recorded = await repo.recordAttempt({
      deliveryId: d.id,
      endpointId: e.id,
      attempt: payload.attempt,
      startedAt,
      durationMs: res.durationMs,
      statusCode: res.statusCode,
      error: res.error,
      responseBody: res.responseBody,
      status: decision.status,
      nextAttemptAt: decision.nextAttemptAt,
      failingSince: decision.failingSince,
      disableReason: decision.disableReason,
    });
    const summary = { webhook_id: e.id, delivery_id: d.id, event_id: d.event_id, attempt: payload.attempt, status_code: res.statusCode, duration_ms: res.durationMs, outcome: decision.status };
    if (!recorded.recorded) return { ...summary, skipped: 'another worker recorded this attempt' };
    if (recorded.disabled) {
      deps.metrics.webhookEndpointsDisabled.inc();
      ctx.logger.warn({ ...summary, reason: decision.disableReason }, 'webhook endpoint disabled');
    } else if (decision.status !== 'succeeded') ctx.logger.info({ ...summary, error: res.error, next_attempt_at: decision.nextAttemptAt }, 'webhook delivery attempt failed');
    if (decision.status === 'failed' && decision.nextAttemptAt) await queueAttempt(d.id, e.id, payload.attempt + 1, decision.nextAttemptAt);
    return summary;
  }
}

/** Every hour: deliveries older than webhook_delivery_retention_seconds go, with their attempts. */
const RETENTION_EVERY_MS = 3600_000;

/**
 * Webhook delivery: one job per attempt (queue `webhook-deliveries`). Its worker's lock is
 * short (twice the request timeout), so the attempt of a worker that died is taken over soon;
 * the (delivery, attempt) row makes a taken-over attempt count once.
 */
export function webhookDeliveryProcessor(options: DeliveryOptions = {}): ProcessorDefinition {
  return {
    name: 'webhook-delivery',
    async start(deps) {
      const deliver = createDeliverer(deps, options);
      const lockMs = Math.max(5000, deps.config.webhookTimeoutMs * 2 + 2000);
      const worker = defineWorker({
        key: 'webhookDelivery',
        redisUrl: deps.config.redisUrl,
        prefix: deps.config.queuePrefix,
        logger: deps.logger,
        concurrency: deps.config.webhookDeliveryConcurrency,
        handler: (payload, ctx) => deliver(payload, ctx),
        workerOptions: { lockDuration: lockMs, stalledInterval: lockMs, maxStalledCount: 3 },
      });
      const repo = new WebhooksRepository(deps.pool);
      const retention = defineWorker({
        key: 'webhookRetentionSweep',
        redisUrl: deps.config.redisUrl,
        prefix: deps.config.queuePrefix,
        logger: deps.logger,
        handler: async () => ({ pruned: await pruneDeliveries(repo, deps.config.webhookDeliveryRetentionSeconds) }),
      });
      await deps.producer.scheduleEvery('webhookRetentionSweep', 'webhook-retention-sweep', RETENTION_EVERY_MS, {});
      return { workers: [worker, retention] };
    },
  };
}

export async function pruneDeliveries(repo: WebhooksRepository, retentionSeconds: number): Promise<number> {
  return repo.prune(new Date(Date.now() - retentionSeconds * 1000));
}
