import type { Redis } from 'ioredis';
import { appliedGenerationKey, reportRegistryKey } from '@zfs-sync/queue';

/**
 * What the API remembers of a report before the worker has applied it, in Redis (no PostgreSQL
 * on the ingest hot path): per chunk the hash of the body first accepted under that report id,
 * so a re-sent chunk is recognised and a different body under the same id is refused (409).
 * The worker writes the system's applied generation here too, so stale reports are answered
 * `superseded` at once.
 */
const TTL_SECONDS = 7 * 24 * 3600;

export interface ReportMeta {
  mode: 'inventory' | 'batch';
  received_at: string;
  chunk_count: number;
  generation: number | null;
}

export class ReportRegistry {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(systemId: string, reportId: string): string {
    return reportRegistryKey(this.prefix, systemId, reportId);
  }

  /**
   * Claim a chunk for this body. `new`: first time; `same`: the same body again (idempotent
   * replay); `different`: another body was already accepted under this report id and chunk.
   */
  async claimChunk(systemId: string, reportId: string, chunkIndex: number, bodyHash: string, meta: ReportMeta): Promise<{ outcome: 'new' | 'same' | 'different'; meta: ReportMeta }> {
    const key = this.key(systemId, reportId);
    const res = await this.redis
      .multi()
      .hsetnx(key, 'meta', JSON.stringify(meta))
      .hsetnx(key, `chunk:${chunkIndex}`, bodyHash)
      .hget(key, 'meta')
      .hget(key, `chunk:${chunkIndex}`)
      .expire(key, TTL_SECONDS)
      .exec();
    if (!res) throw new Error('redis transaction aborted');
    for (const [err] of res) if (err) throw err;
    const storedMeta = JSON.parse(res[2]![1] as string) as ReportMeta;
    const storedHash = res[3]![1] as string;
    const created = res[1]![1] === 1;
    if (storedHash !== bodyHash) return { outcome: 'different', meta: storedMeta };
    // A chunk of the same report must agree with the others on what the report is.
    if (storedMeta.chunk_count !== meta.chunk_count || storedMeta.generation !== meta.generation || storedMeta.mode !== meta.mode) {
      return { outcome: 'different', meta: storedMeta };
    }
    return { outcome: created ? 'new' : 'same', meta: storedMeta };
  }

  /** Forget a claimed chunk (its enqueue failed), so the client's retry is not taken for a replay of nothing. */
  async releaseChunk(systemId: string, reportId: string, chunkIndex: number): Promise<void> {
    await this.redis.hdel(this.key(systemId, reportId), `chunk:${chunkIndex}`).catch(() => {});
  }

  async get(systemId: string, reportId: string): Promise<{ meta: ReportMeta; chunks: number; applyingSince: string | null } | null> {
    const all = await this.redis.hgetall(this.key(systemId, reportId));
    if (!all.meta) return null;
    return { meta: JSON.parse(all.meta) as ReportMeta, chunks: Object.keys(all).filter((k) => k.startsWith('chunk:')).length, applyingSince: all.applying_since ?? null };
  }

  async appliedGeneration(systemId: string): Promise<number | null> {
    const v = await this.redis.get(appliedGenerationKey(this.prefix, systemId));
    return v === null ? null : Number(v);
  }
}
