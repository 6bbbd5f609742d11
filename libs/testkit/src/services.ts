import net from 'node:net';
import pg from 'pg';

/**
 * Where tests find PostgreSQL and Redis: TEST_DATABASE_URL / TEST_REDIS_URL, else the services
 * already running on this machine, else — only when a Docker engine answers — testcontainers.
 * Tests never mock either store.
 */
const DEFAULT_PG = 'postgresql://postgres@127.0.0.1:5432/postgres';
const DEFAULT_REDIS = 'redis://127.0.0.1:6379';

function answers(url: string, fallbackPort: number): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: u.hostname, port: Number(u.port || fallbackPort) });
    socket.setTimeout(1500);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

let resolved: Promise<{ pgUrl: string; redisUrl: string }> | undefined;

async function resolveServices(): Promise<{ pgUrl: string; redisUrl: string }> {
  let pgUrl = process.env.TEST_DATABASE_URL ?? DEFAULT_PG;
  let redisUrl = process.env.TEST_REDIS_URL ?? DEFAULT_REDIS;
  const [pgOk, redisOk] = await Promise.all([answers(pgUrl, 5432), answers(redisUrl, 6379)]);
  if (pgOk && redisOk) return { pgUrl, redisUrl };
  // Fall back to containers only when an engine exists; otherwise say exactly what is missing.
  let containers: typeof import('./containers.js');
  try {
    containers = await import('./containers.js');
    await containers.assertDockerAvailable();
  } catch {
    throw new Error(
      `test services unreachable (${pgOk ? '' : `PostgreSQL at ${pgUrl} `}${redisOk ? '' : `Redis at ${redisUrl}`}) and no Docker engine for testcontainers; ` +
        'start them (see infra/scripts/services.sh) or set TEST_DATABASE_URL / TEST_REDIS_URL',
    );
  }
  if (!pgOk) pgUrl = await containers.startPostgres();
  if (!redisOk) redisUrl = await containers.startRedis();
  return { pgUrl, redisUrl };
}

export function testServices(): Promise<{ pgUrl: string; redisUrl: string }> {
  resolved ??= resolveServices();
  return resolved;
}

export async function pgQuery(url: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}
