import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { Config } from '@zfs-sync/config';

type Timeouts = Pick<Config, 'headersTimeoutMs' | 'requestTimeoutMs' | 'idleTimeoutMs'>;

/**
 * The API's HTTP server, with the slow-client bounds (issue 8, slowloris): the headers must
 * arrive within `headersTimeoutMs` and the whole request within `requestTimeoutMs` (Node answers
 * 408 and closes; it checks every second), and a connection whose request body stops arriving for
 * `idleTimeoutMs` is closed (bodyIdleTimeout). Headers larger than Node's 16 KiB are answered 431
 * by Node itself. Keep-alive connections idle between requests close after 65 s (longer than the
 * usual 60 s of load balancers, so the balancer closes first).
 */
export function createApiServer(app: RequestListener, config: Timeouts): Server {
  const server = createServer(
    {
      headersTimeout: config.headersTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs),
    },
    app,
  );
  server.keepAliveTimeout = 65_000;
  return server;
}

/**
 * While a request's body is still arriving, its connection may be silent for at most `ms`;
 * once the body is in (or there is none), the handler's own time is not limited here (a long
 * answer such as an event stream stays open).
 */
export function bodyIdleTimeout(ms: number) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    watchBodyIdle(req, ms);
    next();
  };
}

export function watchBodyIdle(req: IncomingMessage, ms: number): void {
  if (req.complete) return;
  const socket = req.socket;
  const cut = () => socket.destroy();
  const done = () => {
    socket.setTimeout(0);
    socket.off('timeout', cut);
  };
  socket.setTimeout(ms);
  socket.on('timeout', cut);
  req.once('end', done);
  req.once('close', done);
}
