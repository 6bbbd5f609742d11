import type { NextFunction, Request, RequestHandler, Response, Router } from 'express';
import { API_PREFIX, compile, expressPath, type BodyOf, type RouteSpec, type Validation } from '@zfs-sync/contracts';
import { principalOf } from '../auth/authenticate.js';
import { countsOwnRateLimit, enforceRateLimit } from '../auth/rate-limit.js';
import { validBody } from './body.js';
import { unauthorized } from './problem.js';

/** The middleware that marks a route with its catalog entry; the OpenAPI coverage test reads it. */
export interface RouteTag extends RequestHandler {
  routeSpec: RouteSpec;
}

/** A documented route's path as its metrics label names it (`/api/v1/systems/:id/heartbeat`). */
export const routeTemplate = (spec: RouteSpec): string => `${API_PREFIX}${expressPath(spec.path)}`;

export function routeTag(spec: RouteSpec): RouteTag {
  const template = routeTemplate(spec);
  const tag = ((_req: Request, res: Response, next: NextFunction) => {
    markRoute(res, spec, template);
    next();
  }) as RouteTag;
  tag.routeSpec = spec;
  return tag;
}

/** Which documented route answers this request (read by the metrics, the response check and bodyParser). */
export function markRoute(res: Response, spec: RouteSpec, template: string): void {
  res.locals.route = spec;
  res.locals.routeTemplate = template;
}

/**
 * Register a route from its catalog entry (libs/contracts/src/api): method and path come from
 * the entry, so the documentation and the server cannot disagree on them.
 */
export function route(router: Router, spec: RouteSpec, ...handlers: RequestHandler[]): void {
  const anonymousAllowed = spec.callers.includes('public') || spec.callers.includes('open-registration');
  // Before anything reads the body: who is calling, then whether they are over their rate limit.
  const guard = anonymousAllowed ? [] : [credentialFirst];
  if (!handlers.includes(countsOwnRateLimit)) guard.push(enforceRateLimit);
  const rest = handlers.filter((h) => h !== countsOwnRateLimit);
  (router[spec.method] as (path: string, ...h: RequestHandler[]) => Router)(expressPath(spec.path), routeTag(spec), ...guard, ...rest);
}

/**
 * A route no anonymous caller may use refuses one before any body parser or validator runs: an
 * anonymous 64 MiB body costs a 401, not a parse. (The caller was resolved by `authenticate`,
 * which reads headers only.) The error handler closes the connection after the answer, so the
 * unread body is not drained either.
 */
export const credentialFirst: RequestHandler = (_req, res, next) => {
  if (principalOf(res).kind !== 'anonymous') return next();
  next(unauthorized());
};

/** Which schema object each route's body validator compiled (read by the OpenAPI coverage test). */
export const BODY_VALIDATORS = new Map<RouteSpec, object>();

/**
 * The body validator of a documented route: it compiles exactly the schema object of the entry
 * (the one the OpenAPI document shows), returns the type derived from that schema, and refuses
 * to run on a route that is registered under another entry — a handler cannot validate against
 * a schema other than the one documented for it.
 */
export function bodyParser<S extends RouteSpec & { body: object }>(spec: S): (req: Request) => BodyOf<S> {
  const schema = spec.body.schema;
  const parse = validBody<BodyOf<S>>(schema, { emptyAsObject: spec.body.optional === true });
  BODY_VALIDATORS.set(spec, schema);
  return (req: Request) => {
    const mounted = req.res?.locals.route as RouteSpec | undefined;
    if (mounted !== spec) throw new Error(`body validator of ${spec.operationId} used on ${mounted ? mounted.operationId : 'an undocumented route'}`);
    return parse(req);
  };
}

/**
 * The raw validator of a documented body schema, for a route that validates something other than
 * req.body against it (POST /sync/states takes the same fields as query parameters too).
 */
export function documentedValidator<S extends RouteSpec & { body: object }>(spec: S): (data: unknown) => Validation<BodyOf<S>> {
  BODY_VALIDATORS.set(spec, spec.body.schema);
  return compile<BodyOf<S>>(spec.body.schema);
}
