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
import type { HostDatasetView, LinkBase, LinkVerdict, LinkVerdictKind, SnapshotRef, SyncGroupPolicy, TruncatedNames } from './types.js';

/** How many names a verdict lists; the counts are always complete. */
export const VERDICT_LIST_LIMIT = 50;

// ---------------------------------------------------------------------------------------------
// Preparing one host's view (done once per host, reused by every link that touches it)

/** A ref's guid, or null when the client did not report one (null, missing or empty). */
function knownGuid(ref: SnapshotRef): string | null {
  return ref.guid || null;
}

function everyHasGuid(refs: readonly SnapshotRef[]): boolean {
  return refs.every((r) => knownGuid(r) !== null);
}

function indexBy<T>(items: readonly SnapshotRef[], key: (r: SnapshotRef) => string | null, value: (r: SnapshotRef, i: number) => T): Map<string, T> {
  const map = new Map<string, T>();
  items.forEach((r, i) => {
    const k = key(r);
    if (k !== null && k !== '') map.set(k, value(r, i));
  });
  return map;
}

/**
 * One host's view, ordered and judged once and reused by every link that touches it. The lookup
 * maps are built on first use: a link usually needs only some of them, and building a map of
 * 10,000+ keys is the most expensive step of a recompute.
 */
export class PreparedHostView {
  /** Snapshots oldest first, in this host's own order. */
  readonly ordered: SnapshotRef[];
  /** Whether `ordered` is by createtxg (every snapshot and bookmark reported one). */
  readonly byTxg: boolean;
  /** Whether every snapshot and bookmark reported a guid. */
  readonly hasAllGuids: boolean;
  /** eligible[i]: ordered[i] may end a transfer. */
  readonly eligible: Uint8Array;
  /** eligibleFrom[i]: how many of ordered[i..] are eligible (length n + 1). */
  readonly eligibleFrom: Int32Array;
  private guidIndex?: Map<string, number>;
  private nameIndex?: Map<string, number>;
  private bookmarkGuids?: Map<string, SnapshotRef>;
  private bookmarkNames?: Map<string, SnapshotRef>;

  constructor(readonly view: HostDatasetView, rules: EligibilityRules) {
    const snapshots = view.present ? view.snapshots : [];
    const bookmarks = this.bookmarks;
    this.byTxg = canOrderByTxg(snapshots) && canOrderByTxg(bookmarks);
    this.ordered = orderWith(snapshots, this.byTxg);
    this.hasAllGuids = everyHasGuid(snapshots) && everyHasGuid(bookmarks);
    this.eligible = new Uint8Array(this.ordered.length);
    this.eligibleFrom = new Int32Array(this.ordered.length + 1);
    for (let i = this.ordered.length - 1; i >= 0; i--) {
      this.eligible[i] = isEligible(this.ordered[i]!, rules) ? 1 : 0;
      this.eligibleFrom[i] = this.eligibleFrom[i + 1]! + this.eligible[i]!;
    }
  }

  get bookmarks(): readonly SnapshotRef[] {
    return this.view.present ? this.view.bookmarks : [];
  }

  get indexByGuid(): Map<string, number> {
    return (this.guidIndex ??= indexBy(this.ordered, knownGuid, (_r, i) => i));
  }

  get indexByName(): Map<string, number> {
    return (this.nameIndex ??= indexBy(this.ordered, (r) => r.name, (_r, i) => i));
  }

  get bookmarkByGuid(): Map<string, SnapshotRef> {
    return (this.bookmarkGuids ??= indexBy(this.bookmarks, knownGuid, (r) => r));
  }

  get bookmarkByName(): Map<string, SnapshotRef> {
    return (this.bookmarkNames ??= indexBy(this.bookmarks, (r) => r.name, (r) => r));
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
    const byGuid = host.indexByGuid.get(guid);
    if (byGuid !== undefined) return byGuid;
  }
  if (mode === 'guid') return -1;
  const byName = host.indexByName.get(ref.name);
  return byName !== undefined && guidsCompatible(host.ordered[byName]!, ref) ? byName : -1;
}

