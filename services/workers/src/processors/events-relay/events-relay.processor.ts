import pg from 'pg';
import { EVENTS_NOTIFY_CHANNEL, envelopeOf, relayOutboxBatch } from '@zfs-sync/db';
import { appendToEventStreamOnce, forgetRelayed } from '@zfs-sync/queue';
import type { ProcessorDefinition, WorkerDeps } from '../../processor.js';

const BATCH = 500;

export interface EventsRelay {
  /** Drain the outbox now (also what a NOTIFY and the periodic sweep call). Resolves when nothing is left. */
  drain: () => Promise<number>;
  stop: () => Promise<void>;
}

/**
 * The outbox relay: moves committed events from PostgreSQL's `events` table to the Redis events
 * stream. A NOTIFY sent on commit by `appendEvents` wakes it at once (a dedicated LISTEN
 * connection), so an event reaches the stream — and SSE clients — within milliseconds; a sweep
 * every `events_relay_poll_ms` re-drives anything a lost notification, a dropped LISTEN
 * connection or a relay killed mid-batch left behind. Many replicas may run it: batches take turns
 * under one lock, and a batch that did not commit is taken again — without a second copy on the
 * stream: the XADD script skips event ids an earlier attempt already added, and the event keeps
 * that attempt's position.
 */
export function startEventsRelay(deps: Pick<WorkerDeps, 'config' | 'logger' | 'pool' | 'redis'>): EventsRelay {
  const { config, logger, pool, redis } = deps;
  let stopped = false;
  let running: Promise<number> | null = null;
  let again = false;

  const drainOnce = async (): Promise<number> => {
    let total = 0;
    for (;;) {
      const moved = await relayOutboxBatch(pool, BATCH, (events) =>
        appendToEventStreamOnce(
          redis,
          config.queuePrefix,
          events.map((e) => ({ envelope: envelopeOf(e), seq: e.seq })),
          config.eventsStreamMaxLength,
        ),
      );
      // Committed: their marks are not needed any more (a leftover one only costs a few bytes).
      await forgetRelayed(redis, config.queuePrefix, moved.map((e) => e.id)).catch(() => {});
      total += moved.length;
      if (moved.length < BATCH || stopped) return total;
    }
  };

  /** One drain at a time per process; a wake-up during a drain runs one more after it. */
  const drain = (): Promise<number> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      let total = 0;
      try {
        do {
          again = false;
          total += await drainOnce();
        } while (again && !stopped);
      } finally {
        running = null;
      }
      return total;
    })();
    return running;
  };
  // One warning per outage (Redis or PostgreSQL down), not one per sweep.
  let failing = false;
  const kick = () => {
    if (stopped) return;
    drain().then(
      () => {
        if (failing) logger.info('events relay: relaying again');
        failing = false;
      },
      (err: Error) => {
        if (!failing) logger.warn({ err: err.message }, 'events relay: a batch failed; the sweep retries it until it succeeds');
        failing = true;
      },
    );
  };

  // LISTEN on a connection of its own (a pooled one would be handed back and lose it).
  let listener: pg.Client | null = null;
  const listen = async () => {
    if (stopped) return;
    const client = new pg.Client({ connectionString: config.databaseUrl });
    client.on('error', () => {});
    client.on('end', () => {
      if (listener === client) listener = null;
      if (!stopped) setTimeout(() => void listen().catch(() => {}), 1000);
    });
    client.on('notification', kick);
    try {
      await client.connect();
      await client.query(`listen ${EVENTS_NOTIFY_CHANNEL}`);
      listener = client;
      kick(); // anything committed while we were not listening
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'events relay: LISTEN failed; sweeping only until it reconnects');
      await client.end().catch(() => {});
    }
  };
  void listen();
  const sweep = setInterval(kick, config.eventsRelayPollMs);
  sweep.unref();

  return {
    drain,
    stop: async () => {
      stopped = true;
      clearInterval(sweep);
      const l = listener;
      listener = null;
      await l?.end().catch(() => {});
      await running?.catch(() => 0);
    },
  };
}

export const eventsRelayProcessor: ProcessorDefinition = {
  name: 'events-relay',
  async start(deps) {
    const relay = startEventsRelay(deps);
    return { workers: [], stop: relay.stop };
  },
};
