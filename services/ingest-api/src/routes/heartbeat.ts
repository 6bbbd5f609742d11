import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { MetadataTooLargeError } from '@zfs-sync/db';
import { API_PREFIX, SYSTEMS_API, type BodyOf } from '@zfs-sync/contracts';
import { recordHeartbeat, rememberHeartbeatMeta, type RateLimit, type RecordedHeartbeat } from '@zfs-sync/queue';
import { logContext } from '@zfs-sync/logger';
import { presentedCredential } from '../auth/authenticate.js';
import { hashKey } from '../auth/credentials.js';
import { tooManyRequests, type RateLimiter } from '../auth/rate-limit.js';
import { MAX_JSON_DEPTH, PLAIN_JSON_TYPE, inspectJson, parseStrictJson } from '../http/body.js';
import { HttpProblem, answerError, notFound, requestAborted, validationProblem } from '../http/problem.js';
import { documentedValidator, routeTemplate } from '../http/route.js';
import { watchBodyIdle } from '../http/server.js';
import { observeRequest } from '../ops/metrics.js';
import { beginRequest, type RequestContextOptions } from '../ops/request-context.js';
import { checkAnswer, type ResponseViolation } from '../ops/response-check.js';
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
  return async (res: Pick<ServerResponse, 'setHeader'>, id: string, hb: HeartbeatBody, limit: RateLimit | undefined): Promise<HeartbeatAnswer> => {
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

/** Whether this is the heartbeat route's path (the access log keeps its successes at debug level). */
export const isHeartbeatPath = (url: string): boolean => HEARTBEAT_PATH.test(url);

export interface HeartbeatLaneOptions {
  limiter: RateLimiter;
  /** The access log's settings (the same as every other request's). */
  requestLog: RequestContextOptions;
  /** Tests: check each answer against the route's documented schema, like checkResponses. */
  onResponseViolation?: (v: ResponseViolation) => void;
}

/**
 * The heartbeat lane: the most frequent request of a fleet — a host's heartbeat with its own key,
 * already known to this process, and a small UTF-8 JSON body — answered by the HTTP server before
 * express. Express's per-request set-up, the router, the middleware chain and the generic body
 * parser cost several times the heartbeat's own work (measured: bench/results/summary.md); what
 * the lane does is the route's own: the same request id and access log, metrics, credential
 * lookup (the key cache), validator, checks, recorder and error answers, each from the one place
 * the route takes it from. A request that is not exactly that shape — another key, a cache miss,
 * no or another body encoding, a query string — returns false untouched, and express answers it
 * with the documented route as always.
 */
export function heartbeatLane(deps: ApiDeps, opts: HeartbeatLaneOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const spec = SYSTEMS_API.heartbeat;
  const validate = documentedValidator(spec);
  const record = heartbeatRecorder(deps);
  const template = routeTemplate(spec);
  const idleMs = deps.config.idleTimeoutMs;
  return (req, res) => {
    if (req.method !== 'POST') return false;
    const path = HEARTBEAT_PATH.exec(req.url ?? '');
    if (!path) return false;
    const headers = req.headers;
    const length = Number(headers['content-length']);
    if (!(length > 0 && length <= LANE_MAX_BODY_BYTES) || headers['transfer-encoding'] !== undefined || headers['content-encoding'] !== undefined || !PLAIN_JSON_TYPE.test(headers['content-type'] ?? '')) return false;
    const credential = presentedCredential(req);
    if (credential === null || credential.length > 512) return false;
    const key = deps.keyCache.peek(hashKey(credential));
    const systemId = path[1]!;
    if (!key || key.systemId !== systemId) return false;

    const reqId = beginRequest(deps.logger, opts.requestLog, req, res);
    observeRequest(deps.metrics, req, res, () => template);
    watchBodyIdle(req, idleMs);
    const fail = (err: unknown) => logContext.run({ req_id: reqId }, () => answerError(err, req, res, deps.logger));
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('error', () => fail(requestAborted()));
    req.once('end', () => {
      // Inside an event listener nothing would catch a throw: every failure is answered as a problem.
      try {
        logContext.run({ req_id: reqId }, answer);
      } catch (err) {
        fail(err);
      }
    });
    const answer = () => {
      let body: object;
      try {
        body = parseStrictJson((chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8'));
      } catch (err) {
        return fail(err);
      }
      const bad = inspectJson(body, MAX_JSON_DEPTH);
      if (bad) return fail(validationProblem(bad));
      const checked = validate(body);
      if (!checked.ok) return fail(validationProblem(checked.error));
      record(res, systemId, checked.value, opts.limiter.limitFor({ kind: 'host', systemId }) ?? undefined).then((recorded) => {
        if (opts.onResponseViolation) checkAnswer(spec, 200, recorded, opts.onResponseViolation);
        const text = JSON.stringify(recorded);
        res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
      }, fail);
    };
    return true;
  };
}
