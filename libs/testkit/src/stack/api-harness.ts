import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { loadConfig, type Config } from '@zfs-sync/config';
import { createLogger } from '@zfs-sync/logger';
import { createTestDatabase, dropQueuePrefix, testQueuePrefix, testServices, type TestDatabase } from '../index.js';
import { buildApiDeps, createApiListener, type ResponseViolation } from '@zfs-sync/ingest-api';

export const TEST_ADMIN_TOKEN = 'zs_admin_test-admin-token-for-integration-tests-only-0000';
export const TEST_ENROLLMENT_TOKEN = 'zs_enroll_test-enrollment-token-0000';

export interface TestEnvironment {
  db: TestDatabase;
  redisUrl: string;
  prefix: string;
  config: (overrides?: Record<string, unknown>) => Readonly<Config>;
  teardown: () => Promise<void>;
}

/** A database and a queue prefix of this test file's own, and a config pointing at them. */
export async function createTestEnvironment(): Promise<TestEnvironment> {
  const { redisUrl } = await testServices();
  const db = await createTestDatabase();
  const prefix = testQueuePrefix();
  return {
    db,
    redisUrl,
    prefix,
    config: (overrides = {}) =>
      loadConfig({
        env: {},
        cwd: '/nonexistent',
        overrides: {
          database_url: db.url,
          redis_url: redisUrl,
          queue_prefix: prefix,
          admin_token: TEST_ADMIN_TOKEN,
          enrollment_token: TEST_ENROLLMENT_TOKEN,
          log_level: process.env.TEST_LOG_LEVEL ?? 'silent',
          log_format: 'json',
          port: 0,
          ops_port: 0,
          ...overrides,
        },
      }),
    teardown: async () => {
      await db.drop();
      await dropQueuePrefix(redisUrl, prefix);
    },
  };
}

export interface TestApi {
  baseUrl: string;
  close: () => Promise<void>;
  request: (method: string, path: string, opts?: { key?: string | null; body?: unknown; rawBody?: string | Buffer; headers?: Record<string, string> }) => Promise<{ status: number; headers: Headers; body: any; text: string }>;
}

/** The real API (real wiring, real PostgreSQL and Redis) listening on a free loopback port. */
export async function startTestApi(config: Readonly<Config>): Promise<TestApi> {
  const logger = createLogger('ingest-api-test', config);
  const deps = await buildApiDeps(config, logger);
  // Every JSON answer is checked against the schema the route catalog (and so the OpenAPI
  // document) gives for it; a test that saw an undocumented answer fails when it closes the API.
  const violations: ResponseViolation[] = [];
  const server: Server = createServer(createApiListener(deps, { onResponseViolation: (v) => violations.push(v) })).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
  return {
    baseUrl,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await deps.close();
      if (violations.length) {
        const seen = [...new Set(violations.map((v) => `${v.route} → ${v.status}: ${v.detail}`))];
        throw new Error(`answers that do not match the route catalog (libs/contracts/src/api):\n  ${seen.join('\n  ')}`);
      }
    },
    request: async (method, path, opts = {}) => {
      const headers: Record<string, string> = { ...(opts.headers ?? {}) };
      if (opts.key) headers['x-api-key'] = opts.key;
      let body: string | Buffer | undefined;
      if (opts.rawBody !== undefined) body = opts.rawBody;
      else if (opts.body !== undefined) {
        body = JSON.stringify(opts.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await fetch(baseUrl + path, { method, headers, ...(body !== undefined ? { body } : {}) });
      const text = await res.text();
      let parsed: unknown = undefined;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: res.status, headers: res.headers, body: parsed, text };
    },
  };
}
