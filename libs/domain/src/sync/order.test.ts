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
