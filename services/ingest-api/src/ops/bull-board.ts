import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { QUEUE_NAMES } from '@zfs-sync/contracts';
import type { Producer } from '@zfs-sync/queue';
import { presentedCredential } from '../auth/authenticate.js';
import { hashKey, sameHash } from '../auth/credentials.js';
import { sendProblem } from '../http/problem.js';

export const BULL_BOARD_PATH = '/admin/queues';

/**
 * The credential a browser can send: HTTP basic auth with the admin token as the password (any
 * user name), or — for scripts — the usual X-API-Key / Authorization: Bearer.
 */
function adminPresented(req: Request): string | null {
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(auth);
    if (basic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      return colon >= 0 ? decoded.slice(colon + 1) : null;
    }
  }
  return presentedCredential(req);
}

export function requireAdminBasic(adminTokenHash: string): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    res.locals.routeTemplate = BULL_BOARD_PATH;
    const presented = adminPresented(req);
    if (presented !== null && presented.length <= 512 && sameHash(hashKey(presented), adminTokenHash)) return next();
    // The challenge makes browsers show their login dialog; the password is the admin token.
    res.setHeader('WWW-Authenticate', 'Basic realm="zfs-sync admin", charset="UTF-8"');
    res.setHeader('Cache-Control', 'no-store');
    sendProblem(res, {
      type: 'urn:zfs-sync:problem:unauthorized',
      title: 'Unauthorized',
      status: 401,
      detail: presented === null ? 'the queue board needs the admin token (HTTP basic auth: any user name, the admin token as password)' : 'the credential is not the admin token',
    });
  };
}

/**
 * Bull Board over every queue of the job catalog, read-only unless `bull_board_read_only` is
 * off (retrying or removing jobs from a browser is an operator's deliberate choice).
 */
export function bullBoardRouter(producer: Producer, opts: { readOnly: boolean }): RequestHandler {
  // Built on the first authenticated request: an API replica nobody opens the board on keeps no
  // extra queue connections, and does not even load Bull Board (with its UI's server side and
  // validation library, ~3 MiB of heap in every API process).
  let router: Promise<RequestHandler> | undefined;
  return (req, res, next) => {
    // A failed load is tried again on the next request rather than remembered.
    router ??= buildBoard(producer, opts).catch((err: unknown) => {
      router = undefined;
      throw err;
    });
    router.then((r) => r(req, res, next), next);
  };
}

async function buildBoard(producer: Producer, opts: { readOnly: boolean }): Promise<RequestHandler> {
  const [{ createBullBoard }, { BullMQAdapter }, { ExpressAdapter }] = await Promise.all([import('@bull-board/api'), import('@bull-board/api/bullMQAdapter'), import('@bull-board/express')]);
  const server = new ExpressAdapter();
  server.setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    queues: QUEUE_NAMES.map((name) => new BullMQAdapter(producer.queue(name), { readOnlyMode: opts.readOnly })),
    serverAdapter: server,
    options: { uiConfig: { boardTitle: 'zfs-sync queues' } },
  });
  return server.getRouter() as RequestHandler;
}
