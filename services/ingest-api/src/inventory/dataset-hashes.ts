import type { Redis } from 'ioredis';
import { datasetContentHash, type ReconcileDataset, type UnchangedDatasetRef } from '@zfs-sync/contracts';
import { LuaScript, datasetHashesKey } from '@zfs-sync/queue';

const TTL_SECONDS = 7 * 24 * 3600;
const GENERATION_FIELD = '~generation'; // pool names start with a letter: no dataset key collides
const BODY_FIELD = '~body';
/** A body fingerprint is remembered for inventories of at most this many datasets (its summary lists them all). */
const MAX_FINGERPRINT_DATASETS = 2_000;

/**
 * Remember the datasets' hashes of a system's newest accepted full inventory, unless a newer
 * generation is remembered already. A complete inventory replaces the whole map (datasets it
 * does not list are gone). The body's fingerprint (ARGV[3], or empty) always describes that same
 * newest inventory: a report without one removes the previous one.
 */
const REMEMBER = new LuaScript(`
local g = redis.call('HGET', KEYS[1], '${GENERATION_FIELD}')
if g and tonumber(g) > tonumber(ARGV[1]) then return 0 end
if ARGV[2] == '1' then redis.call('DEL', KEYS[1]) end
redis.call('HSET', KEYS[1], '${GENERATION_FIELD}', ARGV[1])
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], '${BODY_FIELD}') else redis.call('HSET', KEYS[1], '${BODY_FIELD}', ARGV[3]) end
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], ${TTL_SECONDS})
return 1
`);

/**
 * An accepted inventory as the next identical body needs it (see body-fingerprint.ts): its
 * fingerprint, whether it was complete, its counts and every dataset as a reference.
 */
export interface KnownBody {
  fingerprint: string;
  complete: boolean;
  snapshots: number;
  bookmarks: number;
  refs: UnchangedDatasetRef[];
}

const fieldOf = (d: { pool: string; dataset: string }) => `${d.pool}\u0000${d.dataset}`;

/** A hashed dataset as a reference; an explicit null token (no receive in progress) travels with it. */
const referenceTo = (d: ReconcileDataset): UnchangedDatasetRef => ({
  pool: d.pool,
  dataset: d.dataset,
  hash: d.hash!,
  rows: d.snapshots.length + d.bookmarks.length,
  ...(d.receive_resume_token === null ? { receive_resume_token: null } : {}),
});

/**
 * Most of a re-sent inventory is what the host sent last time. The API hashes each dataset as it
 * accepts the report and compares the hash with the newest inventory it accepted for the system
 * (kept in Redis, per system): a dataset that did not change goes to the queue as a reference —
 * pool, dataset, hash, row count — instead of its rows. The worker checks each reference against
 * what PostgreSQL holds and retries (then fails, asking for the full inventory) if they differ, so
 * a stale map costs a retry, never a wrong inventory.
 */
export class DatasetHashes {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** Hash every dataset (sets `hash`) and split them into changed ones and references. Redis unreachable: everything counts as changed. */
  async split(systemId: string, datasets: ReconcileDataset[]): Promise<{ changed: ReconcileDataset[]; unchanged: UnchangedDatasetRef[] }> {
    for (const d of datasets) d.hash = datasetContentHash(d);
    if (datasets.length === 0) return { changed: datasets, unchanged: [] };
    let known: Array<string | null>;
    try {
      known = await this.redis.hmget(datasetHashesKey(this.prefix, systemId), ...datasets.map(fieldOf));
    } catch {
      return { changed: datasets, unchanged: [] };
    }
    const changed: ReconcileDataset[] = [];
    const unchanged: UnchangedDatasetRef[] = [];
    datasets.forEach((d, i) => {
      // A resume token in the report is sent with its rows (a token is news); an explicit null
      // (no receive in progress) travels with the reference.
      if (known[i] === d.hash && !d.receive_resume_token) {
        unchanged.push(referenceTo(d));
      } else changed.push(d);
    });
    return { changed, unchanged };
  }

  /**
   * After the report was queued: its hashes are the ones the next report is compared with, and
   * its body (when given) the one the next body may be identical to.
   */
  async remember(systemId: string, generation: number, complete: boolean, datasets: Array<{ pool: string; dataset: string; hash?: string }>, body?: KnownBody): Promise<void> {
    const args: string[] = [String(generation), complete ? '1' : '0', body ? JSON.stringify(body) : ''];
    for (const d of datasets) if (d.hash) args.push(fieldOf(d), d.hash);
    await REMEMBER.run(this.redis, [datasetHashesKey(this.prefix, systemId)], args).catch(() => {});
  }

  /**
   * What the next identical body needs to know about this accepted, hashed inventory — or
   * nothing, when it cannot travel as references alone: a receive resume token is news and goes
   * with its rows, and a very large dataset list is not worth keeping twice.
   */
  static knownBody(fingerprint: string, complete: boolean, datasets: ReconcileDataset[]): KnownBody | undefined {
    if (datasets.length > MAX_FINGERPRINT_DATASETS) return undefined;
    let snapshots = 0;
    let bookmarks = 0;
    const refs: UnchangedDatasetRef[] = [];
    for (const d of datasets) {
      if (!d.hash || (d.receive_resume_token !== undefined && d.receive_resume_token !== null)) return undefined;
      snapshots += d.snapshots.length;
      bookmarks += d.bookmarks.length;
      refs.push(referenceTo(d));
    }
    return { fingerprint, complete, snapshots, bookmarks, refs };
  }

  /**
   * The system's newest accepted inventory, if this body's fingerprint is that inventory's and
   * every dataset's hash is still the remembered one. Redis unreachable: nothing (the body is parsed).
   */
  async recognise(systemId: string, fingerprint: string): Promise<KnownBody | null> {
    const key = datasetHashesKey(this.prefix, systemId);
    const raw = await this.redis.hget(key, BODY_FIELD);
    if (!raw) return null;
    let known: KnownBody;
    try {
      known = JSON.parse(raw) as KnownBody;
    } catch {
      return null;
    }
    if (known.fingerprint !== fingerprint || !Array.isArray(known.refs)) return null;
    if (known.refs.length > 0) {
      const current = await this.redis.hmget(key, ...known.refs.map(fieldOf));
      if (known.refs.some((r, i) => current[i] !== r.hash)) return null;
    }
    return known;
  }

  /** Something else changed the system's datasets (a batch report, a deletion): compare with nothing until the next full inventory. */
  async forget(systemId: string): Promise<void> {
    await this.redis.del(datasetHashesKey(this.prefix, systemId)).catch(() => {});
  }
}
