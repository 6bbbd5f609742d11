import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import got, { type Headers } from 'got';
import { checkWebhookUrl, refusedAddressReason, type Cidr } from '@zfs-sync/domain';

/** What a receiver sends is stored as text: NUL (which PostgreSQL text refuses) and a cut multi-byte character go. */
const printable = (s: string) => s.replace(/\u0000/g, '').replace(/\uFFFD$/, '');

/** How much of a receiver's answer is read (and kept in the attempt log). */
export const RESPONSE_BODY_CAP_BYTES = 1024;

export class RefusedAddressError extends Error {
  override name = 'RefusedAddressError';
  readonly code = 'EREFUSEDADDRESS';
}

export type NodeLookup = (hostname: string, options: dns.LookupAllOptions, callback: (err: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) => void) => void;

/**
 * A `lookup` for the socket: resolve the name, then keep only the addresses webhooks may reach.
 * It runs when the socket connects, so the address checked is the address connected to — a
 * name that passed at creation and now resolves to 10.0.0.1 or 169.254.169.254 (DNS rebinding)
 * is refused before any packet is sent. (Literal addresses never reach a lookup: they are
 * checked by `checkWebhookUrl` before the request.)
 */
export function guardedLookup(allowed: readonly Cidr[], resolve: NodeLookup = dns.lookup as unknown as NodeLookup): LookupFunction {
  return ((hostname: string, options: dns.LookupOptions | number | ((...a: unknown[]) => void), callback?: (...a: unknown[]) => void) => {
    let opts: dns.LookupOptions = {};
    if (typeof options === 'function') callback = options;
    else if (typeof options === 'number') opts = { family: options };
    else opts = options ?? {};
    const cb = callback!;
    resolve(hostname, { ...opts, all: true } as dns.LookupAllOptions, (err, addresses) => {
      if (err) return cb(err);
      const usable = addresses.filter((a) => refusedAddressReason(a.address, allowed) === null);
      if (usable.length === 0) {
        const first = addresses[0];
        return cb(new RefusedAddressError(`refused to connect: ${hostname} resolves to ${addresses.map((a) => a.address).join(', ') || 'nothing'}${first ? ` (${refusedAddressReason(first.address, allowed)})` : ''}`));
      }
      if (opts.all) cb(null, usable);
      else cb(null, usable[0]!.address, usable[0]!.family);
    });
  }) as LookupFunction;
}

export interface WebhookResponse {
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  responseBody: string | null;
  retryAfter: string | undefined;
}

export interface SendOptions {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  allowed: readonly Cidr[];
  /** The resolver behind the address check (tests resolve names without DNS); the system's by default. */
  resolve?: NodeLookup;
}

// No keep-alive: every request connects anew, so every connection goes through the lookup check.
const agent = { http: new http.Agent({ keepAlive: false }), https: new https.Agent({ keepAlive: false }) };

/**
 * One POST: got's own retries off (the delivery processor schedules retries), redirects never
 * followed (a 3xx is an answer, and a failure), one timeout for the whole request, and at most
 * RESPONSE_BODY_CAP_BYTES of the answer read. Never throws: a network error is an outcome.
 */
export async function postWebhook(o: SendOptions): Promise<WebhookResponse> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const check = checkWebhookUrl(o.url, o.allowed);
  if (!check.ok) return { statusCode: null, durationMs: 0, error: `refused: url ${check.reason}`, responseBody: null, retryAfter: undefined };
  let statusCode: number | null = null;
  let retryAfter: string | undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const stream = got.stream.post(check.url, {
        body: o.body,
        headers: o.headers,
        retry: { limit: 0 },
        followRedirect: false,
        throwHttpErrors: false,
        timeout: { request: o.timeoutMs },
        dnsLookup: guardedLookup(o.allowed, o.resolve),
        agent,
        decompress: false,
      });
      stream.on('response', (res: { statusCode: number; headers: Headers }) => {
        statusCode = res.statusCode;
        const ra = res.headers['retry-after'];
        retryAfter = Array.isArray(ra) ? ra[0] : ra;
      });
      stream.on('data', (chunk: Buffer) => {
        if (size < RESPONSE_BODY_CAP_BYTES) chunks.push(chunk.subarray(0, RESPONSE_BODY_CAP_BYTES - size));
        size += chunk.length;
        if (size >= RESPONSE_BODY_CAP_BYTES) {
          // Enough: the rest of a large answer is never read.
          stream.destroy();
          resolve();
        }
      });
      stream.on('end', () => resolve());
      stream.on('error', (err: Error) => (statusCode !== null ? resolve() : reject(err)));
    });
    return { statusCode, durationMs: elapsed(), error: statusCode !== null && (statusCode < 200 || statusCode >= 300) ? `HTTP ${statusCode}` : null, responseBody: printable(Buffer.concat(chunks).toString('utf8')), retryAfter };
  } catch (err) {
    const e = err as Error & { code?: string };
    const refused = e instanceof RefusedAddressError || (e as { cause?: unknown }).cause instanceof RefusedAddressError;
    const message = refused ? ((e as { cause?: Error }).cause?.message ?? e.message) : `${e.code ?? e.name}: ${e.message}`;
    return { statusCode: null, durationMs: elapsed(), error: printable(message).slice(0, 500), responseBody: null, retryAfter: undefined };
  }
}
