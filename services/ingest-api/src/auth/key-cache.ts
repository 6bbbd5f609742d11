import type { Redis } from 'ioredis';
import type { SystemsRepository } from '@zfs-sync/db';
import type { Logger } from '@zfs-sync/logger';
import { authInvalidateChannel } from '@zfs-sync/queue';

interface Entry {
  systemId: string;
  keyId: string;
  expiresAt: Date | null;
  /** Forget the entry at this time (ms): the cache TTL, or the key's own expiry if sooner. */
  until: number;
}

export type KeyLookup = Pick<SystemsRepository, 'findByKeyHash' | 'touchKey'>;

/**
 * Which system a host key belongs to, remembered for a few seconds per API process: a heartbeat
 * then costs no PostgreSQL round trip for its credential. Only valid keys are remembered (a new
 * key works at once; an unknown one is looked up every time). A rotation or deletion drops the
 * system's entries at once in this process and, through Redis pub/sub, in every other API
 * process; the TTL bounds what a lost message can cost. A key's own expiry (the old key after a
 * rotation with a grace period) is honoured to the millisecond.
 */
export class KeyCache implements KeyLookup {
  private readonly entries = new Map<string, Entry>();
  private subscriber: Redis | null = null;

  constructor(
    private readonly inner: KeyLookup,
    private readonly ttlMs: number,
    private readonly redis: Redis | null,
    private readonly prefix: string,
    private readonly logger?: Logger,
    private readonly maxEntries = 100_000,
  ) {}

  /** Listen for other processes' invalidations (a dedicated connection: a subscriber can do nothing else). */
  async start(): Promise<void> {
    if (!this.redis || this.ttlMs === 0) return;
    const sub = this.redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    sub.on('error', () => {});
    sub.on('message', (_channel: string, systemId: string) => this.dropSystem(systemId));
    // After a reconnection messages may have been missed: start afresh.
    sub.on('ready', () => this.entries.clear());
    await sub.subscribe(authInvalidateChannel(this.prefix)).catch((err: Error) => this.logger?.warn({ err: err.message }, 'auth cache: cannot subscribe to invalidations; entries live for their TTL'));
    this.subscriber = sub;
  }

  /** The cached entry of a key, without looking further (null: not cached here, or its time is up). */
  peek(keyHash: string): { systemId: string; keyId: string; expiresAt: Date | null } | null {
    const hit = this.entries.get(keyHash);
    return hit && hit.until > Date.now() ? { systemId: hit.systemId, keyId: hit.keyId, expiresAt: hit.expiresAt } : null;
  }

  async findByKeyHash(keyHash: string): Promise<{ systemId: string; keyId: string; expiresAt: Date | null } | null> {
    const now = Date.now();
    const hit = this.entries.get(keyHash);
    if (hit && hit.until > now) return { systemId: hit.systemId, keyId: hit.keyId, expiresAt: hit.expiresAt };
    if (hit) this.entries.delete(keyHash);
    const found = await this.inner.findByKeyHash(keyHash);
    if (found && this.ttlMs > 0) {
      if (this.entries.size >= this.maxEntries) this.entries.clear();
      const keyExpiry = found.expiresAt ? found.expiresAt.getTime() : Infinity;
      this.entries.set(keyHash, { systemId: found.systemId, keyId: found.keyId, expiresAt: found.expiresAt, until: Math.min(now + this.ttlMs, keyExpiry) });
      // Key use is recorded when the key is looked up, i.e. at most once per TTL per process.
      this.inner.touchKey(found.keyId).catch(() => {});
    }
    return found;
  }

  /** Cached hits are already recorded (see findByKeyHash). */
  async touchKey(): Promise<void> {}

  dropSystem(systemId: string): void {
    for (const [hash, e] of this.entries) if (e.systemId === systemId) this.entries.delete(hash);
  }

  /** A system's keys changed: drop them here now, and in every other process. */
  async invalidateSystem(systemId: string): Promise<void> {
    this.dropSystem(systemId);
    if (this.redis && this.ttlMs > 0) await this.redis.publish(authInvalidateChannel(this.prefix), systemId).catch((err: Error) => this.logger?.warn({ err: err.message, system_id: systemId }, 'auth cache: invalidation not published; other processes keep the entry until its TTL'));
  }

  async close(): Promise<void> {
    this.entries.clear();
    this.subscriber?.disconnect();
  }
}
