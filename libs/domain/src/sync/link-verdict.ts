/**
 * The verdict for one link: source S → target T for one dataset (issue 4, "Verdicts").
 *
 * Identity is the guid: `zfs receive` keeps it, names can lie. Only when a side does not report
 * guids do we fall back to the short name, and the verdict says so. Each host is ordered by its
 * own createtxg (order.ts). The common base is T's newest snapshot (T's order) that S also has,
 * as a snapshot or — usable only with `zfs send -i` — as a bookmark.
 */
import { eligibilityRules, isEligible, type EligibilityRules } from './eligibility.js';
import { canOrderByTxg, firstIndexNewerThan, orderWith } from './order.js';
import { indexBy, knownGuid, LastIndexLookup, type RefIndex, type RefKey } from './ref-index.js';
import type { HostDatasetView, LinkBase, LinkVerdict, LinkVerdictKind, SnapshotRef, SyncGroupPolicy, TruncatedNames } from './types.js';

/** How many names a verdict lists; the counts are always complete. */
export const VERDICT_LIST_LIMIT = 50;

// ---------------------------------------------------------------------------------------------
// Preparing one host's view (done once per host, reused by every link that touches it)

function everyHasGuid(refs: readonly SnapshotRef[]): boolean {
  return refs.every((r) => knownGuid(r) !== null);
}

/**
 * One host's view, prepared once per dataset and reused by every link that touches it. Ordering
 * happens up front; lookups (see ref-index.ts) and eligibility (see judgeFrom) only as far as a
 * link asks for them: a link usually needs little of either, and doing all of it for 10,000+
 * snapshots per host was most of the cost of a recompute.
 */
export class PreparedHostView {
  /** Snapshots oldest first, in this host's own order. */
  readonly ordered: SnapshotRef[];
  /** Whether `ordered` is by createtxg (every snapshot and bookmark reported one). */
  readonly byTxg: boolean;
  /** Whether every snapshot and bookmark reported a guid. */
  readonly hasAllGuids: boolean;
  private readonly rules: EligibilityRules;
  private readonly eligibleBits: Uint8Array;
  private readonly eligibleSuffix: Int32Array;
  /** eligibleBits[i] and eligibleSuffix[i] are known for every i >= judgedFrom (see judgeFrom). */
  private judgedFrom: number;
  private readonly snapshotsByGuid: LastIndexLookup;
  private readonly snapshotsByName: LastIndexLookup;
  private readonly bookmarksByGuid: LastIndexLookup;
  private readonly bookmarksByName: LastIndexLookup;
  private guidMap?: Map<string, number>;
  private nameMap?: Map<string, number>;
  private bookmarkGuids?: Map<string, SnapshotRef>;
  private bookmarkNames?: Map<string, SnapshotRef>;

  constructor(readonly view: HostDatasetView, rules: EligibilityRules) {
    const snapshots = view.present ? view.snapshots : [];
    const bookmarks = this.bookmarks;
    this.byTxg = canOrderByTxg(snapshots) && canOrderByTxg(bookmarks);
    this.ordered = orderWith(snapshots, this.byTxg);
    this.hasAllGuids = everyHasGuid(snapshots) && everyHasGuid(bookmarks);
    this.rules = rules;
    this.eligibleBits = new Uint8Array(this.ordered.length);
    this.eligibleSuffix = new Int32Array(this.ordered.length + 1);
    this.judgedFrom = this.ordered.length;
    // A snapshot_pattern throws on a name that is not a string (input breaking the types): judge
    // such a host entirely now, so that it fails where it always did.
    if (rules.pattern !== null && !this.ordered.every((r) => typeof r.name === 'string')) this.judgeFrom(0);
    this.snapshotsByGuid = new LastIndexLookup(this.ordered, 'guid');
    this.snapshotsByName = new LastIndexLookup(this.ordered, 'name');
    this.bookmarksByGuid = new LastIndexLookup(bookmarks, 'guid');
    this.bookmarksByName = new LastIndexLookup(bookmarks, 'name');
  }

