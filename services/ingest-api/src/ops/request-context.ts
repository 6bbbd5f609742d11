import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { pinoHttp } from 'pino-http';
import { logContext, type Logger } from '@zfs-sync/logger';

const CLIENT_ID = /^[\w.-]{1,128}$/;

/**
 * Every request gets an id — the client's X-Request-Id when it is a plain token, else a fresh
 * UUID — echoed back in X-Request-Id. The rest of the request runs inside logContext, so every
 * line any logger writes while handling it (routes, repositories, the error handler, the access
 * log) carries `req_id`.
 */
export function requestContext(logger: Logger, opts: { quietPrefix: string }): RequestHandler[] {
  const access = pinoHttp({
    logger,
    genReqId: (req, res) => {
      const given = req.headers['x-request-id'];
      const id = typeof given === 'string' && CLIENT_ID.test(given) ? given : randomUUID();
      res.setHeader('x-request-id', id);
      return id;
    },
    autoLogging: { ignore: (req) => (req.url ?? '').startsWith(opts.quietPrefix) || req.url === '/metrics' },
    serializers: { req: (req) => ({ id: req.id, method: req.method, url: req.url }) },
  });
  const enter = (req: Request, _res: Response, next: NextFunction) => logContext.run({ req_id: String(req.id) }, next);
  return [access, enter];
}
