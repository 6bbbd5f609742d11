import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { isEventType, type EventEnvelope, type WebhookDeliveryPayload } from '@zfs-sync/contracts';
import { WebhooksRepository } from '@zfs-sync/db';
import { eventStreamKey, workerConnection } from '@zfs-sync/queue';
import type { ProcessorDefinition, WorkerDeps } from '../../processor.js';

/** The consumer group every fan-out replica reads the events stream in. */
export const FANOUT_GROUP = 'webhook-fanout';
/** Entries another consumer read but did not acknowledge for this long are taken over (it died). */
export const CLAIM_IDLE_MS = 30_000;
const BATCH = 100;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The sync groups an event is about — `data.group_id` of the link, sync and conflict events
 * (libs/contracts EVENT_DATA_SCHEMAS), or `sync_group_id(s)` — the endpoints' group filter
 * matches on them.
 */
export function groupsOfEvent(event: EventEnvelope): string[] {
  const d = event.data ?? {};
  const ids = [d.group_id, d.sync_group_id, ...(Array.isArray(d.sync_group_ids) ? d.sync_group_ids : [])];
  return [...new Set(ids.filter((v): v is string => typeof v === 'string' && UUID.test(v)).map((v) => v.toLowerCase()))];
}

type StreamEntry = [id: string, fields: string[] | null];

function parseEntry(fields: string[]): EventEnvelope | null {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i]!, fields[i + 1]!);
  try {
    const event = JSON.parse(map.get('event') ?? '') as EventEnvelope;
    if (typeof event?.id !== 'string' || !UUID.test(event.id) || typeof event.type !== 'string' || !isEventType(event.type)) return null;
    return event;
  } catch {
    return null;
  }
}

/**
 * Reads the events stream with a consumer group: each entry is handed to one replica, turned
 * into one delivery row per matching endpoint (unique per endpoint and event, so a re-read entry
 * creates nothing twice), their first attempts are queued, and only then is the entry
 * acknowledged. Entries a dead replica read but never acknowledged are claimed after
 * CLAIM_IDLE_MS (XAUTOCLAIM).
 */
export class WebhookFanout {
  private readonly repo: WebhooksRepository;
  private readonly key: string;
  readonly consumer = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;

  constructor(
    private readonly deps: Pick<WorkerDeps, 'config' | 'pool' | 'producer' | 'logger'>,
    private readonly redis: Redis,
  ) {
    this.repo = new WebhooksRepository(deps.pool);
    this.key = eventStreamKey(deps.config.queuePrefix);
  }

  /** Create the group (from the start of the stream: nothing relayed before the first start is missed). */
  async ensureGroup(): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', this.key, FANOUT_GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!/BUSYGROUP/.test((err as Error).message)) throw err;
    }
  }

  /**
   * Record and queue the deliveries of these entries, then acknowledge them. An entry PostgreSQL
   * refuses as data (class 22, e.g. a NUL in the JSON) can never succeed: it is logged and
   * acknowledged. Any other failure (PostgreSQL or Redis away) leaves the entries pending, to be
   * claimed again.
   */
  async handle(entries: StreamEntry[]): Promise<number> {
    const payloads: WebhookDeliveryPayload[] = [];
    const ids: string[] = [];
    for (const [id, fields] of entries) {
      ids.push(id);
      if (!fields) continue; // trimmed from the stream meanwhile
      const event = parseEntry(fields);
      if (!event) {
        this.deps.logger.warn({ stream_id: id }, 'events stream entry is not an event envelope; skipped');
        continue;
      }
      try {
        for (const d of await this.repo.fanOut(event, groupsOfEvent(event))) payloads.push({ delivery_id: d.id, endpoint_id: d.endpoint_id, attempt: 1 });
      } catch (err) {
        if (!/^22/.test(String((err as { code?: string }).code ?? ''))) throw err;
        this.deps.logger.error({ stream_id: id, event_id: event.id, err: (err as Error).message }, 'event refused by PostgreSQL; not delivered to webhooks');
      }
    }
    await this.deps.producer.enqueueBulk('webhookDelivery', payloads);
    if (ids.length) await this.redis.xack(this.key, FANOUT_GROUP, ...ids);
    return payloads.length;
  }

  /** Read new entries (blocking up to `blockMs`) and handle them. */
  async readOnce(blockMs: number): Promise<number> {
    const res = (await this.redis.xreadgroup('GROUP', FANOUT_GROUP, this.consumer, 'COUNT', BATCH, 'BLOCK', blockMs, 'STREAMS', this.key, '>')) as Array<[string, StreamEntry[]]> | null;
    if (!res?.[0]) return 0;
    return this.handle(res[0][1]);
  }

  /** Take over entries idle for `minIdleMs` in other consumers' (or our own) pending lists. */
  async claimStale(minIdleMs: number): Promise<number> {
    let cursor = '0-0';
    let n = 0;
    do {
      const [next, entries] = (await this.redis.xautoclaim(this.key, FANOUT_GROUP, this.consumer, minIdleMs, cursor, 'COUNT', BATCH)) as unknown as [string, StreamEntry[]];
      if (entries.length) n += await this.handle(entries);
      cursor = next;
    } while (cursor !== '0-0');
    return n;
  }
}

export const webhookFanoutProcessor: ProcessorDefinition = {
  name: 'webhook-fanout',
  async start(deps) {
    // A connection of its own: XREADGROUP BLOCK holds it.
    const redis = new Redis({ ...workerConnection(deps.config.redisUrl) });
    redis.on('error', () => {});
    const fanout = new WebhookFanout(deps, redis);
    let stopping = false;
    const loop = (async () => {
      let lastClaim = 0;
      let groupReady = false;
      while (!stopping) {
        try {
          if (!groupReady) {
            await fanout.ensureGroup();
            groupReady = true;
          }
          if (Date.now() - lastClaim >= CLAIM_IDLE_MS / 2) {
            await fanout.claimStale(CLAIM_IDLE_MS);
            lastClaim = Date.now();
          }
          await fanout.readOnce(1000);
        } catch (err) {
          if (stopping) break;
          // The stream or group may have been deleted (Redis restarted empty): create it again.
          if (/NOGROUP/.test((err as Error).message)) groupReady = false;
          // PostgreSQL or Redis away: the entries stay pending and are claimed again later.
          deps.logger.warn({ err: (err as Error).message }, 'webhook fan-out: reading the events stream failed; retrying');
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    })();
    deps.logger.info({ consumer: fanout.consumer }, 'webhook fan-out reading the events stream');
    return {
      workers: [],
      stop: async () => {
        stopping = true;
        // Ends a blocked XREADGROUP at once; entries read but not yet acknowledged stay pending
        // and another replica claims them.
        redis.disconnect();
        await Promise.race([loop, new Promise((r) => setTimeout(r, 3000))]);
      },
    };
  },
};
