import { createHash, type Hash } from 'node:crypto';

/** What identifies an inventory body apart from the two members every re-sent report changes. */
export interface BodyFingerprint {
  /** SHA-256 of the text with the values of the top-level `report_id` and `generation` left out. */
  hash: string;
  /** The raw JSON text of those two values, as sent. */
  reportIdToken: string;
  generationToken: string;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Hash text[from, to) in pieces of at most 64 Ki characters. Node encodes a string to UTF-8 in
 * one buffer per update: megabytes at a time grew the API's RSS in bench:ingest (glibc keeps such
 * blocks once its mmap threshold has risen). A piece never ends between the two halves of a
 * surrogate pair, which would encode as two replacement characters and make different
 * characters hash alike.
 */
function updateInPieces(hash: Hash, text: string, from: number, to: number): void {
  while (from < to) {
    let end = Math.min(to, from + 65_536);
    const last = text.charCodeAt(end - 1);
    if (end < to && last >= 0xd800 && last <= 0xdbff) end++;
    hash.update(text.slice(from, end));
    from = end;
  }
}

const isWhitespace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

function skipWhitespace(text: string, i: number): number {
  while (i < text.length && isWhitespace(text.charCodeAt(i))) i++;
  return i;
}

/** Index just past the string that opens at `i` (a quote), or -1. Jumps from quote to quote. */
function skipString(text: string, i: number): number {
  let at = i + 1;
  for (;;) {
    const q = text.indexOf('"', at);
    if (q < 0) return -1;
    // A quote preceded by an odd number of backslashes is escaped.
    let slashes = 0;
    for (let k = q - 1; k > i && text.charCodeAt(k) === BACKSLASH; k--) slashes++;
    if (slashes % 2 === 0) return q + 1;
    at = q + 1;
  }
}

/** Index just past the JSON value that starts at `i`, or -1 (its validity is JSON.parse's business). */
function skipValue(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE) return skipString(text, i);
  if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
    let depth = 0;
    while (i < text.length) {
      const d = text.charCodeAt(i);
      if (d === QUOTE) {
        i = skipString(text, i);
        if (i < 0) return -1;
        continue;
      }
      if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return -1;
  }
  // A number, true, false or null: up to the next delimiter.
  let j = i;
  while (j < text.length) {
    const d = text.charCodeAt(j);
    if (d === 0x2c || d === 0x7d || d === 0x5d || isWhitespace(d)) break;
    j++;
  }
  return j > i ? j : -1;
}

/**
 * Most inventories a host sends are, byte for byte, the one it sent last time with a new
 * `report_id` and `generation`. This finds those two top-level values without parsing the rest
 * and hashes everything else, so the API can recognise such a body (inventory-shortcut.ts)
 * instead of parsing, validating and hashing tens of thousands of snapshots again.
 *
 * null when the body is not one top-level object, or names a top-level member in a way this
 * scan could read differently from JSON.parse: a key with an escape (`"report\u005fid"` is
 * `report_id` to JSON.parse), or either member twice (JSON.parse keeps the last). Such a body is
 * simply parsed. Nothing here decides whether the body is valid: a fingerprint only ever matches
 * one of a body the API already parsed and accepted.
 */
export function identityFreeFingerprint(text: string): BodyFingerprint | null {
  let i = skipWhitespace(text, 0);
  if (text.charCodeAt(i) !== 0x7b) return null;
  i = skipWhitespace(text, i + 1);
  const hash = createHash('sha256');
  let from = 0;
  let reportIdToken: string | undefined;
  let generationToken: string | undefined;
  if (text.charCodeAt(i) !== 0x7d) {
    for (;;) {
      if (text.charCodeAt(i) !== QUOTE) return null;
      const keyEnd = skipString(text, i);
      if (keyEnd < 0) return null;
      const key = text.slice(i + 1, keyEnd - 1);
      if (key.includes('\\')) return null;
      i = skipWhitespace(text, keyEnd);
      if (text.charCodeAt(i) !== 0x3a /* : */) return null;
      const valueStart = skipWhitespace(text, i + 1);
      const valueEnd = skipValue(text, valueStart);
      if (valueEnd < 0) return null;
      if (key === 'report_id' || key === 'generation') {
        const token = text.slice(valueStart, valueEnd);
        if (key === 'report_id') {
          if (reportIdToken !== undefined) return null;
          reportIdToken = token;
        } else {
          if (generationToken !== undefined) return null;
          generationToken = token;
        }
        // The key stays in the hash; its value is replaced by a NUL, which valid JSON text never holds.
        updateInPieces(hash, text, from, valueStart);
        hash.update('\u0000');
        from = valueEnd;
      }
      i = skipWhitespace(text, valueEnd);
      const sep = text.charCodeAt(i);
      if (sep === 0x2c /* , */) {
        i = skipWhitespace(text, i + 1);
        continue;
      }
      if (sep === 0x7d) break;
      return null;
    }
  }
  if (skipWhitespace(text, i + 1) !== text.length) return null;
  if (reportIdToken === undefined || generationToken === undefined) return null;
  updateInPieces(hash, text, from, text.length);
  return { hash: hash.digest('hex'), reportIdToken, generationToken };
}
