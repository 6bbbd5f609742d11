import { createHash } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { compile, pointerToField, type FieldError, type Validation } from '@zfs-sync/contracts';
import { HttpProblem, invalidJson, requestAborted, validationProblem } from './problem.js';

function hasBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/**
 * Sees a plain JSON body's text before it is parsed; answering true means the route needs no
 * parsed body (it keeps what it needs itself), and req.body stays undefined. A rejection with an
 * HttpProblem is the answer (e.g. a 503 when what it needs is unreachable, rather than a second
 * wait for it later); any other failure is the same as false: the body is parsed.
 */
export type BeforeParse = (req: Request, text: string) => Promise<boolean>;

/**
 * A JSON body parser with a per-route limit that refuses other content types (415) instead of
 * silently ignoring them. An empty body is allowed and reads as `undefined`.
 *
 * What hosts send — UTF-8 JSON with a Content-Length, not compressed — is read by
 * `readPlainJson` as it arrives; anything else (compressed, chunked, another charset) by
 * body-parser. Both give the same body, the same SHA-256 and the same errors.
 */
export function jsonBody(limitBytes: number, acceptedTypes: string[] = [], beforeParse?: BeforeParse): RequestHandler[] {
  // The raw body's SHA-256 is the report idempotency fingerprint: hashing the bytes as they
  // arrive is far cheaper than re-serialising a parsed 10,000-snapshot body.
  const parse = express.json({
    limit: limitBytes,
    strict: true,
    type: 'application/json',
    verify: (req, _res, buf) => {
      (req as ParsedRequest).bodySha256 = createHash('sha256').update(buf).digest('hex');
      (req as ParsedRequest).bodyMayHaveBadText = charsetMayHideText(req as Request) || hasTextEscape((s, from) => buf.indexOf(s, from), (i) => buf[i]);
    },
  });
  const checkType = (req: Request, _res: Response, next: NextFunction) => {
    // A body announced larger than the limit is refused before a byte of it is read (the error
    // handler then closes the connection instead of draining it). Compressed bodies are counted
    // as they inflate, by the parser.
    const announced = Number(req.headers['content-length'] ?? 0);
    const encoded = (req.headers['content-encoding'] ?? 'identity').toLowerCase() !== 'identity';
    if (!encoded && announced > limitBytes) return next(new HttpProblem(413, 'body-too-large', `the request body is larger than this route accepts (${limitBytes} bytes)`));
    if (hasBody(req) && !req.is('application/json') && !acceptedTypes.some((t) => req.is(t))) {
      const accepted = ['application/json', ...acceptedTypes].join(' or ');
      return next(new HttpProblem(415, 'unsupported-media-type', `send the body as ${accepted} (got ${req.headers['content-type'] ?? 'no Content-Type'})`));
    }
    next();
  };
  const read = (req: Request, res: Response, next: NextFunction) => (isPlainJson(req) ? readPlainJson(req, next, beforeParse) : parse(req, res, next));
  const checkContent = (req: Request, _res: Response, next: NextFunction) => {
    if (req.body !== undefined) {
      const bad = inspectJson(req.body, MAX_JSON_DEPTH, (req as ParsedRequest).bodyMayHaveBadText !== false);
      if (bad) return next(validationProblem(bad));
    }
    next();
  };
  return [checkType, read, checkContent];
}

type ParsedRequest = Request & { bodySha256?: string; bodyMayHaveBadText?: boolean };

/** application/json, in UTF-8 (said or not). */
export const PLAIN_JSON_TYPE = /^application\/json\s*(;\s*charset="?utf-8"?\s*)?$/i;

/** UTF-8 JSON, not compressed, with its length announced: what hosts send. */
function isPlainJson(req: Request): boolean {
  const h = req.headers;
  return Number(h['content-length']) > 0 && h['transfer-encoding'] === undefined && (h['content-encoding'] === undefined || h['content-encoding'].toLowerCase() === 'identity') && PLAIN_JSON_TYPE.test(h['content-type'] ?? '');
}

/**
 * Read a plain JSON body as it arrives: each chunk is hashed and decoded, then dropped, so an
 * inventory is held as text once (body-parser holds the chunks, their concatenation and the
 * text) and not decoded a second time. The route's limit was checked against Content-Length.
 */
