import test from 'ava';
import { LastIndexLookup, type RefKey } from './ref-index.js';
import type { SnapshotRef } from './types.js';

/** The reference: a Map into which every ref is set in order (the last one wins), as before. */
function referenceMap(refs: readonly SnapshotRef[], key: RefKey): Map<unknown, number> {
  const map = new Map<unknown, number>();
  refs.forEach((r, i) => {
    const k = key === 'guid' ? r.guid || null : r.name;
    if (k !== null && k !== '') map.set(k, i);
  });
  return map;
}

/** A seeded generator of integers in [0, n), from the high bits of an LCG (its low bits cycle). */
function lcg(seed: number): (n: number) => number {
  return (n) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return Math.floor((seed / 0x80000000) * n);
  };
}

/** Few distinct values, so that duplicates, missing and empty keys all occur. */
function randomRefs(random: (n: number) => number, count: number): SnapshotRef[] {
  const guids = [null, '', '1', '18446744073709551615', '18446744073709551614', '9007199254740993'];
  return Array.from({ length: count }, () => ({
    name: random(8) === 0 ? '' : `auto-${random(count + 1)}`,
    guid: random(3) === 0 ? guids[random(guids.length)]! : String(10n ** 18n + BigInt(random(count * 2 + 1))),
    createtxg: null,
    creation: 0,
  }));
}

test('lookups agree with a Map of the last ref per key, while scanning and once indexed', (t) => {
  const random = lcg(99);
  for (let round = 0; round < 300; round++) {
    const refs = randomRefs(random, random(80));
    for (const key of ['guid', 'name'] as const) {
      const expected = referenceMap(refs, key);
      const lookup = new LastIndexLookup(refs, key);
      // Enough lookups (mostly misses) to use up the scan budget and switch to the index midway.
      for (let k = 0; k < 3 * refs.length + 10; k++) {
        const probe =
          random(2) === 0 && refs.length > 0
            ? key === 'guid'
              ? refs[random(refs.length)]!.guid
              : refs[random(refs.length)]!.name
            : key === 'guid'
              ? String(10n ** 18n + BigInt(random(200)))
              : `auto-${random(200)}`;
        t.is(lookup.lastIndexOf(probe), probe === null || probe === '' ? -1 : expected.get(probe) ?? -1, `round ${round} ${key} ${probe}`);
      }
      t.is(lookup.indexed().size, expected.size);
    }
  }
});

test('an index of 10,000 guids answers like the Map for every key and for absent ones', (t) => {
  const refs: SnapshotRef[] = Array.from({ length: 10_000 }, (_, i) => ({
    name: `auto-${i}`,
    // A few repeats: the later ref must win.
    guid: String(10_000_000_000_000_000_000n - BigInt(i % 9_000)),
    createtxg: String(i + 1),
    creation: i,
  }));
  const expected = referenceMap(refs, 'guid');
  const index = new LastIndexLookup(refs, 'guid').indexed();
  t.is(index.size, expected.size);
  const mismatches = [...expected].filter(([k, i]) => index.get(k as string) !== i).map(([k]) => String(k));
  t.deepEqual(mismatches, []);
  t.is(index.get('10000000000000000001'), -1);
  t.is(index.get('1'), -1);
});

test('keys that are not strings (input breaking the types) are still found as a Map would find them', (t) => {
  const refs = [
    { name: 7, guid: 12, createtxg: null, creation: 0 },
    { name: 'a', guid: 'x', createtxg: null, creation: 0 },
  ] as unknown as SnapshotRef[];
  const byName = new LastIndexLookup(refs, 'name');
  byName.indexed(); // skip the scan: the index must decline and fall back to a Map
  t.is(byName.lastIndexOf(7 as unknown as string), 0);
  t.is(byName.lastIndexOf('7'), -1);
  t.is(byName.lastIndexOf('a'), 1);
  const byGuid = new LastIndexLookup(refs, 'guid');
  t.is(byGuid.lastIndexOf('12'), -1);
  t.is(byGuid.lastIndexOf('x'), 1);
});
