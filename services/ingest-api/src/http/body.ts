import { createHash } from 'node:crypto';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { compile, type Validation } from '@zfs-sync/contracts';
import { HttpProblem, validationProblem } from './problem.js';

function hasBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/**
 * A JSON body parser with a per-route limit that refuses other content types (415) instead of
 * silently ignoring them. An empty body is allowed and reads as `undefined`.
 */
export function jsonBody(limitBytes: number, acceptedTypes: string[] = []): RequestHandler[] {
  // The raw body's SHA-256 is the report idempotency fingerprint: hashing the bytes as they
  // arrive is far cheaper than re-serialising a parsed 10,000-snapshot body.
  const parse = express.json({
    limit: limitBytes,
    strict: true,
    type: 'application/json',
    verify: (req, _res, buf) => {
      (req as Request & { bodySha256?: string }).bodySha256 = createHash('sha256').update(buf).digest('hex');
    },
  });
  const checkType = (req: Request, _res: Response, next: NextFunction) => {
    if (hasBody(req) && !req.is('application/json') && !acceptedTypes.some((t) => req.is(t))) {
      const accepted = ['application/json', ...acceptedTypes].join(' or ');
      return next(new HttpProblem(415, 'unsupported-media-type', `send the body as ${accepted} (got ${req.headers['content-type'] ?? 'no Content-Type'})`));
    }
    next();
  };
  return [checkType, parse];
}

/** Validate `req.body` against a schema (an absent body counts as `{}` when `emptyAsObject`). */
export function validBody<T>(schema: object, opts: { emptyAsObject?: boolean } = {}): (req: Request) => T {
  const check = compile<T>(schema);
  return (req: Request) => {
    const body = req.body === undefined && opts.emptyAsObject ? {} : req.body;
    const result: Validation<T> = check(body === undefined ? null : body);
    if (!result.ok) throw validationProblem(result.error);
    return result.value;
  };
}

/** SHA-256 (hex) of the raw JSON body as received. */
export function bodySha256(req: Request): string {
  const hash = (req as Request & { bodySha256?: string }).bodySha256;
  if (!hash) throw new Error('bodySha256: no JSON body was parsed');
  return hash;
}