  get bookmarks(): readonly SnapshotRef[] {
    return this.view.present ? this.view.bookmarks : [];
  }

  /** eligible[i]: ordered[i] may end a transfer. */
  get eligible(): Uint8Array {
    this.judgeFrom(0);
    return this.eligibleBits;
  }

  /** eligibleFrom[i]: how many of ordered[i..] are eligible (length n + 1). */
  get eligibleFrom(): Int32Array {
    this.judgeFrom(0);
    return this.eligibleSuffix;
  }

  /** eligibleFrom[i], judging only ordered[i..]. */
  eligibleCountFrom(i: number): number {
    if (i < 0 || i > this.ordered.length) return this.eligibleFrom[i]!; // out of range, as before
    this.judgeFrom(i);
    return this.eligibleSuffix[i]!;
  }

  /** eligible[i] === 1, judging only ordered[i..]. */
  isEligibleAt(i: number): boolean {
    this.judgeFrom(i);
    return this.eligibleBits[i] === 1;
  }

  /**
   * Eligibility is judged from the newest end down, as far as asked: most links only look at what
   * lies past the target's newest snapshot, and running a snapshot_pattern over all 10,000 names of
   * every host was a measurable part of a recompute.
   */
  private judgeFrom(i: number): void {
    const from = Math.max(0, i);
    for (let k = this.judgedFrom - 1; k >= from; k--) {
      this.eligibleBits[k] = isEligible(this.ordered[k]!, this.rules) ? 1 : 0;
      this.eligibleSuffix[k] = this.eligibleSuffix[k + 1]! + this.eligibleBits[k]!;
    }
    if (from < this.judgedFrom) this.judgedFrom = from;
  }

  /** Index in `ordered` of the last snapshot whose guid (or name) is `value`, or -1. */
  lastSnapshotIndex(key: RefKey, value: string | null): number {
    return (key === 'guid' ? this.snapshotsByGuid : this.snapshotsByName).lastIndexOf(value);
  }

  /** The last bookmark whose guid (or name) is `value`. */
  lastBookmark(key: RefKey, value: string | null): SnapshotRef | undefined {
    const i = (key === 'guid' ? this.bookmarksByGuid : this.bookmarksByName).lastIndexOf(value);
    return i >= 0 ? this.bookmarks[i] : undefined;
  }

  /** The guid index of `ordered`, built now: for a caller about to look up many guids. */
  snapshotGuidIndex(): RefIndex {
    return this.snapshotsByGuid.indexed();
  }

  // Plain Maps, for callers of the public API; the verdict code uses the lookups above.

  get indexByGuid(): Map<string, number> {
    return (this.guidMap ??= indexBy(this.ordered, 'guid', (_r, i) => i));
  }

  get indexByName(): Map<string, number> {
    return (this.nameMap ??= indexBy(this.ordered, 'name', (_r, i) => i));
  }

  get bookmarkByGuid(): Map<string, SnapshotRef> {
    return (this.bookmarkGuids ??= indexBy(this.bookmarks, 'guid', (r) => r));
  }

  get bookmarkByName(): Map<string, SnapshotRef> {
    return (this.bookmarkNames ??= indexBy(this.bookmarks, 'name', (r) => r));
  }
}

/** Order, index and judge eligibility of one host's view under the given rules. */
export function prepareHostView(view: HostDatasetView, rules: EligibilityRules): PreparedHostView {
  return new PreparedHostView(view, rules);
}

// ---------------------------------------------------------------------------------------------
// Identity across two hosts

/** guids when both hosts report them for everything; otherwise names (weaker, and said so). */
export function matchModeFor(a: PreparedHostView, b: PreparedHostView): 'guid' | 'name' {
  return a.hasAllGuids && b.hasAllGuids ? 'guid' : 'name';
}

