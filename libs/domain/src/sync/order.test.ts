import test from 'ava';
import { canOrderByTxg, compareSnapshotRefs, firstIndexNewerThan, orderSnapshots } from './order.js';
import type { SnapshotRef } from './types.js';

const ref = (name: string, createtxg: string | null, creation: number): SnapshotRef => ({ name, guid: null, createtxg, creation });

test('orders by createtxg compared as integers, not as text or floats', (t) => {
  const refs = [ref('c', '10', 1), ref('a', '9', 3), ref('b', '100', 2)];
  t.deepEqual(orderSnapshots(refs).map((r) => r.name), ['a', 'c', 'b']);
  // Above 2^53 a JS number rounds these two to the same value; BigInt keeps them apart.
  const big = [ref('later', '18446744073709551615', 1), ref('earlier', '18446744073709551614', 1)];
  t.deepEqual(orderSnapshots(big).map((r) => r.name), ['earlier', 'later']);
});

test('createtxg wins over creation (clocks can go backwards)', (t) => {
  const refs = [ref('second', '20', 100), ref('first', '10', 200)];
  t.deepEqual(orderSnapshots(refs).map((r) => r.name), ['first', 'second']);
});

test('equal createtxg falls back to creation, then name', (t) => {
  const refs = [ref('b', '5', 7), ref('a', '5', 7), ref('z', '5', 6)];
  t.deepEqual(orderSnapshots(refs).map((r) => r.name), ['z', 'a', 'b']);
});

test('a host that does not report createtxg is ordered by creation, then name', (t) => {
  const refs = [ref('b', null, 2), ref('a', '99', 2), ref('c', null, 1)];
  t.false(canOrderByTxg(refs));
  t.deepEqual(orderSnapshots(refs).map((r) => r.name), ['c', 'a', 'b']);
});

test('a malformed createtxg disables txg ordering for the host instead of throwing', (t) => {
  t.false(canOrderByTxg([ref('a', '12abc', 1)]));
  t.notThrows(() => orderSnapshots([ref('a', '12abc', 1), ref('b', '3', 0)]));
});

test('a bookmark without txg disables txg ordering for its host', (t) => {
  const snaps = [ref('b', '20', 1), ref('a', '10', 2)];
  t.deepEqual(orderSnapshots(snaps).map((r) => r.name), ['a', 'b']);
  t.deepEqual(orderSnapshots(snaps, [ref('bm', null, 0)]).map((r) => r.name), ['b', 'a']);
});

test('does not mutate its input', (t) => {
  const refs = [ref('b', '2', 0), ref('a', '1', 0)];
  orderSnapshots(refs);
  t.deepEqual(refs.map((r) => r.name), ['b', 'a']);
});

test('compareSnapshotRefs is consistent with orderSnapshots', (t) => {
  t.true(compareSnapshotRefs(ref('a', '1', 0), ref('b', '2', 0), true) < 0);
  t.true(compareSnapshotRefs(ref('a', '1', 5), ref('b', '2', 0), false) > 0);
  t.is(compareSnapshotRefs(ref('a', '1', 0), ref('a', '1', 0), true), 0);
});

test('firstIndexNewerThan places a bookmark among the snapshots of its host', (t) => {
  const ordered = [ref('s1', '10', 1), ref('s2', '20', 2), ref('s3', '30', 3)];
  t.is(firstIndexNewerThan(ordered, ref('bm', '20', 2), true), 2);
  t.is(firstIndexNewerThan(ordered, ref('bm', '5', 0), true), 0);
  t.is(firstIndexNewerThan(ordered, ref('bm', '31', 9), true), 3);
});

test('firstIndexNewerThan ignores names: same txg as a snapshot is not older than it', (t) => {
  const ordered = [ref('a', '10', 1), ref('zzz', '20', 2)];
  t.is(firstIndexNewerThan(ordered, ref('aaa', '20', 2), true), 2);
  t.is(firstIndexNewerThan(ordered, ref('aaa', null, 2), false), 2);
  t.is(firstIndexNewerThan(ordered, ref('aaa', null, 1), false), 1);
});

// ---------------------------------------------------------------------------------------------
// The fast paths (text comparison of canonical decimals, "already sorted" check) against a
// straightforward reference: parse every createtxg as a BigInt and sort a copy.

