import { getContainerRuntimeClient } from 'testcontainers';
import { PostgreSqlContainer } from '@testcontainers/postgresql';
import { RedisContainer } from '@testcontainers/redis';

/** Throws quickly ("Could not find a working container runtime strategy") when no engine runs. */
export async function assertDockerAvailable(): Promise<void> {
  await getContainerRuntimeClient();
}

export async function startPostgres(): Promise<string> {
  const c = await new PostgreSqlContainer('postgres:15-alpine').withUsername('postgres').withPassword('postgres').start();
  return c.getConnectionUri();
}

export async function startRedis(): Promise<string> {
  const c = await new RedisContainer('redis:7-alpine').start();
  return c.getConnectionUrl();
}