/** Two refs with the same name are only the same snapshot if their guids do not contradict. */
function guidsCompatible(a: SnapshotRef, b: SnapshotRef): boolean {
  const ga = knownGuid(a);
  const gb = knownGuid(b);
  return ga === null || gb === null || ga === gb;
}

/**
 * Index in `host.ordered` of the snapshot that is `ref`, or -1. A known guid always wins (so a
 * renamed snapshot is still found); names are used only in 'name' mode and never against a
 * contradicting guid (a name collision is not the same snapshot).
 */
export function findSnapshotIndex(host: PreparedHostView, ref: SnapshotRef, mode: 'guid' | 'name'): number {
  const guid = knownGuid(ref);
  if (guid !== null) {
    const byGuid = host.lastSnapshotIndex('guid', guid);
    if (byGuid >= 0) return byGuid;
  }
  if (mode === 'guid') return -1;
  const byName = host.lastSnapshotIndex('name', ref.name);
  return byName >= 0 && guidsCompatible(host.ordered[byName]!, ref) ? byName : -1;
}

/** The bookmark on `host` that keeps `ref`, if any (same rules as findSnapshotIndex). */
export function findBookmark(host: PreparedHostView, ref: SnapshotRef, mode: 'guid' | 'name'): SnapshotRef | undefined {
  const guid = knownGuid(ref);
  if (guid !== null) {
    const byGuid = host.lastBookmark('guid', guid);
    if (byGuid) return byGuid;
  }
  if (mode === 'guid') return undefined;
  const byName = host.lastBookmark('name', ref.name);
  return byName && guidsCompatible(byName, ref) ? byName : undefined;
}

/** What one pass over the target, looked up on the source, tells about a pair of hosts. */
interface PairMatch {
  /** Short names present on both hosts whose guids differ (target order). */
  nameCollisions: string[];
  /**
   * onTarget[i] = 1 when source.ordered[i] is on the target (as findSnapshotIndex(target, ·,
   * mode) would say), read off the same pass; null when that pass cannot tell exactly.
   */
  sourceOnTarget: Uint8Array | null;
}

/**
 * Looks every target snapshot up on the source once. Besides the name collisions this yields,
 * in guid mode, which source snapshots the target has: with every guid known and the source's
 * guids distinct (its index has one key per snapshot), "s is on the target" is exactly "some
 * target snapshot's guid leads to s". That spares the verdict an index of the target.
 */
function matchPair(source: PreparedHostView, target: PreparedHostView, mode: 'guid' | 'name'): PairMatch {
  const nameCollisions: string[] = [];
  const n = source.ordered.length;
  let byGuid: RefIndex | undefined; // the source's guid index, built only if needed
  let distinct = false;
  let onTarget: Uint8Array | null = null;
  // Two hosts of a group mostly hold the same snapshots in the same order, so the next target
  // snapshot is usually the source snapshot after the previous match: checking that one first
  // replaces most hash lookups with one comparison. Only exact when the source's guids are
  // distinct (then it is the only snapshot with that guid); otherwise the index decides.
  let next = 0;
  for (const t of target.ordered) {
    const guid = knownGuid(t);
    if (guid === null) continue; // without a guid, a name cannot be told apart
    if (byGuid === undefined) {
      byGuid = source.snapshotGuidIndex();
      distinct = byGuid.size === n;
      if (mode === 'guid' && distinct) onTarget = new Uint8Array(n);
    }
    const same = distinct && next < n && knownGuid(source.ordered[next]!) === guid ? next : byGuid.get(guid);
    if (same >= 0) {
      next = same + 1;
      if (onTarget) onTarget[same] = 1;
      // Fast path: the same snapshot under the same name (the usual case) needs no name lookup.
      if (source.ordered[same]!.name === t.name) continue;
    }
    const i = source.lastSnapshotIndex('name', t.name);
    if (i < 0) continue;
    const other = knownGuid(source.ordered[i]!);
    if (other !== null && other !== guid) nameCollisions.push(t.name);
  }
  // In guid mode a target without any guid has no snapshots, so it has none of the source's.
  if (byGuid === undefined && mode === 'guid') onTarget = new Uint8Array(n);
  return { nameCollisions, sourceOnTarget: onTarget };
}