function readPlainJson(req: Request, next: NextFunction, beforeParse?: BeforeParse): void {
  const hash = createHash('sha256');
  const decoder = new StringDecoder('utf8');
  let text = '';
  let done = false;
  const finish = (err?: unknown) => {
    if (done) return;
    done = true;
    req.off('data', onData);
    if (err) return next(err);
    text += decoder.end();
    const r = req as ParsedRequest;
    r.bodySha256 = hash.digest('hex');
    // The listeners of this request keep this scope until it closes: the text need not wait.
    const release = (e?: unknown) => {
      text = '';
      next(e);
    };
    const parseNow = () => {
      try {
        r.body = parseStrictJson(text);
      } catch (e) {
        return release(e);
      }
      r.bodyMayHaveBadText = hasTextEscape((s, from) => text.indexOf(s, from), (i) => text.charCodeAt(i));
      release();
    };
    if (!beforeParse) return parseNow();
    beforeParse(req, text).then(
      (skip) => (skip ? release() : parseNow()),
      (e: unknown) => (e instanceof HttpProblem ? release(e) : parseNow()),
    );
  };
  const onData = (chunk: Buffer) => {
    hash.update(chunk);
    text += decoder.write(chunk);
  };
  req.on('data', onData);
  req.once('end', () => finish());
  req.once('error', () => finish(requestAborted()));
  req.once('close', () => {
    if (!req.complete) finish(requestAborted());
  });
}

/**
 * Strict JSON text, read as body-parser reads it: a leading byte-order mark is ignored, and the
 * value must be an object or an array. Anything else is the invalid-JSON problem.
 */
export function parseStrictJson(text: string): object {
  let value: unknown;
  try {
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch {
    throw invalidJson();
  }
  if (value === null || typeof value !== 'object') throw invalidJson();
  return value;
}

/** How deep a JSON body may nest (objects and arrays); deeper is a 400 before anything reads it. */
export const MAX_JSON_DEPTH = 32;

// NUL (PostgreSQL text and jsonb refuse it) and UTF-16 surrogates without their pair (not
// Unicode text: they cannot be stored or re-encoded as UTF-8).
const BAD_CHAR = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const escapePointer = (k: string) => k.replaceAll('~', '~0').replaceAll('/', '~1');

/** A charset other than UTF-8 may spell NUL or a lone surrogate without an escape. */
function charsetMayHideText(req: Request): boolean {
  const type = String(req.headers['content-type'] ?? '').toLowerCase();
  return /charset=/.test(type) && !/charset=("?)utf-8\1/.test(type);
}

/**
 * Whether UTF-8 JSON text (as bytes or as a string) may hold NUL or a lone surrogate once parsed.
 * In UTF-8 JSON both can only be written as escapes (a raw control character is not valid JSON;
 * bytes that are not UTF-8 decode to U+FFFD), so a body without `\u0000` and without
 * `\uD800`–`\uDFFF` escapes cannot: the strings of a large inventory are then not looked at one by one.
 */
function hasTextEscape(indexOf: (s: string, from?: number) => number, codeAt: (i: number) => number | undefined): boolean {
  if (indexOf('\\u0000') !== -1) return true;
  for (const lead of ['\\ud', '\\uD']) {
    for (let i = indexOf(lead); i !== -1; i = indexOf(lead, i + 3)) {
      const c = codeAt(i + 3);
      // 8-9, a-f, A-F: the surrogate range D800-DFFF.
      if (c !== undefined && ((c >= 0x38 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46))) return true;
    }
  }
  return false;
}

/** The cheap pass: no pointers built, strings only when they may be bad. True when all is well. */
function looksFine(root: unknown, maxDepth: number, checkStrings: boolean): boolean {
  if (typeof root === 'string') return !checkStrings || !BAD_CHAR.test(root);
  if (root === null || typeof root !== 'object') return true;
  const stack: object[] = [root];
  const depths: number[] = [0];
  while (stack.length) {
    const v = stack.pop()!;
    const depth = depths.pop()!;
    if (depth >= maxDepth) return false;
    const values = Array.isArray(v) ? v : Object.values(v);
    if (checkStrings && !Array.isArray(v)) for (const k of Object.keys(v)) if (BAD_CHAR.test(k)) return false;
    for (const x of values) {
      if (typeof x === 'string') {
        if (checkStrings && BAD_CHAR.test(x)) return false;
      } else if (x !== null && typeof x === 'object') {
        stack.push(x);
        depths.push(depth + 1);
      }
    }
  }
  return true;
}

/**
 * Check a parsed body, without recursion (a hostile body may nest thousands deep): the nesting
 * depth, and every string — keys and values — free of NUL and lone surrogates (`checkStrings`
 * false: known not to hold any). Returns the first offence with its JSON pointer, or null.
 */
export function inspectJson(value: unknown, maxDepth = MAX_JSON_DEPTH, checkStrings = true): FieldError | null {
  if (looksFine(value, maxDepth, checkStrings)) return null;
  return locate(value, maxDepth);
}

/** The slow pass, once something is wrong: where. */
function locate(value: unknown, maxDepth: number): FieldError | null {
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
