import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { loadAgentConfig } from './config.js';
import { AgentError, EXIT } from './exit-codes.js';
import { createLogger } from './log.js';
import { WitnessClient, WitnessRefusal } from './witness.js';

const dir = mkdtempSync(join(tmpdir(), 'agent-witness-'));
writeFileSync(join(dir, 'agent.yaml'), '');
const log = createLogger({ level: 'error', format: 'json' });
const creds = { systemId: '11111111-1111-4111-8111-111111111111', apiKey: 'zs_host_test-key-0000000000000000' };

function client(url: string, extra: Record<string, string> = {}) {
  const config = loadAgentConfig({ file: join(dir, 'agent.yaml'), env: { ZFS_SYNC_AGENT_WITNESS_URL: url, ZFS_SYNC_AGENT_HTTP_RETRIES: '3', ZFS_SYNC_AGENT_HTTP_TIMEOUT_SECONDS: '5', ...extra } });
  return new WitnessClient(config, log, creds);
}

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createHttp(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

const problem = (res: ServerResponse, status: number, detail: string) => {
  res.writeHead(status, { 'content-type': 'application/problem+json' });
  res.end(JSON.stringify({ type: 'about:blank', title: 'x', status, detail }));
};

test('temporary failures (503, 429 with Retry-After) are retried with backoff, POSTs included; the key is sent', async (t) => {
  const seen: Array<{ method: string; key: string | undefined; at: number }> = [];
  const s = await serve((req, res) => {
    seen.push({ method: req.method!, key: req.headers['x-api-key'] as string | undefined, at: Date.now() });
    if (seen.length === 1) return problem(res, 503, 'the queue is unreachable');
    if (seen.length === 2) {
      res.writeHead(429, { 'retry-after': '1', 'content-type': 'application/problem+json' });
      return res.end('{}');
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ system_id: creds.systemId, last_seen: 'now', status: 'online' }));
  });
  const answer = await client(s.url).heartbeat({ agent_version: '1' });
  await s.close();
  t.like(answer, { status: 'online' });
  t.is(seen.length, 3);
  t.true(seen.every((r) => r.method === 'POST' && r.key === creds.apiKey));
  t.true(seen[1]!.at - seen[0]!.at >= 400, 'a backoff before the first retry');
  t.true(seen[2]!.at - seen[1]!.at >= 900, 'Retry-After honoured');
});

test('refused credentials, refusals and an unreachable witness become errors a cron user can act on', async (t) => {
  const s = await serve((req, res) => {
    if (req.url!.includes('heartbeat')) return problem(res, 401, 'invalid API key');
    return problem(res, 400, 'datasets[0].pool is not a valid ZFS pool name');
  });
  const denied = await t.throwsAsync(client(s.url).heartbeat({}), { instanceOf: AgentError });
  t.is(denied!.exitCode, EXIT.NO_PERMISSION);
  t.regex(denied!.message, /refused this host's credentials \(401\): invalid API key/);
  const refused = await t.throwsAsync(client(s.url).postInventory('{}'), { instanceOf: WitnessRefusal });
  t.is(refused!.status, 400);
  t.regex(refused!.detail, /pool is not a valid ZFS pool name/);
  await s.close();
  const gone = await t.throwsAsync(client(s.url, { ZFS_SYNC_AGENT_HTTP_RETRIES: '1' }).heartbeat({}), { instanceOf: AgentError });
  t.is(gone!.exitCode, EXIT.UNAVAILABLE);
  t.regex(gone!.message, /cannot reach the witness at http:\/\/127\.0\.0\.1:\d+\/api\/v1: ECONNREFUSED/);
});

test('a witness behind a private CA: refused without ca_file, trusted with it', async (t) => {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert, '-days', '1'], { stdio: 'ignore' });
  const server = createHttps({ key: readFileSync(key), cert: readFileSync(cert) });
  server.on('request', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: creds.systemId }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const untrusted = await t.throwsAsync(client(url, { ZFS_SYNC_AGENT_HTTP_RETRIES: '0' }).system(), { instanceOf: AgentError });
    t.is(untrusted!.exitCode, EXIT.UNAVAILABLE);
    t.regex(untrusted!.message, /self[- ]signed/i);
    t.like(await client(url, { ZFS_SYNC_AGENT_CA_FILE: cert }).system(), { id: creds.systemId });
  } finally {
    await new Promise((r) => server.close(r));
  }
});
