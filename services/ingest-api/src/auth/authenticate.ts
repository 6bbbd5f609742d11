import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { forbidden, unauthorized } from '../http/problem.js';
import { hashKey, sameHash } from './credentials.js';
import type { KeyLookup } from './key-cache.js';
import { tooManyRequests, type RateLimiter } from './rate-limit.js';

/**
 * Who is calling. Host keys act only for their own system; the admin token for the fleet; the
 * viewer token (`ZFS_SYNC_VIEWER_TOKEN`) reads what the admin token reads — every GET — and
 * writes nothing.
 */
export type Principal =
  | { kind: 'admin'; fingerprint?: string }
  | { kind: 'viewer' }
  | { kind: 'enrollment'; fingerprint?: string }
  | { kind: 'host'; systemId: string }
  | { kind: 'anonymous' };

/**
 * Who did it, for the audit log: the credential's kind and an id that names it without being it
 * — the system id of a host key, a short fingerprint of the token's SHA-256 for the admin and
 * enrollment tokens (tells a rotated token from the previous one; never the secret).
 */
export function auditActor(res: Response): { kind: string; id: string | null } {
  const p = principalOf(res);
  if (p.kind === 'host') return { kind: 'host', id: p.systemId };
  if (p.kind === 'admin' || p.kind === 'enrollment') return { kind: p.kind, id: p.fingerprint ?? null };
  return { kind: p.kind, id: null };
}

const READ_METHODS = new Set(['GET', 'HEAD']);

/** Whether the request only reads (the viewer token's whole scope). */
export const isReadRequest = (res: Response): boolean => READ_METHODS.has(res.req.method);

/** The admin token, or the viewer token on a read: the operator credentials of fleet-wide reads. */
export const actsAsOperator = (p: Principal, res: Response): boolean => p.kind === 'admin' || (p.kind === 'viewer' && isReadRequest(res));

export function presentedCredential(req: IncomingMessage): string | null {
  const header = req.headers['x-api-key'];
  if (typeof header === 'string' && header.length > 0) return header.trim();
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1]!;
  }
  return null;
}

export interface AuthOptions {
  adminTokenHash: string;
  enrollmentTokenHash: string | null;
  /** SHA-256 of the read-only viewer token (null: none configured). */
  viewerTokenHash?: string | null;
  /** The key → system lookup (the per-process cache in front of PostgreSQL). */
  systems: KeyLookup;
  /** Rate limits; absent: none. */
  limiter?: RateLimiter;
}

/**
 * Resolve the caller once per request. A presented but unknown credential is refused here (401)
 * even on routes that would allow anonymous access: a typo must not silently downgrade.
 */
export function authenticate(opts: AuthOptions): RequestHandler {
  const resolve = async (credential: string): Promise<Principal | null> => {
    if (credential.length > 512) return null;
    const hash = hashKey(credential);
    if (sameHash(hash, opts.adminTokenHash)) return { kind: 'admin', fingerprint: `sha256:${hash.slice(0, 12)}` };
    if (opts.viewerTokenHash && sameHash(hash, opts.viewerTokenHash)) return { kind: 'viewer' };
    if (opts.enrollmentTokenHash && sameHash(hash, opts.enrollmentTokenHash)) return { kind: 'enrollment', fingerprint: `sha256:${hash.slice(0, 12)}` };
    const key = await opts.systems.findByKeyHash(hash);
    if (!key) return null;
    opts.systems.touchKey(key.keyId).catch(() => {});
    return { kind: 'host', systemId: key.systemId };
  };
  return async (req: Request, res: Response, next: NextFunction) => {
    const credential = presentedCredential(req);
    if (credential === null) {
      res.locals.principal = { kind: 'anonymous' } satisfies Principal;
      return next();
    }
    const principal = await resolve(credential);
    if (!principal) {
      // Guessing keys is throttled per source address (shared by every replica through Redis).
      const d = await opts.limiter?.failedAuth(req.ip ?? req.socket.remoteAddress ?? 'unknown');
      if (d && !d.allowed) return next(tooManyRequests(res, d, 'too many failed authentications from this address'));
      return next(unauthorized('the credential is not valid (unknown, rotated out or expired)'));
    }
    // Refused here for every write, whatever the route would allow: a read-only token stays read-only.
    if (principal.kind === 'viewer' && !READ_METHODS.has(req.method)) return next(forbidden('the viewer token is read-only: it may only GET'));
    res.locals.principal = principal;
    if (opts.limiter) {
      // Counted by the route (route() runs enforceRateLimit before any body parser), so a route
      // that talks to Redis anyway can count in the same round trip.
      res.locals.rateLimit = opts.limiter.limitFor(principal) ?? undefined;
      res.locals.rateLimiter = opts.limiter;
    }
    next();
  };
}

export function principalOf(res: Response): Principal {
  return (res.locals.principal as Principal | undefined) ?? { kind: 'anonymous' };
}

/** Admin only (the viewer token too when the request only reads). */
export function requireAdmin(res: Response): void {
  const p = principalOf(res);
  if (p.kind === 'anonymous') throw unauthorized();
  if (p.kind === 'viewer' && !isReadRequest(res)) throw forbidden('the viewer token is read-only: it may only GET');
  if (!actsAsOperator(p, res)) throw forbidden('this route needs the admin token; a host key or enrollment token cannot use it');
}

/**
 * Fleet-wide reads (overview, lists, the dashboard's views): the operator credentials. Host keys
 * see only their own system through the per-system routes.
 */
export function requireReader(res: Response): void {
  requireAdmin(res);
}

/** The system's own key (and the admin token unless `hostOnly`). */
export function requireSystem(res: Response, systemId: string, opts: { hostOnly?: boolean } = {}): Principal {
  const p = principalOf(res);
  if (p.kind === 'anonymous') throw unauthorized();
  if (actsAsOperator(p, res) && !opts.hostOnly) return p;
  if (p.kind === 'host' && p.systemId === systemId) return p;
  if (p.kind === 'admin' || p.kind === 'viewer') throw forbidden('only the system itself can do this, with its own key');
  throw forbidden('a host key acts only for its own system');
}