/** Short names present on both hosts whose guids differ: unrelated snapshots sharing a name. */
export function findNameCollisions(source: PreparedHostView, target: PreparedHostView): string[] {
  return matchPair(source, target, matchModeFor(source, target)).nameCollisions;
}

// ---------------------------------------------------------------------------------------------
// Common base

interface CommonBase {
  base: LinkBase;
  /** Index of the base in target.ordered. */
  targetIndex: number;
  /** Index of the base in source.ordered, or -1 when the source only has a bookmark. */
  sourceIndex: number;
  /** First index of source.ordered newer than the base. */
  sourceAfter: number;
  /** creation of the base as stamped on the source. */
  creationOnSource: number;
}

/**
 * T's newest snapshot (T's order) that S also has. When S has it both as a snapshot and as a
 * bookmark, the snapshot wins (it allows `-I`). An older shared snapshot is never preferred over
 * a newer shared bookmark: an incremental receive must start from T's newest common snapshot.
 */
export function findCommonBase(source: PreparedHostView, target: PreparedHostView, mode: 'guid' | 'name'): CommonBase | null {
  for (let ti = target.ordered.length - 1; ti >= 0; ti--) {
    const t = target.ordered[ti]!;
    const si = findSnapshotIndex(source, t, mode);
    if (si >= 0) {
      const s = source.ordered[si]!;
      return {
        base: { name: s.name, targetName: t.name, guid: knownGuid(s) ?? knownGuid(t), kind: 'snapshot' },
        targetIndex: ti,
        sourceIndex: si,
        sourceAfter: si + 1,
        creationOnSource: s.creation,
      };
    }
    const bookmark = findBookmark(source, t, mode);
    if (bookmark) {
      return {
        base: { name: bookmark.name, targetName: t.name, guid: knownGuid(bookmark) ?? knownGuid(t), kind: 'bookmark' },
        targetIndex: ti,
        sourceIndex: -1,
        sourceAfter: firstIndexNewerThan(source.ordered, bookmark, source.byTxg),
        creationOnSource: bookmark.creation,
      };
    }
  }
  return null;
}

/** Index of S's newest eligible snapshot at or after `from`, or -1. */
export function newestEligibleFrom(host: PreparedHostView, from: number): number {
  // From the newest end down: judges eligibility only as far as it has to look.
  for (let i = host.ordered.length - 1; i >= Math.max(0, from); i--) {
    if (host.isEligibleAt(i)) return i;
  }
  return -1;
}

/**
 * Whether T's chain continues into S's history (T's newest snapshot is on S, as a snapshot or a
 * bookmark), and how many eligible snapshots S has beyond it. null when T's newest is not on S.
 * A target without snapshots extends every chain.
 */
export function chainExtension(source: PreparedHostView, target: PreparedHostView): { ahead: number } | null {
  const newest = target.ordered[target.ordered.length - 1];
  if (!newest) return { ahead: source.eligibleCountFrom(0) };
  const mode = matchModeFor(source, target);
  const si = findSnapshotIndex(source, newest, mode);
  if (si >= 0) return { ahead: source.eligibleCountFrom(si + 1) };
  const bookmark = findBookmark(source, newest, mode);
  if (!bookmark) return null;
  return { ahead: source.eligibleCountFrom(firstIndexNewerThan(source.ordered, bookmark, source.byTxg)) };
}

// ---------------------------------------------------------------------------------------------
// Wording

function truncated(names: readonly string[], count = names.length): TruncatedNames {
  return { items: names.slice(0, VERDICT_LIST_LIMIT), count };
}

