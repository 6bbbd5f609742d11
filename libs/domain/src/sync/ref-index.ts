/**
 * "Which of this host's refs is the last one whose guid (or name) is X?" — the lookup every link
 * verdict is built on, for lists of 10,000+ snapshots.
 *
 * The answer is always exactly that of a Map<string, number> into which every ref was set in
 * order (the last one wins). Two things make it cheaper than such a Map, whose construction was
 * the most expensive step of a recompute (a Map allocates and rehashes as it grows):
 *
 *  - most lookups ask for a ref near the newest end (another host's newest snapshot, a base a few
 *    snapshots back), so a lookup first scans from the end; only when a list's scans add up to
 *    SCAN_BUDGET_PER_REF times its length is an index built;
 *  - the index is an open-addressing hash table in one Int32Array sized up front (RefTable),
 *    several times cheaper to build than a Map. Host input is untrusted, so the table uses a
 *    per-process random seed and gives up (falling back to a Map) when its hash misbehaves: no
 *    input can make a table lookup take more than MAX_RUN + 1 probes.
 */
import type { SnapshotRef } from './types.js';

/** The key refs are looked up by. */
export type RefKey = 'guid' | 'name';

/** A ref's guid, or null when the client did not report one (null, missing or empty). */
export function knownGuid(ref: SnapshotRef): string | null {
  return ref.guid || null;
}

/** A ref's key; refs whose key is null or '' are never found (as before, they were never indexed). */
export function keyOf(ref: SnapshotRef, key: RefKey): string | null {
  return key === 'guid' ? knownGuid(ref) : ref.name;
}

function indexable(k: unknown): boolean {
  return k !== null && k !== '';
}

/** key → index of the last ref with that key, as a plain Map (the reference semantics). */
export function indexBy<T>(refs: readonly SnapshotRef[], key: RefKey, value: (r: SnapshotRef, i: number) => T): Map<string, T> {
  const map = new Map<string, T>();
  for (let i = 0; i < refs.length; i++) {
    const r = refs[i]!;
    const k = keyOf(r, key);
    if (indexable(k)) map.set(k!, value(r, i)); // later refs overwrite earlier ones
  }
  return map;
}

// ---------------------------------------------------------------------------------------------
// The hash table

/** Longest run of occupied slots tolerated (measured: at most about 30 for up to 100,000 keys at load 1/2). */
const MAX_RUN = 96;

/** Per process, so that no host can choose keys that collide (only speed depends on it). */
const SEED = (Math.random() * 0x1_0000_0000) >>> 0;

/** Seeded FNV-1a over UTF-16 code units, then MurmurHash3's finaliser to spread it into the low bits. */
function hashString(s: string): number {
  let h = (SEED ^ 0x811c9dc5) | 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** What a lookup needs from an index: the last index with the key (-1: none), and the key count. */
export interface RefIndex {
  get(value: string | null): number;
  /** How many distinct keys are indexed. */
  readonly size: number;
}

/**
 * Open addressing with linear probing over `slots` (1 + ref index, 0 = empty), at most half
 * full. Keys are not copied: a slot is compared through the ref it points to.
 */
class RefTable implements RefIndex {
  private constructor(
    private readonly refs: readonly SnapshotRef[],
    private readonly key: RefKey,
    private readonly slots: Int32Array,
    readonly size: number,
  ) {}

  /** The table, or null when a key is not a string or the hash clusters (then use a Map). */
  static build(refs: readonly SnapshotRef[], key: RefKey): RefTable | null {
    let capacity = 16;
    while (capacity < refs.length * 2) capacity *= 2;
    const slots = new Int32Array(capacity);
    const mask = capacity - 1;
    let size = 0;
    for (let i = 0; i < refs.length; i++) {
      const k = keyOf(refs[i]!, key);
      if (!indexable(k)) continue;
      if (typeof k !== 'string') return null; // not what the types promise: leave it to a Map
      let h = hashString(k) & mask;
      for (let probes = 0; ; probes++) {
        if (probes > MAX_RUN) return null;
        const slot = slots[h]!;
        if (slot === 0) {
          size++;
          slots[h] = i + 1;
          break;
        }
        if (keyOf(refs[slot - 1]!, key) === k) {
          slots[h] = i + 1; // the same key again: the later ref wins, as with Map.set
          break;
        }
        h = (h + 1) & mask;
      }
    }
    // A lookup probes at most to the end of the run it starts in: bound the longest run.
    let run = 0;
    for (let h = 0; h < capacity * 2; h++) {
      run = slots[h & mask] === 0 ? 0 : run + 1;
      if (run > MAX_RUN) return null;
    }
    return new RefTable(refs, key, slots, size);
  }

  get(value: string | null): number {
    if (typeof value !== 'string') return -1; // every key in the table is a string
    const mask = this.slots.length - 1;
    let h = hashString(value) & mask;
    for (;;) {
      const slot = this.slots[h]!;
      if (slot === 0) return -1;
      if (keyOf(this.refs[slot - 1]!, this.key) === value) return slot - 1;
      h = (h + 1) & mask;
    }
  }
}

/** The fallback: a Map, for input the table declines. */
class MapIndex implements RefIndex {
  private readonly map: Map<string, number>;
  constructor(refs: readonly SnapshotRef[], key: RefKey) {
    this.map = indexBy(refs, key, (_r, i) => i);
  }
  get size(): number {
    return this.map.size;
  }
  get(value: string | null): number {
    return this.map.get(value!) ?? -1;
  }
}

// ---------------------------------------------------------------------------------------------
// Scan first, index later

/**
 * How far a list's scans may go in total, in multiples of its length, before it is indexed.
 * Measured on 10,000 guids: a scan that misses (every string compared) costs about 1/2 to 1/3
 * of building a RefTable, and a Map costs five times the table. Scanning for up to about the
 * table's cost before building it (the classic rent-or-buy rule) keeps the worst case within
 * about twice the best choice made in hindsight, while a lookup that hits near the newest end
 * costs a few comparisons.
 */
const SCAN_BUDGET_PER_REF = 3;

/** The last ref of `refs` with a given guid (or name): scanning from the end, then by an index. */
export class LastIndexLookup {
  private index?: RefIndex;
  private scanBudget: number;

  constructor(
    private readonly refs: readonly SnapshotRef[],
    private readonly key: RefKey,
  ) {
    this.scanBudget = SCAN_BUDGET_PER_REF * refs.length;
  }

  /** The index, built now if it was not yet; for callers about to look up many keys. */
  indexed(): RefIndex {
    return (this.index ??= RefTable.build(this.refs, this.key) ?? new MapIndex(this.refs, this.key));
  }

  /** Index of the last ref whose key is `value`, or -1. */
  lastIndexOf(value: string | null): number {
    if (!indexable(value)) return -1; // never indexed, so never found
    if (this.index === undefined && typeof value === 'string') {
      // A scan from the end stops at the last ref with the key: the index's answer.
      const n = this.refs.length;
      const stop = Math.max(0, n - this.scanBudget); // scan refs[stop..n-1] at most
      let i = n - 1;
      while (i >= stop && keyOf(this.refs[i]!, this.key) !== value) i--;
      if (i >= stop) {
        this.scanBudget -= n - i; // refs compared
        return i;
      }
      this.scanBudget -= n - stop;
      if (stop === 0) return -1; // scanned everything: not there
    }
    return this.indexed().get(value);
  }
}
