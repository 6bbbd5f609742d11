/**
 * Slow clients (issue 8): 200 slowloris connections — headers that never finish, bodies that
 * stall, bodies that trickle — are cut by the header, idle and request timeouts while normal
 * clients are answered meanwhile; oversized headers are answered 431. The server is the one
 * main.ts runs (createApiServer), with short timeouts from the config.
 */
import test from 'ava';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createLogger } from '@zfs-sync/logger';
import { createTestEnvironment, registerSystem, type RegisteredSystem, type TestApi, type TestEnvironment } from '@zfs-sync/testkit/stack';
import { buildApiDeps } from '../build-deps.js';
import { createApiListener } from '../app.js';
import { createApiServer } from './server.js';

let env: TestEnvironment;
let server: Server;
let port: number;
let close: () => Promise<void>;
let host: RegisteredSystem;

const HEADERS_TIMEOUT = 3000;
const IDLE_TIMEOUT = 2500;
const REQUEST_TIMEOUT = 8000;

test.before(async () => {
  env = await createTestEnvironment();
  const config = env.config({ headers_timeout_ms: HEADERS_TIMEOUT, idle_timeout_ms: IDLE_TIMEOUT, request_timeout_ms: REQUEST_TIMEOUT });
  const deps = await buildApiDeps(config, createLogger('slow-clients-test', config));
  server = createApiServer(createApiListener(deps), config).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  port = (server.address() as AddressInfo).port;
  close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await deps.close();
  };
  host = await registerSystem(api());
});

test.after.always(async () => {
  await close?.();
  await env?.teardown();
});

/** The minimal TestApi registerSystem needs. */
function api(): TestApi {
  const baseUrl = `http://127.0.0.1:${port}/api/v1`;
  return {
    baseUrl,
    close: async () => {},
    request: async (method, path, opts = {}) => {
      const headers: Record<string, string> = { ...(opts.headers ?? {}) };
      if (opts.key) headers['x-api-key'] = opts.key;
      const body = opts.body !== undefined ? JSON.stringify(opts.body) : undefined;
      if (body) headers['content-type'] = 'application/json';
      const res = await fetch(baseUrl + path, { method, headers, ...(body ? { body } : {}) });
      const text = await res.text();
      return { status: res.status, headers: res.headers, text, body: text ? JSON.parse(text) : undefined };
    },
  };
}

interface Slow {
  closed: Promise<string>;
  socket: net.Socket;
}

/** A connection that sends `first`, then `drip` every `everyMs` (if given) until the server closes it. */
function slow(first: string, drip?: string, everyMs = 500): Slow {
  const socket = net.connect(port, '127.0.0.1');
  let answer = '';
  socket.on('data', (d) => (answer += d.toString('latin1')));
  socket.on('error', () => {});
  socket.write(first);
  const timer = drip ? setInterval(() => socket.writable && socket.write(drip), everyMs) : undefined;
  const closed = new Promise<string>((resolve) =>
    socket.on('close', () => {
      clearInterval(timer);
      resolve(answer.split('\r\n')[0] || 'closed without an answer');
    }),
  );
  return { socket, closed };
}

async function normalClients(n: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) {
    statuses.push((await fetch(`http://127.0.0.1:${port}/api/v1/health/live`)).status);
    statuses.push((await api().request('POST', `/systems/${host.id}/heartbeat`, { key: host.api_key, body: { agent_version: '1' } })).status);
  }
  return statuses;
}

test.serial('200 slowloris connections (headers that never end) are cut by the headers timeout; normal clients are answered meanwhile', async (t) => {
  const conns = Array.from({ length: 200 }, (_, i) => slow(`GET /api/v1/health/live HTTP/1.1\r\nHost: x\r\n`, `X-Slow-${i}: a\r\n`, 400));
  let stillOpen = true;
  void Promise.all(conns.map((c) => c.closed)).then(() => (stillOpen = false));
  // While all 200 hang on to their sockets, everyone else gets answers.
  const statuses = await normalClients(5);
  t.true(stillOpen, 'the normal requests were answered while the slow connections were open');
  t.true(statuses.every((s) => s === 200), JSON.stringify(statuses));
  const results = await Promise.all(conns.map((c) => c.closed));
  // Node answers 408 when it can, or closes.
  t.true(results.every((r) => r === 'closed without an answer' || /^HTTP\/1\.1 408/.test(r)), JSON.stringify([...new Set(results)]));
});

test.serial('200 stalled bodies are cut by the idle timeout; trickling bodies by the request timeout', async (t) => {
  const head = (len: number) => `POST /api/v1/systems/${host.id}/heartbeat HTTP/1.1\r\nHost: x\r\nX-API-Key: ${host.api_key}\r\nContent-Type: application/json\r\nContent-Length: ${len}\r\n\r\n`;
  const stalled = Array.from({ length: 190 }, () => slow(`${head(1000)}{"agent_version":`));
  const trickling = Array.from({ length: 10 }, () => slow(`${head(100_000)}{"metadata":{"a":"`, 'x', 300));
  let stalledOpen = true;
  let tricklingOpen = true;
  void Promise.all(stalled.map((c) => c.closed)).then(() => (stalledOpen = false));
  void Promise.all(trickling.map((c) => c.closed)).then(() => (tricklingOpen = false));
  const statuses = await normalClients(5);
  t.true(stalledOpen, 'answered while the stalled bodies were open');
  t.true(statuses.every((s) => s === 200), JSON.stringify(statuses));
  const cut = await Promise.all(stalled.map((c) => c.closed));
  t.is(cut.length, 190);
  // Checked a moment later: the request timeout's sweep would have closed both kinds at once.
  await new Promise((r) => setTimeout(r, 500));
  t.true(tricklingOpen, 'the stalled bodies were cut by the idle timeout, well before the request timeout');
  // A body that keeps trickling is never idle; the request timeout ends it (408 or a close).
  const trickled = await Promise.all(trickling.map((c) => c.closed));
  t.true(trickled.every((r) => r === 'closed without an answer' || /^HTTP\/1\.1 408/.test(r)), JSON.stringify([...new Set(trickled)]));
  t.is((await normalClients(1)).filter((s) => s === 200).length, 2);
});

test.serial('oversized headers are answered 431', async (t) => {
  const res = await new Promise<string>((resolve) => {
    const c = slow(`GET /api/v1/health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    void c.closed.then(resolve);
  });
  t.regex(res, /^HTTP\/1\.1 431 /);
  t.is((await fetch(`http://127.0.0.1:${port}/api/v1/health/live`)).status, 200);
});
