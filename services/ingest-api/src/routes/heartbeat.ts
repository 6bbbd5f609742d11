import { createHash } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { MetadataTooLargeError } from '@zfs-sync/db';
import { API_PREFIX, SYSTEMS_API, expressPath, type BodyOf } from '@zfs-sync/contracts';
import { recordHeartbeat, rememberHeartbeatMeta, type RateLimit, type RecordedHeartbeat } from '@zfs-sync/queue';
import { presentedCredential, type Principal } from '../auth/authenticate.js';
import { hashKey } from '../auth/credentials.js';
import { tooManyRequests, type RateLimiter } from '../auth/rate-limit.js';
import { MAX_JSON_DEPTH, inspectJson } from '../http/body.js';
import { HttpProblem, invalidJson, notFound, validationProblem } from '../http/problem.js';
import { documentedValidator, markRoute } from '../http/route.js';
import type { ApiDeps } from '../deps.js';

export type HeartbeatBody = BodyOf<typeof SYSTEMS_API.heartbeat>;
export interface HeartbeatAnswer {
  system_id: string;
  last_seen: string;
  status: 'online';
}

/**
 * Record one host's heartbeat; `limit` is the caller's rate limit, counted in the same script.
 *
 * A heartbeat is one Redis script call: it records the time and tells whether PostgreSQL must
 * hear of it now — when the system may have been marked offline meanwhile (the previous
 * heartbeat is half a timeout old or more, or unknown), so the transition back to online is
 * written at once, and when the metadata changed. Otherwise the heartbeat-expiry sweep writes
 * last_seen with everyone else's in one UPDATE. Redis unreachable: straight to PostgreSQL.
 */
export function heartbeatRecorder(deps: ApiDeps) {
  const prefix = deps.config.queuePrefix;
  const timeoutMs = deps.config.heartbeatTimeoutSeconds * 1000;
  return async (res: Response, id: string, hb: HeartbeatBody, limit: RateLimit | undefined): Promise<HeartbeatAnswer> => {
    const patch: Record<string, unknown> = { ...(hb.metadata ?? {}) };
    if (hb.agent_version !== undefined) patch.agent_version = hb.agent_version;
    // The site is written through like metadata when it changes.
    const written = hb.site === undefined ? patch : { ...patch, '~site': hb.site };
    const metaHash = Object.keys(written).length ? createHash('sha256').update(JSON.stringify(written)).digest('hex') : null;
    let seen: RecordedHeartbeat | null = null;
    try {
      const recorded = limit ? await recordHeartbeat(deps.redis, prefix, id, limit) : await recordHeartbeat(deps.redis, prefix, id);
      if ('limited' in recorded) throw tooManyRequests(res, recorded.limited, `too many requests with this credential (at most ${limit!.limit} a minute)`);
      seen = recorded;
    } catch (err) {
      if (err instanceof HttpProblem) throw err;
      /* PostgreSQL alone below */
    }
    const writeThrough = !seen || seen.previous === null || seen.at - seen.previous >= timeoutMs / 2 || (metaHash !== null && metaHash !== seen.metaHash);
    let lastSeen = seen ? new Date(seen.at) : new Date();
    if (writeThrough) {
      let stored: Date | null;
      try {
        stored = await deps.systems.heartbeat(id, patch, hb.site, seen?.at);
      } catch (err) {
        if (err instanceof MetadataTooLargeError) throw new HttpProblem(413, 'metadata-too-large', `metadata: ${err.message}`, { field: 'metadata', pointer: '/metadata' });
        throw err;
      }
      if (!stored) throw notFound(`no system with id ${id}`);
      lastSeen = seen ? lastSeen : stored;
      if (seen && metaHash !== null) await rememberHeartbeatMeta(deps.redis, prefix, id, metaHash).catch(() => {});
    }
    return { system_id: id, last_seen: lastSeen.toISOString(), status: 'online' };
  };
}

const HEARTBEAT_PATH = new RegExp(`^${API_PREFIX}/systems/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/heartbeat$`);
/** What a heartbeat body is in practice (agent version, a little metadata); larger ones take the general path. */
const LANE_MAX_BODY_BYTES = 16 * 1024;
const PLAIN_JSON = /^application\/json\s*(;\s*charset="?utf-8"?\s*)?$/i;
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** Whether this is the heartbeat route's path (the access log keeps its successes at debug level). */
export const isHeartbeatPath = (url: string): boolean => HEARTBEAT_PATH.test(url);

/**
 * The heartbeat lane: the most frequent request of a fleet — a host's heartbeat with its own key,
 * already known to this process, and a small UTF-8 JSON body — answered without walking the
 * router and the generic body parser, which cost more CPU than the heartbeat itself. Everything
 * it does is the route's own: the same credential lookup (the key cache), validator, checks,
 * recorder and error handler, mounted after the request id, access log and metrics. Any request
 * that is not exactly that shape — another key, a cache miss, no or another body encoding, a
 * query string — is passed on untouched to the documented route, which answers as it always has.
 */
export function heartbeatLane(deps: ApiDeps, limiter: RateLimiter | null): RequestHandler {
  const validate = documentedValidator(SYSTEMS_API.heartbeat);
  const record = heartbeatRecorder(deps);
  const template = `${API_PREFIX}${expressPath(SYSTEMS_API.heartbeat.path)}`;
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'POST') return next();
    const path = HEARTBEAT_PATH.exec(req.url);
    if (!path) return next();
    const headers = req.headers;
    const length = Number(headers['content-length']);
    if (!(length > 0 && length <= LANE_MAX_BODY_BYTES) || headers['transfer-encoding'] !== undefined || headers['content-encoding'] !== undefined || !PLAIN_JSON.test(headers['content-type'] ?? '')) return next();
    const credential = presentedCredential(req);
    if (credential === null || credential.length > 512) return next();
    const key = deps.keyCache.peek(hashKey(credential));
    const systemId = path[1]!;
    if (!key || key.systemId !== systemId) return next();

    const principal: Principal = { kind: 'host', systemId };
    res.locals.principal = principal;
    markRoute(res, SYSTEMS_API.heartbeat, template);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('error', () => next(new HttpProblem(400, 'request-aborted', 'the request was aborted by the client')));
    req.once('end', () => {
      // Inside an event listener nothing would catch a throw: every failure goes to the error handler.
      try {
        answer();
      } catch (err) {
        next(err);
      }
    });
    const answer = () => {
      let body: unknown;
      try {
        let raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        if (raw.subarray(0, 3).equals(UTF8_BOM)) raw = raw.subarray(3);
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return next(invalidJson());
      }
      // The generic parser is strict JSON: an object or an array, never a bare value.
      if (body === null || typeof body !== 'object') return next(invalidJson());
      const bad = inspectJson(body, MAX_JSON_DEPTH);
      if (bad) return next(new HttpProblem(400, 'validation-error', bad.detail, { field: bad.field, pointer: bad.pointer }));
      const checked = validate(body);
      if (!checked.ok) return next(validationProblem(checked.error));
      record(res, systemId, checked.value, limiter?.limitFor(principal) ?? undefined).then((recorded) => res.json(recorded), next);
    };
  };
}
