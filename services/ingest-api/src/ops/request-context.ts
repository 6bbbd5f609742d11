import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { logContext, type Logger } from '@zfs-sync/logger';

const CLIENT_ID = /^[\w.-]{1,128}$/;

export interface RequestContextOptions {
  /** Requests under this path are never in the access log (probes). */
  quietPrefix: string;
  /** Answered requests logged at debug level instead of info (the fleet's heartbeats: thousands a second). */
  routine?: (req: IncomingMessage) => boolean;
}

/**
 * Every request gets an id — the client's X-Request-Id when it is a plain token, else a fresh
 * UUID — echoed back in X-Request-Id. The rest of the request runs inside logContext, so every
 * line any logger writes while handling it (routes, repositories, the error handler, the access
 * log) carries `req_id`.
 *
 * The access log is one line per answered request ("request completed": method, url, status,
 * response time; 5xx at error level) or "request aborted" when the client left first. It costs
 * nothing when its level is off: no listener, no object is made per request.
 */
export function requestContext(logger: Logger, opts: RequestContextOptions): RequestHandler[] {
  const context = (req: Request, res: Response, next: NextFunction) => {
    logContext.run({ req_id: beginRequest(logger, opts, req, res) }, next);
  };
  return [context];
}

/** The request's id (echoed in X-Request-Id) and its access log line once answered; returns the id. */
export function beginRequest(logger: Logger, opts: RequestContextOptions, req: IncomingMessage, res: ServerResponse): string {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && CLIENT_ID.test(given) ? given : randomUUID();
  res.setHeader('x-request-id', id);
  const url = req.url ?? '';
  if (logger.isLevelEnabled('info') && !url.startsWith(opts.quietPrefix) && url !== '/metrics') logWhenAnswered(logger, opts, id, req, res);
  return id;
}

function logWhenAnswered(logger: Logger, opts: RequestContextOptions, id: string, req: IncomingMessage, res: ServerResponse): void {
  const started = performance.now();
  const { method, url } = req;
  let logged = false;
  const log = (aborted: boolean) => {
    if (logged) return;
    logged = true;
    const line = { req: { id, method, url }, res: { statusCode: res.statusCode }, responseTime: Math.round(performance.now() - started) };
    logContext.run({ req_id: id }, () => {
      if (aborted) logger.warn(line, 'request aborted');
      else if (res.statusCode >= 500) logger.error(line, 'request errored');
      else if (res.statusCode < 400 && opts.routine?.(req)) logger.debug(line, 'request completed');
      else logger.info(line, 'request completed');
    });
  };
  res.once('finish', () => log(false));
  res.once('close', () => log(!res.writableFinished));
}
