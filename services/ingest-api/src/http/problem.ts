import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { FieldError } from '@zfs-sync/contracts';
import { UNAVAILABLE_RETRY_AFTER_SECONDS, unavailableDependency } from '@zfs-sync/runtime';

/**
 * RFC 9457 problem details. Every error the API sends has this shape and the content type
 * application/problem+json; nothing else (no stack, no SQL, no secret) is ever added.
 */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  [extension: string]: unknown;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly slug: string,
    detail: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail);
  }

  toProblem(): Problem {
    return { type: `urn:zfs-sync:problem:${this.slug}`, title: TITLES[this.status] ?? 'Error', status: this.status, detail: this.message, ...this.extensions };
  }
}

export const badRequest = (detail: string, ext?: Record<string, unknown>) => new HttpProblem(400, 'bad-request', detail, ext);
export const validationProblem = (e: FieldError, status = 400) => new HttpProblem(status, 'validation-error', e.detail, { field: e.field, pointer: e.pointer });
export const invalidJson = () => new HttpProblem(400, 'invalid-json', 'the request body is not valid JSON');
export const requestAborted = () => new HttpProblem(400, 'request-aborted', 'the request was aborted by the client');
export const unauthorized = (detail = 'a credential is required: send the host key or admin token in X-API-Key, or Authorization: Bearer') => new HttpProblem(401, 'unauthorized', detail);
export const forbidden = (detail: string) => new HttpProblem(403, 'forbidden', detail);
export const notFound = (detail: string) => new HttpProblem(404, 'not-found', detail);
export const conflict = (detail: string, ext?: Record<string, unknown>) => new HttpProblem(409, 'conflict', detail, ext);
export const unavailable = (detail: string, ext?: Record<string, unknown>) => new HttpProblem(503, 'unavailable', detail, ext);

export function sendProblem(res: ServerResponse, problem: Problem): void {
  // A 503 is always temporary here (a store away, the process full): say when to try again.
  if (problem.status === 503 && !res.getHeader('retry-after')) res.setHeader('Retry-After', String(UNAVAILABLE_RETRY_AFTER_SECONDS));
  const text = JSON.stringify(problem);
  res.statusCode = problem.status;
  res.setHeader('Content-Type', 'application/problem+json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

/** Errors thrown by body parsers carry a `type`; translate them into problems. */
function fromParserError(err: { type?: string; status?: number; statusCode?: number; limit?: number; code?: string; expose?: boolean }): HttpProblem | null {
  // A body that is not what its Content-Encoding says (zlib: "incorrect header check", …).
  if (typeof err.code === 'string' && /^(Z_|ERR_ZLIB|ERR_BROTLI|ERR__ERROR_FORMAT)/.test(err.code)) {
    return new HttpProblem(400, 'invalid-encoding', 'the request body is not valid data for its Content-Encoding (gzip, deflate or br)', { field: 'Content-Encoding' });
  }
  switch (err.type) {
    case 'entity.too.large':
      return new HttpProblem(413, 'body-too-large', `the request body is larger than this route accepts (${err.limit} bytes)`);
    case 'entity.parse.failed':
      return invalidJson();
    case 'encoding.unsupported':
      return new HttpProblem(415, 'unsupported-media-type', 'unsupported Content-Encoding; send the body uncompressed or as gzip, deflate or br', { field: 'Content-Encoding' });
    case 'charset.unsupported':
      return new HttpProblem(415, 'unsupported-media-type', 'unsupported charset; send UTF-8 JSON', { field: 'Content-Type' });
    case 'request.aborted':
      return requestAborted();
    case 'request.size.invalid':
      return new HttpProblem(400, 'bad-request', 'the request body does not match its Content-Length');
    default: {
      // Any other client error a body parser or express raised (http-errors marks them
      // `expose`): its status, never a 500. Its message is not echoed (it may quote internals).
      const status = err.status ?? err.statusCode;
      if (err.expose === true && typeof status === 'number' && status >= 400 && status < 500) return new HttpProblem(status, 'bad-request', 'the request could not be read');
      return null;
    }
  }
}

/** The request still has body bytes nobody read (refused before its body parser ran). */
export function hasUnreadBody(req: IncomingMessage): boolean {
  return !req.complete && (req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0);
}

type ErrorLogger = { error: (o: object, m: string) => void };

export function errorHandler(logger: ErrorLogger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => answerError(err, req, res, logger);
}

/** The answer to anything a handler threw or passed on: its problem, never a stack or a 500 for a client's mistake. */
export function answerError(err: unknown, req: IncomingMessage, res: ServerResponse, logger: ErrorLogger): void {
  if (res.headersSent) return;
  // Refused before the body was read: close the connection after the answer instead of letting
  // Node drain (receive and discard) the rest of a body that may be 64 MiB.
  if (hasUnreadBody(req)) res.setHeader('Connection', 'close');
  if (err instanceof HttpProblem) return sendProblem(res, err.toProblem());
  const parserProblem = typeof err === 'object' && err !== null ? fromParserError(err as never) : null;
  if (parserProblem) return sendProblem(res, parserProblem.toProblem());
  // PostgreSQL or Redis away (a key lookup, a read, a write): temporary, never a 500.
  const dependency = unavailableDependency(err);
  if (dependency) {
    logger.error({ err: (err as Error).message, dependency }, 'dependency unavailable');
    return sendProblem(res, unavailable(`${dependency === 'postgres' ? 'the database' : 'the queue'} is unreachable; nothing was changed, retry later`).toProblem());
  }
  logger.error({ err }, 'unhandled error');
  sendProblem(res, new HttpProblem(500, 'internal', 'the server failed to handle this request; it has been logged').toProblem());
}