/** A seeded generator of integers in [0, n), from the high bits of an LCG (its low bits cycle). */
function lcg(seed: number): (n: number) => number {
  return (n) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return Math.floor((seed / 0x80000000) * n);
  };
}

const bigCompare = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0);

function referenceOrder(refs: readonly SnapshotRef[], byTxg: boolean): SnapshotRef[] {
  return [...refs].sort(
    (a, b) =>
      (byTxg ? bigCompare(BigInt(a.createtxg!), BigInt(b.createtxg!)) : 0) ||
      (a.creation < b.creation ? -1 : a.creation > b.creation ? 1 : 0) ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
}

/** Random createtxg: small, around 2^53 and near 2^64, with ties, sometimes with leading zeros. */
function randomTxg(random: (n: number) => number, leadingZeros: boolean): string {
  const bases = [0n, 7n, 9_007_199_254_740_990n, 18_446_744_073_709_551_000n];
  const value = (bases[random(bases.length)]! + BigInt(random(40))).toString();
  return leadingZeros && random(4) === 0 ? '0'.repeat(1 + random(2)) + value : value;
}

function randomRefs(random: (n: number) => number, count: number, leadingZeros: boolean): SnapshotRef[] {
  const refs = Array.from({ length: count }, (_, i) => ref(`s${random(count)}`, randomTxg(random, leadingZeros), random(5)));
  switch (random(4)) {
    case 0: // as a host lists them: already in order
      return referenceOrder(refs, true);
    case 1: // in order but for one swapped pair
      if (count < 2) return refs;
      refs.splice(0, refs.length, ...referenceOrder(refs, true));
      const i = random(count - 1);
      [refs[i], refs[i + 1]] = [refs[i + 1]!, refs[i]!];
      return refs;
    case 2:
      return referenceOrder(refs, true).reverse();
    default:
      return refs;
  }
}

test('ordering agrees with a BigInt reference sort on random listings (sorted, nearly sorted, reversed, shuffled)', (t) => {
  const random = lcg(4242);
  for (let round = 0; round < 400; round++) {
    const refs = randomRefs(random, random(60), round % 3 === 0);
    const expected = referenceOrder(refs, true);
    const actual = orderSnapshots(refs);
    t.deepEqual(actual, expected, `round ${round}`);
    // Same objects, in the same order (ties keep their input order: the sort is stable).
    t.true(actual.every((r, i) => r === expected[i]), `round ${round}: identity`);
    // Without createtxg: creation, then name.
    const noTxg = refs.map((r) => ({ ...r, createtxg: null }));
    t.deepEqual(orderSnapshots(noTxg), referenceOrder(noTxg, false), `round ${round}: by creation`);
  }
});

test('compareSnapshotRefs and firstIndexNewerThan agree with BigInt references on random values', (t) => {
  const random = lcg(777);
  for (let round = 0; round < 2000; round++) {
    const a = ref('a', randomTxg(random, true), random(3));
    const b = ref('b', randomTxg(random, true), random(3));
    const expected = bigCompare(BigInt(a.createtxg!), BigInt(b.createtxg!)) || (a.creation < b.creation ? -1 : a.creation > b.creation ? 1 : 0) || -1;
    t.is(Math.sign(compareSnapshotRefs(a, b, true)), expected, `${a.createtxg} vs ${b.createtxg}`);
  }
  for (let round = 0; round < 300; round++) {
    const ordered = referenceOrder(randomRefs(random, random(30), true), true);
    const bookmark = ref('bm', randomTxg(random, true), random(5));
    const expected = ordered.filter((s) => BigInt(s.createtxg!) <= BigInt(bookmark.createtxg!)).length;
    t.is(firstIndexNewerThan(ordered, bookmark, true), expected, `round ${round}`);
  }
});

test('canOrderByTxg accepts exactly what /^[0-9]+$/ accepts', (t) => {
  const samples = ['0', '00', '1', '123', '18446744073709551615', '', ' 1', '1 ', '+1', '-1', '1e3', '0x1f', '１', '12abc', '1\n'];
  for (const s of samples) t.is(canOrderByTxg([ref('a', s, 0)]), /^[0-9]+$/.test(s), JSON.stringify(s));
  t.false(canOrderByTxg([ref('a', '1', 0), ref('b', null, 0)]));
  t.true(canOrderByTxg(new Set([ref('a', '1', 0)]))); // any iterable, not only arrays
});
