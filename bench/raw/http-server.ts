/**
 * The bare heartbeat server of `bench:raw` (run as its own process tree): Node's HTTP server with
 * no framework, no authentication, no validation, no logging and no metrics, answering each POST
 * with one Redis script call that records the time in a sorted set — the shape of a heartbeat and
 * nothing else. What the machine does with that is the limit the API's heartbeat rate is put
 * beside. RAW_HTTP_PROCESSES processes share RAW_HTTP_PORT (node cluster), like api_processes.
 */
import cluster from 'node:cluster';
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { LuaScript, redisOptionsFromUrl } from '@zfs-sync/queue';

const port = Number(process.env.RAW_HTTP_PORT);
const processes = Number(process.env.RAW_HTTP_PROCESSES ?? 2);
const key = `${process.env.RAW_HTTP_PREFIX}:raw-heartbeats`;
const RECORD = new LuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
return tostring(now)`);

if (cluster.isPrimary && processes > 1) {
  for (let i = 0; i < processes; i++) cluster.fork();
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
    process.exit(0);
  });
} else {
  const redis = new Redis(redisOptionsFromUrl(process.env.RAW_HTTP_REDIS_URL!));
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { agent_version?: string };
      RECORD.run(redis, [key], [body.agent_version ?? 'x']).then(
        (at) => {
          const text = JSON.stringify({ last_seen: new Date(Number(at)).toISOString(), status: 'online' });
          res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
          res.end(text);
        },
        () => {
          res.writeHead(503).end();
        },
      );
    });
  });
  server.keepAliveTimeout = 65_000;
  server.listen(port, '127.0.0.1');
  process.on('SIGTERM', () => {
    redis.disconnect();
    process.exit(0);
  });
}
