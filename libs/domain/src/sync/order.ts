/**
 * Ordering one host's snapshots.
 *
 * createtxg is the only reliable order, but only within one pool: on a receiver it is the
 * receiver's txg at receive time. So every host is ordered by ITS OWN createtxg and createtxg is
 * never compared across hosts. `creation` (one-second resolution, often shared) and then the name
 * break ties, and stand in when a client does not report createtxg.
 *
 * createtxg is an unsigned 64-bit value sent as a decimal string; it never becomes a JS number
 * (which would round above 2^53). Comparing it is the hot part of ordering 10,000+ snapshots, so
 * canonical decimals (digits only, no leading zero) are compared as text — by length, then
 * character by character, which is exactly their numeric order — and only anything else is
 * parsed as a BigInt, as before.
 */
import type { SnapshotRef } from './types.js';

const DECIMAL = /^[0-9]+$/;

/**
 * Whether a host's refs can be ordered by createtxg: only when every one of them has it.
 * Mixing "by txg" for some pairs and "by creation" for others would not be a consistent order.
 */
export function canOrderByTxg(refs: Iterable<SnapshotRef>): boolean {
  // Plain arrays (the usual case) without the iterator protocol: this runs over every snapshot.
  if (Array.isArray(refs)) {
    for (let i = 0; i < refs.length; i++) if (!isDecimal((refs[i] as SnapshotRef).createtxg)) return false;
    return true;
  }
  for (const ref of refs) if (!isDecimal(ref.createtxg)) return false;
  return true;
}

/** DECIMAL.test(value) for a present value, with a plain loop for strings (the usual case). */
function isDecimal(value: string | null | undefined): boolean {
  if (value === null || value === undefined) return false;
  if (typeof value !== 'string') return DECIMAL.test(value); // as before: the regex's own coercion
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 48 || c > 57) return false; // not '0'..'9'
  }
  return true;
}

/**
 * A canonical unsigned decimal: a non-empty string of digits without a leading zero ('0' itself
 * is canonical). For two of these, numeric order is (length, then text) order.
 */
function isCanonicalDecimal(value: unknown): boolean {
  if (typeof value !== 'string' || !isDecimal(value)) return false;
  return value.length === 1 || value.charCodeAt(0) !== 48; // no leading '0'
}

function allCanonical(refs: readonly SnapshotRef[]): boolean {
  for (let i = 0; i < refs.length; i++) if (!isCanonicalDecimal(refs[i]!.createtxg)) return false;
  return true;
}

/** Numeric order of two canonical decimals, without parsing them. */
function compareCanonical(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Numeric order of two createtxg values. Text comparison when both are canonical; otherwise
 * BigInt, exactly as before (which accepts what BigInt accepts and throws on the rest).
 */
function compareTxg(a: string, b: string): number {
  if (isCanonicalDecimal(a) && isCanonicalDecimal(b)) return compareCanonical(a, b);
  const ta = BigInt(a);
  const tb = BigInt(b);
  return ta < tb ? -1 : ta > tb ? 1 : 0;
}

function compareNumbers(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Compare two refs of the SAME host: createtxg numerically (when `byTxg`), then creation, then name. */
export function compareSnapshotRefs(a: SnapshotRef, b: SnapshotRef, byTxg: boolean): number {
  if (byTxg) {
    const byCreatetxg = compareTxg(a.createtxg!, b.createtxg!);
    if (byCreatetxg !== 0) return byCreatetxg;
  }
  return compareNumbers(a.creation, b.creation) || compareStrings(a.name, b.name);
}

/** compareSnapshotRefs for refs whose createtxg are all known to be canonical decimals. */
function compareCanonicalRefs(a: SnapshotRef, b: SnapshotRef): number {
  return compareCanonical(a.createtxg!, b.createtxg!) || compareNumbers(a.creation, b.creation) || compareStrings(a.name, b.name);
}

function compareWithoutTxg(a: SnapshotRef, b: SnapshotRef): number {
  return compareNumbers(a.creation, b.creation) || compareStrings(a.name, b.name);
}

/** A ref with its createtxg parsed once, so sorting 10k+ refs does not parse BigInts per comparison. */
interface Keyed {
  ref: SnapshotRef;
  txg: bigint;
}

function compareKeyed(a: Keyed, b: Keyed): number {
  if (a.txg !== b.txg) return a.txg < b.txg ? -1 : 1;
  return compareNumbers(a.ref.creation, b.ref.creation) || compareStrings(a.ref.name, b.ref.name);
}

/**
 * One host's snapshots, oldest first, in that host's own order. `alsoConsider` (the host's
 * bookmarks) only takes part in deciding whether createtxg is usable, so that snapshots and
 * bookmarks of one host are ordered by the same rule.
 */
export function orderSnapshots(snapshots: readonly SnapshotRef[], alsoConsider: readonly SnapshotRef[] = []): SnapshotRef[] {
  const byTxg = canOrderByTxg(snapshots) && canOrderByTxg(alsoConsider);
  return orderWith(snapshots, byTxg);
}

/** Whether `refs` is already in `compare` order (ties allowed): one pass, no allocation. */
function isOrdered(refs: readonly SnapshotRef[], compare: (a: SnapshotRef, b: SnapshotRef) => number): boolean {
  for (let i = 1; i < refs.length; i++) {
    if (compare(refs[i - 1]!, refs[i]!) > 0) return false;
  }
  return true;
}

/**
 * Sort `snapshots` oldest first by the given rule (a new array; the input is not touched).
 *
 * Listings usually arrive sorted already (`zfs list -s createtxg`, and the store returns them by
 * createtxg), so a single pass checks that first and then just copies. Array.prototype.sort is
 * stable, so for sorted input (equal neighbours included) a copy is exactly what the sort would
 * return; for unsorted input the sort runs with a comparator that agrees with the BigInt one on
 * every pair, so the result is the same too.
 */
export function orderWith(snapshots: readonly SnapshotRef[], byTxg: boolean): SnapshotRef[] {
  if (!byTxg) {
    return isOrdered(snapshots, compareWithoutTxg) ? snapshots.slice() : [...snapshots].sort(compareWithoutTxg);
  }
  if (allCanonical(snapshots)) {
    return isOrdered(snapshots, compareCanonicalRefs) ? snapshots.slice() : [...snapshots].sort(compareCanonicalRefs);
  }
  // Non-canonical createtxg ('007'): decorate with the parsed value, sort, undecorate.
  const keyed: Keyed[] = snapshots.map((ref) => ({ ref, txg: BigInt(ref.createtxg!) }));
  keyed.sort(compareKeyed);
  return keyed.map((k) => k.ref);
}

/**
 * Index of the first entry of `ordered` (oldest first, same host) that is strictly newer than
 * `ref`. Used to place a bookmark among its host's snapshots. Only createtxg (or, without it,
 * creation) counts: a bookmark has the txg of the snapshot it was made from, and comparing a
 * bookmark's name with snapshot names would mean nothing. Binary search: O(log n).
 */
export function firstIndexNewerThan(ordered: readonly SnapshotRef[], ref: SnapshotRef, byTxg: boolean): number {
  let lo = 0;
  let hi = ordered.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const s = ordered[mid]!;
    const notNewer = byTxg ? compareTxg(s.createtxg!, ref.createtxg!) <= 0 : s.creation <= ref.creation;
    if (notNewer) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
