import { createHash } from 'node:crypto';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { compile, pointerToField, type FieldError, type Validation } from '@zfs-sync/contracts';
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
  const checkContent = (req: Request, _res: Response, next: NextFunction) => {
    if (req.body !== undefined) {
      const bad = inspectJson(req.body);
      if (bad) return next(new HttpProblem(400, 'validation-error', bad.detail, { field: bad.field, pointer: bad.pointer }));
    }
    next();
  };
  return [checkType, parse, checkContent];
}

/** How deep a JSON body may nest (objects and arrays); deeper is a 400 before anything reads it. */
export const MAX_JSON_DEPTH = 32;

// NUL (PostgreSQL text and jsonb refuse it) and UTF-16 surrogates without their pair (not
// Unicode text: they cannot be stored or re-encoded as UTF-8).
const BAD_CHAR = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const escapePointer = (k: string) => k.replaceAll('~', '~0').replaceAll('/', '~1');

/**
 * One pass over a parsed body, without recursion (a hostile body may nest thousands deep): the
 * nesting depth, and every string — keys and values — free of NUL and lone surrogates. Returns
 * the first offence with its JSON pointer, or null.
 */
export function inspectJson(value: unknown, maxDepth = MAX_JSON_DEPTH): FieldError | null {
  const stack: Array<[unknown, string, number]> = [[value, '', 0]];
  const offence = (pointer: string, detail: string): FieldError => {
    const field = pointerToField(pointer) || 'body';
    return { pointer, field, detail: `${field} ${detail}` };
  };
  while (stack.length) {
    const [v, pointer, depth] = stack.pop()!;
    if (typeof v === 'string') {
      if (BAD_CHAR.test(v)) return offence(pointer, 'contains a NUL character or an unpaired UTF-16 surrogate (not valid text)');
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth >= maxDepth) return offence(pointer, `is nested too deeply (at most ${maxDepth} levels of objects and arrays)`);
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${pointer}/${i}`, depth + 1]);
    } else {
      for (const k of Object.keys(v)) {
        const child = `${pointer}/${escapePointer(k)}`;
        if (BAD_CHAR.test(k)) return offence(child, 'is a key with a NUL character or an unpaired UTF-16 surrogate (not valid text)');
        stack.push([(v as Record<string, unknown>)[k], child, depth + 1]);
      }
    }
  }
  return null;
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
