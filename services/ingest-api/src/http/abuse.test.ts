/**
 * Issue 8, rows 10 and 11 (abuse): the credential is checked before any body is read, and
 * requests are rate limited per credential and, for failed authentications, per source address,
 * in Redis (shared by every API replica), answered 429 with Retry-After.
 */
import test from 'ava';
import net from 'node:net';
import { TEST_ADMIN_TOKEN, createTestEnvironment, registerSystem, startTestApi, type RegisteredSystem, type TestApi, type TestEnvironment } from '@zfs-sync/testkit/stack';

let env: TestEnvironment;
let api: TestApi;
let host: RegisteredSystem;
const PROBLEM = 'application/problem+json; charset=utf-8';

test.before(async () => {
  env = await createTestEnvironment();
  api = await startTestApi(env.config());
  host = await registerSystem(api);
});

test.after.always(async () => {
  await api?.close();
  await env?.teardown();
});

/**
 * Send the head of a request announcing a large body, and only its first bytes; resolve with the
 * status line the server answers (or 'no answer' if it waits for the body).
 */
function headOnly(path: string, headers: Record<string, string>, announcedBytes: number, waitMs = 4000): Promise<string> {
  const url = new URL(api.baseUrl + path);
  return new Promise((resolve) => {
    const socket = net.connect(Number(url.port), url.hostname);
    let answer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('no answer');
    }, waitMs);
    socket.on('data', (d) => {
      answer += d.toString('latin1');
      if (answer.includes('\r\n')) {
        clearTimeout(timer);
        socket.destroy();
        resolve(answer.split('\r\n')[0]!);
      }
    });
    socket.on('error', () => {});
    const head = [`POST ${url.pathname} HTTP/1.1`, `Host: ${url.host}`, `Content-Length: ${announcedBytes}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
    socket.write(head);
    socket.write('[' + '{"a":1},'.repeat(1000));
  });
}

test('row 10: an anonymous 64 MiB body is answered 401 before it is read', async (t) => {
  const size = 64 * 1024 * 1024;
  for (const path of ['/snapshots/batch', `/systems/${host.id}/inventory`, `/systems/${host.id}/heartbeat`, '/snapshots', '/systems']) {
    const status = await headOnly(path, { 'Content-Type': 'application/json' }, size);
    t.regex(status, /^HTTP\/1\.1 401 /, `${path}: ${status}`);
  }
  // A wrong key likewise.
  t.regex(await headOnly('/snapshots/batch', { 'Content-Type': 'application/json', 'X-API-Key': 'zs_host_wrong' }, size), /^HTTP\/1\.1 401 /);
});
