/**
 * Protection (issue 13): for one dataset of a group, which snapshot every copy should hold and
 * which one is a day old, so the witness can count — guid-exact — how many hosts, pools and sites
 * hold each. The counting itself is a set lookup done where the inventories live; this file
 * decides what is counted.
 *
 * - The **reference** is where new snapshots of the dataset come from: the hub of a hub-and-spoke
 *   group (when it holds the dataset), otherwise the member whose newest eligible snapshot is the
 *   newest (by creation time — the only clock comparable across hosts; ties go to the member with
 *   more snapshots, then the smaller system id, so the choice is stable).
 * - **newest**: the reference's newest eligible snapshot (the group's snapshot_pattern and
 *   min_snapshot_age_seconds apply, as for transfers).
 * - **dayOld**: the reference's newest eligible snapshot created at least 24 hours ago: what a
 *   restore after a bad day would reach for.
 * - **refreshAt**: when time alone moves dayOld (the next eligible snapshot turns 24 hours old),
 *   so a sweep can refresh exactly the rows that went stale and no others.
 */
import { datasetSelected, eligibilityRules } from './eligibility.js';
import { prepareHostView, type PreparedHostView } from './link-verdict.js';
import { memberViews } from './topology.js';
import type { HostDatasetView, SnapshotRef, SyncGroupPolicy } from './types.js';

export const PROTECTION_DAY_SECONDS = 86_400;

export interface ProtectionPolicy {
  min_copies: number;
  min_sites: number;
}

export interface ProtectionPoint {
  name: string;
  /** null when the reference's client reports no guids: holders are then matched by name. */
  guid: string | null;
  creation: number;
}

export interface ProtectionAssessment {
  referenceSystemId: string | null;
  newest: ProtectionPoint | null;
  dayOld: ProtectionPoint | null;
  /** 'name' when a point has no guid (a guid-less client): weaker, and shown as such. */
  matchedBy: 'guid' | 'name';
  /** Unix seconds at which dayOld changes by time alone; null when it never will. */
  refreshAt: number | null;
}

export interface AssessProtectionInput {
  policy: Pick<SyncGroupPolicy, 'enabled' | 'directional' | 'hubSystemId' | 'snapshotPattern' | 'minSnapshotAgeSeconds' | 'datasets' | 'targetPools'>;
  /** The dataset path (relative to the pool). */
  dataset: string;
  /** Every view the members have of the dataset, one per (host, pool); absent members may be left out. */
  views: readonly HostDatasetView[];
  now: number;
}

const point = (r: SnapshotRef): ProtectionPoint => ({ name: r.name, guid: r.guid, creation: r.creation });

/** Index of the host's newest eligible snapshot created at or before `notAfter`, or -1. */
function newestEligibleAtMost(host: PreparedHostView, notAfter: number): number {
  for (let i = host.ordered.length - 1; i >= 0; i--) {
    if (host.ordered[i]!.creation <= notAfter && host.isEligibleAt(i)) return i;
  }
  return -1;
}

/**
 * What protection is counted against for one dataset of one group; null when the group does not
 * replicate the dataset (disabled group, or excluded by its dataset globs).
 */
export function assessProtection({ policy, dataset, views, now }: AssessProtectionInput): ProtectionAssessment | null {
  if (!policy.enabled || !datasetSelected(dataset, policy.datasets)) return null;
  // Each member is represented by the view replication uses (its target pool, else its fullest).
  const members = [...memberViews(views, [...new Set(views.map((v) => v.systemId))], policy.targetPools).values()];
  const present = members.filter((v) => v.present && v.snapshots.length > 0);
  const rules = eligibilityRules(policy, now);
  const candidates = present
    .map((view) => {
      const prepared = prepareHostView(view, rules);
      const newest = newestEligibleAtMost(prepared, Number.POSITIVE_INFINITY);
      return { prepared, newest };
    })
    .filter((c) => c.newest >= 0);

  const hub = policy.directional ? candidates.find((c) => c.prepared.view.systemId === policy.hubSystemId) : undefined;
  const reference =
    hub ??
    candidates.sort((a, b) => {
      const ca = a.prepared.ordered[a.newest]!.creation;
      const cb = b.prepared.ordered[b.newest]!.creation;
      if (ca !== cb) return cb - ca;
      if (a.prepared.ordered.length !== b.prepared.ordered.length) return b.prepared.ordered.length - a.prepared.ordered.length;
      return a.prepared.view.systemId < b.prepared.view.systemId ? -1 : 1;
    })[0];
  if (!reference) return { referenceSystemId: null, newest: null, dayOld: null, matchedBy: 'guid', refreshAt: null };

  const ordered = reference.prepared.ordered;
  const newest = ordered[reference.newest]!;
  const dayIndex = newestEligibleAtMost(reference.prepared, now - PROTECTION_DAY_SECONDS);
  const dayOld = dayIndex >= 0 ? ordered[dayIndex]! : null;
  // The next eligible snapshot after dayOld (in the reference's order) becomes a day old at its
  // creation + 24 h; if its creation is not after dayOld's (clock skew), it never replaces it by time.
  let refreshAt: number | null = null;
  for (let i = dayIndex + 1; i < ordered.length; i++) {
    if (!reference.prepared.isEligibleAt(i)) continue;
    const at = ordered[i]!.creation + PROTECTION_DAY_SECONDS;
    if (at > now && (refreshAt === null || at < refreshAt)) refreshAt = at;
  }
  const matchedBy = newest.guid === null || (dayOld !== null && dayOld.guid === null) ? 'name' : 'guid';
  return { referenceSystemId: reference.prepared.view.systemId, newest: point(newest), dayOld: dayOld && point(dayOld), matchedBy, refreshAt };
}

/** A place that holds a copy: a (system, pool) pair. */
export interface ProtectionPlace {
  systemId: string;
  pool: string;
}

/**
 * Whether a snapshot list holds the point: the same guid, or — when either side has no guid (a
 * guid-less client) — the same short name. A same-named snapshot with a different guid is not the
 * same snapshot (a name collision) and does not count.
 */
export function holdsPoint(snapshots: readonly SnapshotRef[], p: ProtectionPoint): boolean {
  for (const s of snapshots) {
    if (p.guid !== null && s.guid === p.guid) return true;
    if ((p.guid === null || s.guid === null) && s.name === p.name) return true;
  }
  return false;
}

/** Every (system, pool) among the views that holds the point. */
export function placesHolding(views: readonly HostDatasetView[], p: ProtectionPoint | null): ProtectionPlace[] {
  if (p === null) return [];
  return views.filter((v) => v.present && holdsPoint(v.snapshots, p)).map((v) => ({ systemId: v.systemId, pool: v.pool }));
}

/** Why a protection policy is refused, or null. */
export function checkProtectionPolicy(p: ProtectionPolicy | null): string | null {
  if (p === null) return null;
  if (p.min_sites > p.min_copies) return `protection: min_sites (${p.min_sites}) cannot exceed min_copies (${p.min_copies}): each site needs a copy`;
  return null;
}
