/**
 * Which links a group should have, per dataset (issue 4, "Topology").
 *
 * Hub-and-spoke (`directional: true`): hub → each spoke, nothing else; spokes never replicate to
 * each other. Mesh (`directional: false`): every member should end up with every eligible
 * snapshot; each target pulls from the member whose chain it extends and which is furthest ahead.
 * Datasets are matched across members by their path relative to the pool: pool names differ.
 */
import { datasetSelected, eligibilityRules, type EligibilityRules } from './eligibility.js';
import { isPlausibleResumeToken } from './commands.js';
import {
  chainExtension,
  findCommonBase,
  matchModeFor,
  newestEligibleFrom,
  prepareHostView,
  verdictForPrepared,
  type PreparedHostView,
} from './link-verdict.js';
import type { HostDatasetView, LinkVerdict, MemberConnection, SnapshotRef, SyncGroupPolicy } from './types.js';

export interface PlannedLink {
  groupId: string;
  /** Path relative to the pool, the same on both sides. */
  dataset: string;
  sourceSystemId: string;
  targetSystemId: string;
  /** Who runs the transfer: the source in push mode, the target in pull mode. */
  executorSystemId: string;
  sourcePool: string;
  /** The target's pool; for a target without the dataset: targetPools[target] or the source's pool. */
  targetPool: string;
  targetPresent: boolean;
  /** The target's resume token, when the link has a transfer to do and the token looks sane. */
  resumeToken: string | null;
  verdict: LinkVerdict;
  /**
   * initial_replication "all", target not seeded: the source's oldest eligible snapshot, which a
   * seed sends in full before `-I` to the end (null otherwise, or when it is the end itself).
   */
  seedFrom: SnapshotRef | null;
  /** Snapshots such a seed creates on the target (the full one plus every one `-I` sends). */
  seedSnapshotCount: number;
}

export interface PlanGroupLinksInput {
  policy: SyncGroupPolicy;
  members: readonly MemberConnection[];
  /** Dataset path relative to the pool → every host's view of it (non-members are ignored). */
  datasetViews: ReadonlyMap<string, readonly HostDatasetView[]>;
  /** Unix seconds. */
  now: number;
}

/** Verdicts that mean "there is something to send". */
const TRANSFER_VERDICTS = new Set(['behind', 'out_of_sync', 'not_seeded']);

/**
 * A member may hold the same relative path in several pools (its own `tank/data` and a
 * `backup/data`). The group's view of it is the one in targetPools[member] when configured,
 * else the only one, else the first pool by name (deterministic: a view that changed with
 * snapshot counts would flip verdicts). The one rule for this, used by the engine and the API.
 */
export function pickMemberView(views: readonly HostDatasetView[], preferredPool: string | undefined): HostDatasetView | undefined {
  const present = views.filter((v) => v.present);
  if (preferredPool !== undefined) {
    const preferred = present.find((v) => v.pool === preferredPool);
    if (preferred) return preferred;
  }
  return [...present].sort((a, b) => (a.pool < b.pool ? -1 : a.pool > b.pool ? 1 : 0))[0];
}

/** Each member's one view of a dataset path (see pickMemberView), by system id; absent members are missing. */
export function memberViews(views: readonly HostDatasetView[], memberIds: readonly string[], targetPools: Readonly<Record<string, string>>): Map<string, HostDatasetView> {
  const bySystem = new Map<string, HostDatasetView[]>();
  for (const v of views) {
    const list = bySystem.get(v.systemId);
    if (list) list.push(v);
    else bySystem.set(v.systemId, [v]);
  }
  const picked = new Map<string, HostDatasetView>();
  for (const id of memberIds) {
    const view = pickMemberView(bySystem.get(id) ?? [], targetPools[id]);
    if (view) picked.set(id, view);
  }
  return picked;
}

/** Each member's view of one dataset, prepared once and shared by every link that touches it. */
function prepareMembers(
  views: readonly HostDatasetView[],
  memberIds: readonly string[],
  policy: SyncGroupPolicy,
  rules: EligibilityRules,
): Map<string, PreparedHostView> {
  const prepared = new Map<string, PreparedHostView>();
  for (const [id, view] of memberViews(views, memberIds, policy.targetPools)) prepared.set(id, prepareHostView(view, rules));
  return prepared;
}