/** The bookmark on `host` that keeps `ref`, if any (same rules as findSnapshotIndex). */
export function findBookmark(host: PreparedHostView, ref: SnapshotRef, mode: 'guid' | 'name'): SnapshotRef | undefined {
  const guid = knownGuid(ref);
  if (guid !== null) {
    const byGuid = host.bookmarkByGuid.get(guid);
    if (byGuid) return byGuid;
  }
  if (mode === 'guid') return undefined;
  const byName = host.bookmarkByName.get(ref.name);
  return byName && guidsCompatible(byName, ref) ? byName : undefined;
}

/** Short names present on both hosts whose guids differ: unrelated snapshots sharing a name. */
export function findNameCollisions(source: PreparedHostView, target: PreparedHostView): string[] {
  const collisions: string[] = [];
  for (const t of target.ordered) {
    const guid = knownGuid(t);
    if (guid === null) continue; // without a guid, a name cannot be told apart
    // Fast path: the same snapshot under the same name (the usual case) needs no name index.
    const same = source.indexByGuid.get(guid);
    if (same !== undefined && source.ordered[same]!.name === t.name) continue;
    const i = source.indexByName.get(t.name);
    if (i === undefined) continue;
    const other = knownGuid(source.ordered[i]!);
    if (other !== null && other !== guid) collisions.push(t.name);
  }
  return collisions;
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
  if (host.eligibleFrom[Math.max(0, from)] === 0) return -1;
  for (let i = host.ordered.length - 1; i >= from; i--) {
    if (host.eligible[i]) return i;
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
  if (!newest) return { ahead: source.eligibleFrom[0]! };
  const mode = matchModeFor(source, target);
  const si = findSnapshotIndex(source, newest, mode);
  if (si >= 0) return { ahead: source.eligibleFrom[si + 1]! };
  const bookmark = findBookmark(source, newest, mode);
  if (!bookmark) return null;
  return { ahead: source.eligibleFrom[firstIndexNewerThan(source.ordered, bookmark, source.byTxg)]! };
}

// ---------------------------------------------------------------------------------------------
// Wording

function truncated(names: readonly string[], count = names.length): TruncatedNames {
  return { items: names.slice(0, VERDICT_LIST_LIMIT), count };
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

function listNames(names: readonly string[], prefix = '@', max = 3): string {
  const shown = names.slice(0, max).map((n) => `${prefix}${n}`).join(', ');
  return names.length > max ? `${shown}, …` : shown;
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
  const nameCollisions = findNameCollisions(source, target);
  const tail = qualifiers(matchedBy, nameCollisions);
  const allSource = (): string[] => source.ordered.map((s) => s.name);
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
      sourceOnly: truncated(allSource()),
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
      sourceOnly: truncated(allSource()),
      targetOnly: truncated(target.ordered.map((t) => t.name)),
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
    if (findSnapshotIndex(target, s, matchedBy) >= 0) continue;
    sourceOnlyCount++;
    if (sourceOnlyNames.length < VERDICT_LIST_LIMIT) sourceOnlyNames.push(s.name);
  }
  const sourceOnly = truncated(sourceOnlyNames, sourceOnlyCount);
  // T's snapshots newer than the base: none is on S, or it would have been the base.
  const targetNewer = target.ordered.slice(common.targetIndex + 1).map((t) => t.name);
  const endIndex = newestEligibleFrom(source, common.sourceAfter);
  const end = endIndex >= 0 ? source.ordered[endIndex]! : null;
  const lagSeconds = end ? Math.max(0, end.creation - common.creationOnSource) : 0;
  // -I sends every snapshot in (base, end]; -i from a bookmark sends only the end.
  const snapshotCount = !end ? 0 : base.kind === 'bookmark' ? 1 : endIndex - common.sourceIndex;
  const shared = { base, end, snapshotCount, sourceOnly, targetOnly: truncated(targetNewer), lagSeconds };

  if (targetNewer.length > 0) {
    return make('diverged', {
      ...shared,
      explanation: `diverged: the target has ${plural(targetNewer.length, 'snapshot')} newer than the common base ${describeBase(base)} that the source lacks (${listNames(targetNewer)})`,
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