/** The names of refs[from..], truncated: without first listing all 10,000 of them. */
function truncatedNamesFrom(refs: readonly SnapshotRef[], from: number): TruncatedNames {
  const items: string[] = [];
  for (let i = from; i < refs.length && items.length < VERDICT_LIST_LIMIT; i++) items.push(refs[i]!.name);
  return { items, count: Math.max(0, refs.length - from) };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** `3d 4h`, `2h 5m`, `42s`: readable lag for explanations. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return h > 0 ? `${d}d ${h}h` : `${d}d`;
  if (h > 0) return m > 0 ? `${h}h ${m}m` : `${h}h`;
  if (m > 0) return s % 60 > 0 ? `${m}m ${s % 60}s` : `${m}m`;
  return `${s}s`;
}

function listNames(names: readonly string[], prefix = '@', max = 3, count = names.length): string {
  const shown = names.slice(0, max).map((n) => `${prefix}${n}`).join(', ');
  return count > max ? `${shown}, …` : shown;
}

/** A renamed base is the same snapshot under another name on the target: worth saying. */
function renamedNote(base: LinkBase): string {
  return base.name !== base.targetName ? ` (@${base.targetName} on the target)` : '';
}

function describeBase(base: LinkBase): string {
  return `${base.kind} ${base.kind === 'bookmark' ? '#' : '@'}${base.name}${renamedNote(base)}`;
}

function qualifiers(matchedBy: 'guid' | 'name', collisions: readonly string[]): string {
  let out = '';
  if (matchedBy === 'name') out += '; matched by name (a host reported no guids, so names are trusted)';
  if (collisions.length > 0) out += `; name collision: ${listNames(collisions)} (same name, different guid)`;
  return out;
}

// ---------------------------------------------------------------------------------------------
// The verdict

/**
 * Verdict for S → T on already prepared views (both prepared under the same rules).
 * The order of the checks is the order of the rules: unseeded, no base, diverged (T has
 * snapshots newer than the base that S lacks: any incremental receive would fail), in sync
 * (nothing eligible beyond the base), then behind / out_of_sync by lag.
 */
