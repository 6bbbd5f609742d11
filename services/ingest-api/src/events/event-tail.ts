import { Redis } from 'ioredis';
import type { EventEnvelope } from '@zfs-sync/contracts';
import type { Logger } from '@zfs-sync/logger';
import { readEventStream, readRecentEvents, workerConnection } from '@zfs-sync/queue';

export interface TailedEvent {
  seq: string;
  envelope: EventEnvelope;
}

type Listener = (e: TailedEvent) => void;

/** How many recent stream entries a process keeps in memory (covers events relayed but not yet committed). */
const RECENT = 1000;
const BLOCK_MS = 5000;

/**
 * One per API process: tails the Redis events stream with XREAD BLOCK on a connection of its own
 * and hands each event to the SSE clients of this process. Every replica runs its own tail, so a
 * client of any replica sees every event. Started by the first SSE client. It keeps the last
 * `RECENT` entries: the relay appends to the stream just before it commits, so an event can be on
 * the stream a moment before PostgreSQL shows it; a client resuming from PostgreSQL merges these in
 * and misses nothing.
 */
export class EventTail {
  private readonly listeners = new Set<Listener>();
  private readonly recent: TailedEvent[] = [];
  private redis: Redis | null = null;
  private loop: Promise<void> | null = null;
  private closed = false;
  private readonly closers = new Set<() => void>();

  constructor(
    private readonly redisUrl: string,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {}

  /** Subscribe; returns the recent entries (oldest first) and the unsubscribe function. */
  subscribe(fn: Listener, onClose: () => void): { recent: TailedEvent[]; unsubscribe: () => void } {
    this.ensureStarted();
    this.listeners.add(fn);
    this.closers.add(onClose);
    return {
      recent: [...this.recent],
      unsubscribe: () => {
        this.listeners.delete(fn);
        this.closers.delete(onClose);
      },
    };
  }

  /** Resolves once the tail has read the stream's recent entries (tests, and a first client). */
  async ready(): Promise<void> {
    this.ensureStarted();
    await this.started;
  }

  private started: Promise<void> | null = null;

  private ensureStarted(): void {
    if (this.loop || this.closed) return;
    const redis = new Redis({ ...workerConnection(this.redisUrl), lazyConnect: false });
    redis.on('error', () => {});
    this.redis = redis;
    let markStarted!: () => void;
    this.started = new Promise((r) => (markStarted = r));
    this.loop = this.run(redis, markStarted).catch((err: Error) => this.logger.error({ err: err.message }, 'event tail stopped'));
  }

  private async run(redis: Redis, markStarted: () => void): Promise<void> {
    let lastId = '0-0';
    let primed = false;
    while (!this.closed) {
      try {
        if (!primed) {
          // Start with the newest RECENT entries in memory, so `recent` covers the commit window at once.
          const first = await readRecentEvents(redis, this.prefix, RECENT);
          for (const e of first) this.remember(e.seq, e.envelope, false);
          if (first.length) lastId = first[first.length - 1]!.streamId;
          primed = true;
          markStarted();
          continue;
        }
        const read = await readEventStream(redis, this.prefix, lastId, BLOCK_MS);
        for (const e of read) {
          lastId = e.streamId;
          this.remember(e.seq, e.envelope, true);
        }
      } catch (err) {
        if (this.closed) return;
        this.logger.warn({ err: (err as Error).message }, 'event tail: reading the stream failed; retrying');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private remember(seq: string | null, envelope: EventEnvelope, announce: boolean): void {
    if (seq === null) return; // not written by the relay: no log position, not for SSE
    const e = { seq, envelope };
    this.recent.push(e);
    if (this.recent.length > RECENT) this.recent.splice(0, this.recent.length - RECENT);
    if (announce) for (const fn of this.listeners) fn(e);
  }

  /** Stop the tail and end every open stream of this process (shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    for (const c of [...this.closers]) c();
    this.listeners.clear();
    this.closers.clear();
    this.redis?.disconnect();
    await this.loop;
  }
}
