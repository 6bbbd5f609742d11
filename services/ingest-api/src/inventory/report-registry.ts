import type { Redis } from 'ioredis';
import { LuaScript, appliedGenerationKey, reportRegistryKey } from '@zfs-sync/queue';

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

/**
 * KEYS[1] the report's hash; ARGV: meta JSON, report identity (mode|chunk_count|generation),
 * chunk field, body hash, TTL. Returns {outcome, stored meta JSON}.
 */
const CLAIM_CHUNK = new LuaScript(`
local identity = redis.call('HGET', KEYS[1], 'identity')
local meta = redis.call('HGET', KEYS[1], 'meta')
if identity and identity ~= ARGV[2] then return {'different', meta} end
local stored = redis.call('HGET', KEYS[1], ARGV[3])
if stored and stored ~= ARGV[4] then return {'different', meta or ARGV[1]} end
if not identity then
  redis.call('HSET', KEYS[1], 'identity', ARGV[2], 'meta', ARGV[1])
  meta = ARGV[1]
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
if stored then return {'same', meta} end
redis.call('HSET', KEYS[1], ARGV[3], ARGV[4])
return {'new', meta}
`);

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
   * replay); `different`: another body was already accepted under this report id and chunk, or
   * the chunk disagrees with the report's other chunks on what the report is (mode, chunk count,
   * generation). A refused chunk stores nothing, so the right chunk is still accepted afterwards.
   * One Lua script: check and store happen atomically.
   */
  async claimChunk(systemId: string, reportId: string, chunkIndex: number, bodyHash: string, meta: ReportMeta): Promise<{ outcome: 'new' | 'same' | 'different'; meta: ReportMeta }> {
    const identity = `${meta.mode}|${meta.chunk_count}|${meta.generation ?? ''}`;
    const [outcome, storedMeta] = (await CLAIM_CHUNK.run(this.redis, [this.key(systemId, reportId)], [JSON.stringify(meta), identity, `chunk:${chunkIndex}`, bodyHash, TTL_SECONDS])) as [string, string];
    return { outcome: outcome as 'new' | 'same' | 'different', meta: JSON.parse(storedMeta) as ReportMeta };
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