export function verdictForPrepared(source: PreparedHostView, target: PreparedHostView, maxLagSeconds: number): LinkVerdict {
  const matchedBy = matchModeFor(source, target);
  const { nameCollisions, sourceOnTarget } = matchPair(source, target, matchedBy);
  const tail = qualifiers(matchedBy, nameCollisions);
  const make = (verdict: LinkVerdictKind, rest: Omit<LinkVerdict, 'verdict' | 'matchedBy' | 'nameCollisions'>): LinkVerdict => ({
    verdict,
    matchedBy,
    nameCollisions,
    ...rest,
    explanation: rest.explanation + tail,
  });

  const resumable = !!target.view.receiveResumeToken;
  if (!target.view.present || (target.ordered.length === 0 && resumable)) {
    const endIndex = newestEligibleFrom(source, 0);
    const end = endIndex >= 0 ? source.ordered[endIndex]! : null;
    const how = resumable ? 'an interrupted initial receive can be resumed' : end ? `full send of @${end.name}` : '';
    return make('not_seeded', {
      base: null,
      end,
      snapshotCount: end ? 1 : 0,
      sourceOnly: truncatedNamesFrom(source.ordered, 0),
      targetOnly: truncated([]),
      lagSeconds: null,
      explanation: end
        ? `not seeded: the target lacks the dataset; ${how} (${plural(source.ordered.length, 'snapshot')} on the source)`
        : 'not seeded: the target lacks the dataset, but the source has no eligible snapshot yet',
    });
  }

  const common = findCommonBase(source, target, matchedBy);
  if (!common) {
    const endIndex = newestEligibleFrom(source, 0);
    return make('no_common_base', {
      base: null,
      end: endIndex >= 0 ? source.ordered[endIndex]! : null,
      snapshotCount: endIndex >= 0 ? 1 : 0,
      sourceOnly: truncatedNamesFrom(source.ordered, 0),
      targetOnly: truncatedNamesFrom(target.ordered, 0),
      lagSeconds: null,
      explanation:
        target.ordered.length === 0
          ? 'no common base: the target has the dataset but no snapshots; only a full re-send that overwrites it (-F) can seed it'
          : `no common base: the target has ${plural(target.ordered.length, 'snapshot')}, none of them on the source; only a destructive full re-send can fix this`,
    });
  }

  const { base } = common;
  const sourceOnlyNames: string[] = [];
  let sourceOnlyCount = 0;
  for (let i = common.sourceAfter; i < source.ordered.length; i++) {
    const s = source.ordered[i]!;
    if (sourceOnTarget ? sourceOnTarget[i] === 1 : findSnapshotIndex(target, s, matchedBy) >= 0) continue;
    sourceOnlyCount++;
    if (sourceOnlyNames.length < VERDICT_LIST_LIMIT) sourceOnlyNames.push(s.name);
  }
  const sourceOnly = truncated(sourceOnlyNames, sourceOnlyCount);
  // T's snapshots newer than the base: none is on S, or it would have been the base.
  const targetOnly = truncatedNamesFrom(target.ordered, common.targetIndex + 1);
  const endIndex = newestEligibleFrom(source, common.sourceAfter);
  const end = endIndex >= 0 ? source.ordered[endIndex]! : null;
  const lagSeconds = end ? Math.max(0, end.creation - common.creationOnSource) : 0;
  // -I sends every snapshot in (base, end]; -i from a bookmark sends only the end.
  const snapshotCount = !end ? 0 : base.kind === 'bookmark' ? 1 : endIndex - common.sourceIndex;
  const shared = { base, end, snapshotCount, sourceOnly, targetOnly, lagSeconds };

  if (targetOnly.count > 0) {
    return make('diverged', {
      ...shared,
      explanation: `diverged: the target has ${plural(targetOnly.count, 'snapshot')} newer than the common base ${describeBase(base)} that the source lacks (${listNames(targetOnly.items, '@', 3, targetOnly.count)})`,
    });
  }
  if (!end) {
    const waiting = sourceOnlyCount > 0 ? `; ${plural(sourceOnlyCount, 'newer source snapshot')} not eligible yet` : '';
    return make('in_sync', { ...shared, explanation: `in sync at ${describeBase(base)}${waiting}` });
  }

  const transfer =
    base.kind === 'bookmark'
      ? `send @${end.name} incrementally from bookmark #${base.name} (-i: only the end snapshot is sent)`
      : `send ${plural(snapshotCount, 'snapshot')} from @${base.name}${renamedNote(base)} to @${end.name}`;
  const lag = `lag ${formatDuration(lagSeconds)}`;
  if (lagSeconds > maxLagSeconds) {
    return make('out_of_sync', { ...shared, explanation: `out of sync: ${lag} exceeds the maximum ${formatDuration(maxLagSeconds)}; ${transfer}` });
  }
  return make('behind', { ...shared, explanation: `behind: ${lag} (maximum ${formatDuration(maxLagSeconds)}); ${transfer}` });
}

export interface LinkVerdictInput {
  source: HostDatasetView;
  target: HostDatasetView;
  policy: Pick<SyncGroupPolicy, 'snapshotPattern' | 'minSnapshotAgeSeconds' | 'maxLagSeconds'>;
  /** Unix seconds. */
  now: number;
}

/** The verdict for one (source, target, dataset) link. Pure: `now` is a parameter. */
export function computeLinkVerdict({ source, target, policy, now }: LinkVerdictInput): LinkVerdict {
  const rules = eligibilityRules(policy, now);
  return verdictForPrepared(prepareHostView(source, rules), prepareHostView(target, rules), policy.maxLagSeconds);
}
