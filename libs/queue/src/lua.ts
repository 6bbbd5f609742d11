import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * A Lua script run by its SHA-1 (EVALSHA), sent in full (EVAL) only when this Redis does not hold
 * it yet — after a restart, a failover or SCRIPT FLUSH. EVAL on every call would send the whole
 * script and make Redis hash it each time: on the heartbeat path that was the largest share of
 * the bytes written per request.
 */
export class LuaScript {
  readonly sha: string;

  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, keys: readonly string[], args: readonly (string | number)[] = []): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
      // EVAL caches the script under the same SHA-1, so the next call is an EVALSHA again.
      return redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}