/** A placeholder view for a member that does not have the dataset. */
function absentView(systemId: string, pool: string, dataset: string, rules: EligibilityRules): PreparedHostView {
  return prepareHostView({ systemId, pool, dataset, present: false, snapshots: [], bookmarks: [] }, rules);
}

interface DatasetContext {
  policy: SyncGroupPolicy;
  dataset: string;
  rules: EligibilityRules;
  prepared: Map<string, PreparedHostView>;
  /** chainExtension per (source, target): the mesh asks for the same pair more than once. */
  extensions: Map<PreparedHostView, Map<PreparedHostView, { ahead: number } | null>>;
}

/** chainExtension(source, target), computed once per pair and dataset. */
function extension(ctx: DatasetContext, source: PreparedHostView, target: PreparedHostView): { ahead: number } | null {
  let bySource = ctx.extensions.get(source);
  if (!bySource) ctx.extensions.set(source, (bySource = new Map()));
  let result = bySource.get(target);
  if (result === undefined) bySource.set(target, (result = chainExtension(source, target)));
  return result;
}

/** The target's view, or a placeholder in targetPools[target] (else the source's pool). */
function targetViewFor(ctx: DatasetContext, source: PreparedHostView, targetId: string): PreparedHostView {
  return (
    ctx.prepared.get(targetId) ??
    absentView(targetId, ctx.policy.targetPools[targetId] ?? source.view.pool, ctx.dataset, ctx.rules)
  );
}

/** initial_replication "all": where a seed of `target` starts on `source` (see PlannedLink.seedFrom). */
function seedOf(ctx: DatasetContext, source: PreparedHostView, target: PreparedHostView, v: LinkVerdict, resumeToken: string | null): { seedFrom: SnapshotRef | null; seedSnapshotCount: number } {
  if (ctx.policy.initialReplication !== 'all' || v.verdict !== 'not_seeded' || target.view.present || resumeToken !== null || !v.end) return { seedFrom: null, seedSnapshotCount: 0 };
  const endIndex = newestEligibleFrom(source, 0);
  let first = 0;
  while (first < endIndex && !source.isEligibleAt(first)) first++;
  if (first >= endIndex) return { seedFrom: null, seedSnapshotCount: 0 };
  return { seedFrom: source.ordered[first]!, seedSnapshotCount: endIndex - first + 1 };
}

function makeLink(ctx: DatasetContext, source: PreparedHostView, target: PreparedHostView, verdict?: LinkVerdict): PlannedLink {
  const v = verdict ?? verdictForPrepared(source, target, ctx.policy.maxLagSeconds);
  const token = target.view.receiveResumeToken ?? null;
  const resumeToken = token !== null && TRANSFER_VERDICTS.has(v.verdict) && isPlausibleResumeToken(token) ? token : null;
  return {
    groupId: ctx.policy.id,
    dataset: ctx.dataset,
    sourceSystemId: source.view.systemId,
    targetSystemId: target.view.systemId,
    executorSystemId: ctx.policy.transferMode === 'pull' ? target.view.systemId : source.view.systemId,
    sourcePool: source.view.pool,
    targetPool: target.view.pool,
    targetPresent: target.view.present,
    resumeToken,
    verdict: v,
    ...seedOf(ctx, source, target, v, resumeToken),
  };
}

// ---------------------------------------------------------------------------------------------
// Hub-and-spoke

function hubLinks(ctx: DatasetContext, memberIds: readonly string[]): PlannedLink[] {
  const hubId = ctx.policy.hubSystemId;
  if (hubId === null || !memberIds.includes(hubId)) return [];
  const hub = ctx.prepared.get(hubId);
  // An empty or absent hub dataset has nothing to give: no links, rather than "unseeded" noise.
  if (!hub || hub.ordered.length === 0) return [];
  return memberIds.filter((id) => id !== hubId).map((spokeId) => makeLink(ctx, hub, targetViewFor(ctx, hub, spokeId)));
}

// ---------------------------------------------------------------------------------------------
// Mesh

/** For target T: the member whose chain T extends and which has the most eligible snapshots beyond it. */
function bestSource(ctx: DatasetContext, holders: readonly string[], targetId: string): PreparedHostView | null {
  const target = ctx.prepared.get(targetId);
  let best: { source: PreparedHostView; ahead: number } | null = null;
  for (const id of holders) {
    if (id === targetId) continue;
    const source = ctx.prepared.get(id)!;
    const ahead = target ? extension(ctx, source, target)?.ahead ?? 0 : source.eligibleCountFrom(0);
    // holders are sorted by systemId, so keeping the first of equals is the tie-break.
    if (ahead > 0 && (!best || ahead > best.ahead)) best = { source, ahead };
  }
  return best?.source ?? null;
}

