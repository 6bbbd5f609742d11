import { randomUUID } from 'node:crypto';
import test from 'ava';
import { Redis } from 'ioredis';
import { testServices } from '@zfs-sync/testkit';
import { LuaScript } from './lua.js';

test('a script Redis does not hold yet runs (sent in full once), after which Redis holds it under its SHA-1', async (t) => {
  const { redisUrl } = await testServices();
  const redis = new Redis(redisUrl);
  try {
    // A script no earlier run can have loaded: its own comment makes its SHA-1 new.
    const script = new LuaScript(`-- ${randomUUID()}\nreturn {KEYS[1], ARGV[1], ARGV[2]}`);
    t.deepEqual(await redis.script('EXISTS', script.sha), [0]);
    t.deepEqual(await script.run(redis, ['k'], ['a', 7]), ['k', 'a', '7']);
    t.deepEqual(await redis.script('EXISTS', script.sha), [1]);
    t.deepEqual(await script.run(redis, ['k2'], ['b', 'c']), ['k2', 'b', 'c']);
  } finally {
    redis.disconnect();
  }
});

test("a script's own error reaches the caller (only NOSCRIPT is answered by sending the script)", async (t) => {
  const { redisUrl } = await testServices();
  const redis = new Redis(redisUrl);
  try {
    const script = new LuaScript(`-- ${randomUUID()}\nreturn redis.error_reply('ERR refused by the script')`);
    await t.throwsAsync(() => script.run(redis, [], []), { message: /refused by the script/ });
    await t.throwsAsync(() => script.run(redis, [], []), { message: /refused by the script/ });
  } finally {
    redis.disconnect();
  }
});
