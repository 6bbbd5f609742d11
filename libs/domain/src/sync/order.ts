/**
 * Ordering one host's snapshots.
 *
 * createtxg is the only reliable order, but only within one pool: on a receiver it is the
 * receiver's txg at receive time. So every host is ordered by ITS OWN createtxg and createtxg is
 * never compared across hosts. `creation` (one-second resolution, often shared) and then the name
 * break ties, and stand in when a client does not report createtxg.
 */
import type { SnapshotRef } from './types.js';

const DECIMAL = /^[0-9]+$/;

/**
 * Whether a host's refs can be ordered by createtxg: only when every one of them has it.
 * Mixing "by txg" for some pairs and "by creation" for others would not be a consistent order.
 */
export function canOrderByTxg(refs: Iterable<SnapshotRef>): boolean {
  for (const ref of refs) {
    if (ref.createtxg === null || ref.createtxg === undefined || !DECIMAL.test(ref.createtxg)) return false;
  }
  return true;
}

function compareNumbers(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Compare two refs of the SAME host: createtxg as BigInt (when `byTxg`), then creation, then name. */
export function compareSnapshotRefs(a: SnapshotRef, b: SnapshotRef, byTxg: boolean): number {
  if (byTxg) {
    const ta = BigInt(a.createtxg!);
    const tb = BigInt(b.createtxg!);
    if (ta !== tb) return ta < tb ? -1 : 1;
  }
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

/** Sort `snapshots` oldest first by the given rule. */
export function orderWith(snapshots: readonly SnapshotRef[], byTxg: boolean): SnapshotRef[] {
  if (!byTxg) return [...snapshots].sort((a, b) => compareSnapshotRefs(a, b, false));
  // Listings usually arrive sorted (`zfs list -s createtxg`), so decorate, sort, undecorate.
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
  const notNewer = byTxg
    ? (s: SnapshotRef): boolean => BigInt(s.createtxg!) <= BigInt(ref.createtxg!)
    : (s: SnapshotRef): boolean => s.creation <= ref.creation;
  let lo = 0;
  let hi = ordered.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (notNewer(ordered[mid]!)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