/**
 * X → Y is a conflict when Y holds snapshots after the base that X lacks (diverged) or shares
 * nothing with X (no common base), while X has eligible snapshots Y needs.
 */
function conflictVerdict(ctx: DatasetContext, x: PreparedHostView, y: PreparedHostView): LinkVerdict | null {
  if (extension(ctx, x, y) !== null) return null; // Y's newest is on X: Y is simply behind or equal
  // Only a verdict with an end can be a conflict, and its end is X's newest eligible snapshot past
  // the common base (past nothing without one). Checking that first spares the full verdict (a
  // pass over all of Y) in the usual case of a Y that is simply ahead of X.
  const common = findCommonBase(x, y, matchModeFor(x, y));
  if (newestEligibleFrom(x, common ? common.sourceAfter : 0) < 0) return null;
  const v = verdictForPrepared(x, y, ctx.policy.maxLagSeconds);
  return (v.verdict === 'diverged' || v.verdict === 'no_common_base') && v.end !== null ? v : null;
}

/**
 * Two holders that each have what the other lacks get one conflict link. Its direction decides
 * which side a destructive resolution would overwrite, so the source is the side with more
 * snapshots of its own (less to lose on the other), ties to the smaller systemId.
 */
function divergenceLink(ctx: DatasetContext, x: PreparedHostView, y: PreparedHostView): PlannedLink | null {
  const xy = conflictVerdict(ctx, x, y);
  const yx = conflictVerdict(ctx, y, x);
  if (xy && yx) return yx.sourceOnly.count > xy.sourceOnly.count ? makeLink(ctx, y, x, yx) : makeLink(ctx, x, y, xy);
  if (xy) return makeLink(ctx, x, y, xy);
  if (yx) return makeLink(ctx, y, x, yx);
  return null;
}

function meshLinks(ctx: DatasetContext, memberIds: readonly string[]): PlannedLink[] {
  const holders = memberIds.filter((id) => (ctx.prepared.get(id)?.ordered.length ?? 0) > 0);
  const links: PlannedLink[] = [];
  const linkedPairs = new Set<string>();
  const pairKey = (a: string, b: string): string => JSON.stringify(a < b ? [a, b] : [b, a]);

  for (const targetId of memberIds) {
    const source = bestSource(ctx, holders, targetId);
    if (!source) continue; // already the most advanced (or nobody has anything)
    links.push(makeLink(ctx, source, targetViewFor(ctx, source, targetId)));
    linkedPairs.add(pairKey(source.view.systemId, targetId));
  }
  for (let i = 0; i < holders.length; i++) {
    for (let j = i + 1; j < holders.length; j++) {
      if (linkedPairs.has(pairKey(holders[i]!, holders[j]!))) continue;
      const link = divergenceLink(ctx, ctx.prepared.get(holders[i]!)!, ctx.prepared.get(holders[j]!)!);
      if (link) links.push(link);
    }
  }
  return links;
}

// ---------------------------------------------------------------------------------------------

/**
 * Every link a group should have right now, dataset by dataset (sorted by dataset path, then as
 * built). A disabled group has none. In a mesh, members that are already the most advanced have
 * no incoming link: with no link, a present member is up to date.
 */
export function planGroupLinks({ policy, members, datasetViews, now }: PlanGroupLinksInput): PlannedLink[] {
  if (!policy.enabled) return [];
  const rules = eligibilityRules(policy, now);
  const memberIds = [...new Set(members.map((m) => m.systemId))].sort();
  const datasets = [...datasetViews.keys()].sort();
  const links: PlannedLink[] = [];
  for (const dataset of datasets) {
    if (!datasetSelected(dataset, policy.datasets)) continue;
    const prepared = prepareMembers(datasetViews.get(dataset)!, memberIds, policy, rules);
    const ctx: DatasetContext = { policy, dataset, rules, prepared, extensions: new Map() };
    links.push(...(policy.directional ? hubLinks(ctx, memberIds) : meshLinks(ctx, memberIds)));
  }
  return links;
}
