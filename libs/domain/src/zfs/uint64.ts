/**
 * Unsigned 64-bit integers (ZFS guid, createtxg, used, referenced).
 *
 * guids are random 64-bit values, so most of them are above 2^53 and a JS number would silently
 * round them — two different snapshots would then look identical. They therefore travel and are
 * stored as canonical decimal strings, and are only turned into BigInt to compare.
 */

export const UINT64_MAX = 18446744073709551615n;

export type Uint64Result = { ok: true; value: string } | { ok: false; reason: string };

/** `0`, or 1–20 digits without a leading zero (the only spelling we store, so equal means ===). */
const CANONICAL_DECIMAL = /^(?:0|[1-9][0-9]{0,19})$/;

/** True for a canonical decimal string in 0..2^64-1: no sign, no spaces, no leading zeros, no exponent. */
export function isUint64String(value: unknown): value is string {
  return typeof value === 'string' && CANONICAL_DECIMAL.test(value) && BigInt(value) <= UINT64_MAX;
}

/** Quote a value for a reason, cut short so a huge input does not produce a huge message. */
function quote(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}

/** Why a string is not a canonical uint64, or null when it is. */
function stringReason(value: string): string | null {
  const q = quote(value);
  if (value === '') return 'empty string is not a number';
  if (/\s/.test(value)) return `${q} contains whitespace`;
  if (/^-[0-9]+$/.test(value)) return `${q} is negative`;
  if (!/^[0-9]+$/.test(value)) return `${q} is not a plain decimal integer`;
  if (value.length > 1 && value.startsWith('0')) return `${q} has a leading zero`;
  if (value.length > 20 || BigInt(value) > UINT64_MAX) return `${q} is above 2^64-1 (${UINT64_MAX})`;
  return null;
}

/**
 * Accepts a canonical decimal string, or a JS number that is a non-negative safe integer (JSON
 * clients that send small values such as `used` as numbers). A number above 2^53-1 is refused:
 * JSON.parse has already rounded it, so the value we hold is not the one the host sent.
 * Returns the canonical decimal string.
 */
export function parseUint64(value: unknown): Uint64Result {
  if (typeof value === 'string') {
    const reason = stringReason(value);
    return reason === null ? { ok: true, value } : { ok: false, reason };
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return { ok: false, reason: `${value} is not a finite number` };
    if (!Number.isInteger(value)) return { ok: false, reason: `${value} is not an integer` };
    if (value < 0) return { ok: false, reason: `${value} is negative` };
    if (value > Number.MAX_SAFE_INTEGER) {
      return {
        ok: false,
        reason: `${value} is above 2^53-1, so precision was lost in a JSON number; send it as a decimal string`,
      };
    }
    // String(-0) is '0', so -0 is canonicalised too.
    return { ok: true, value: String(value) };
  }
  const got = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  return { ok: false, reason: `expected a decimal string or a number, got ${got}` };
}

/**
 * Numeric order of two canonical uint64 strings: -1, 0 or 1. Throws a TypeError on anything
 * else, because BigInt() would quietly accept ' 1', '0x10' or '' and give a wrong order.
 */
export function compareUint64(a: string, b: string): -1 | 0 | 1 {
  if (!isUint64String(a)) throw new TypeError(`compareUint64: not a canonical uint64 string: ${quote(String(a))}`);
  if (!isUint64String(b)) throw new TypeError(`compareUint64: not a canonical uint64 string: ${quote(String(b))}`);
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
