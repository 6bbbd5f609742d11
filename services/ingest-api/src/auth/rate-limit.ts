import type { ServerResponse } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Redis } from 'ioredis';
import { rateLimitKey, takeRateLimit, type RateDecision, type RateLimit } from '@zfs-sync/queue';
import { HttpProblem } from '../http/problem.js';
import type { Principal } from './authenticate.js';

/**
 * Rate limits (issue 8 row 11), counted in Redis so every API replica shares them: requests per
 * credential per minute (host keys per system, the enrollment token, the admin token), and failed
 * authentications per source address. A limit of 0 is off. When Redis does not answer within
 * `REDIS_BUDGET_MS` the request is let through (fail open): an outage of the limiter's store must
 * not become an outage of the API; the routes that need Redis answer 503 on their own.
 */
export interface RateLimitOptions {
  redis: Redis;
  prefix: string;
  perMinute: number;
  adminPerMinute: number;
  failedAuthPerMinute: number;
  logger?: { warn: (o: object, m: string) => void };
}

const WINDOW_MS = 60_000;
const REDIS_BUDGET_MS = 500;

export class RateLimiter {
  constructor(private readonly opts: RateLimitOptions) {}

  /** The limit a principal's requests count against, or null (anonymous, or no limit). */
  limitFor(p: Principal): RateLimit | null {
    const { prefix, perMinute, adminPerMinute } = this.opts;
    switch (p.kind) {
      case 'admin':
        return adminPerMinute > 0 ? { key: rateLimitKey(prefix, 'key', 'admin'), limit: adminPerMinute, windowMs: WINDOW_MS } : null;
      case 'viewer':
        return adminPerMinute > 0 ? { key: rateLimitKey(prefix, 'key', 'viewer'), limit: adminPerMinute, windowMs: WINDOW_MS } : null;
      case 'enrollment':
        return perMinute > 0 ? { key: rateLimitKey(prefix, 'key', 'enrollment'), limit: perMinute, windowMs: WINDOW_MS } : null;
      case 'host':
        return perMinute > 0 ? { key: rateLimitKey(prefix, 'key', `host:${p.systemId}`), limit: perMinute, windowMs: WINDOW_MS } : null;
      default:
        return null;
    }
  }

  /** Count a failed authentication from `address`; the decision, or null when not limited. */
  async failedAuth(address: string): Promise<RateDecision | null> {
    if (this.opts.failedAuthPerMinute <= 0) return null;
    return this.take({ key: rateLimitKey(this.opts.prefix, 'ip', address), limit: this.opts.failedAuthPerMinute, windowMs: WINDOW_MS });
  }

  /** Count one request; null when Redis did not answer in time (let through). */
  async take(limit: RateLimit): Promise<RateDecision | null> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        takeRateLimit(this.opts.redis, limit),
        new Promise<null>((resolve) => {
          timer = setTimeout(() => resolve(null), REDIS_BUDGET_MS);
        }),
      ]);
    } catch (err) {
      this.opts.logger?.warn({ err: (err as Error).message }, 'rate limit: Redis unavailable; request let through');
      return null;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The 429 answer, with Retry-After in whole seconds (also in the body). */
export function tooManyRequests(res: Pick<ServerResponse, 'setHeader'>, decision: RateDecision & { allowed: false }, what: string): HttpProblem {
  const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
  res.setHeader('Retry-After', String(seconds));
  return new HttpProblem(429, 'rate-limited', `${what}; retry after ${seconds} s`, { retry_after_seconds: seconds });
}

/**
 * Given to route() by a route that counts its requests itself (the heartbeat: inside its one Redis
 * script); route() then leaves out enforceRateLimit. Does nothing as a handler.
 */
export const countsOwnRateLimit: RequestHandler = (_req, _res, next) => next();

/**
 * Count the request against its principal's limit (route() puts this before any body parser).
 * `authenticate` leaves the limit and the limiter in res.locals.
 */
export const enforceRateLimit: RequestHandler = (_req: Request, res: Response, next: NextFunction) => {
  const limit = res.locals.rateLimit as RateLimit | undefined;
  const limiter = res.locals.rateLimiter as RateLimiter | undefined;
  if (!limit || !limiter) return next();
  limiter.take(limit).then(
    (d) => {
      if (d && !d.allowed) return next(tooManyRequests(res, d, `too many requests with this credential (at most ${limit.limit} a minute)`));
      next();
    },
    () => next(),
  );
};
