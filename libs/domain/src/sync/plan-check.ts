/**
 * Is a stored plan still runnable against the inventories as they are now? (issue 7)
 *
 * A plan is made from the inventories of one moment; it is handed out later. Between the two a
 * host may report again (the recompute that would replace the plan can still be queued), so the
 * hand-out checks the plan against the latest applied inventories with the same rules ZFS
 * applies on receive: a full stream only into a dataset that does not exist, an incremental only
 * onto a target whose newest snapshot is the base, a resume only with the token the target holds.
 */
import { orderSnapshots } from './order.js';
import { sameSnapshot, type PlanSnapshot } from './plan-identity.js';
import type { TransferPlan } from './commands.js';
import type { HostDatasetView, SnapshotRef } from './types.js';

export type PlanCheck = { ok: true } | { ok: false; reason: string };

export type CheckablePlan = Pick<
  TransferPlan,
  'kind' | 'pool' | 'dataset' | 'targetPool' | 'startingSnapshot' | 'startingGuid' | 'startingKind' | 'initialSnapshot' | 'initialGuid' | 'resumeToken'
> & { endingSnapshot: string | null; endingGuid: string | null };

const asPlanSnapshot = (r: SnapshotRef): PlanSnapshot => ({ name: r.name, guid: r.guid });
const holds = (refs: readonly SnapshotRef[], s: PlanSnapshot) => refs.some((r) => sameSnapshot(asPlanSnapshot(r), s));

/**
 * Check `plan` against the source's and the target's current view of the dataset (null or
 * `present: false` when the host does not have it).
 */
export function checkPlanAgainstInventories(plan: CheckablePlan, source: HostDatasetView | null, target: HostDatasetView | null): PlanCheck {
  const targetName = `${plan.targetPool}/${plan.dataset}`.replace(/\/$/, '');
  const sourceName = `${plan.pool}/${plan.dataset}`.replace(/\/$/, '');
  if (!source?.present) return { ok: false, reason: `the source no longer has ${sourceName}` };
  const end = plan.endingSnapshot ? { name: plan.endingSnapshot, guid: plan.endingGuid } : null;
  if (end && !holds(source.snapshots, end)) return { ok: false, reason: `the source no longer has ${sourceName}@${end.name}` };
  const initial = plan.initialSnapshot ? { name: plan.initialSnapshot, guid: plan.initialGuid } : null;
  if (initial && !holds(source.snapshots, initial)) return { ok: false, reason: `the source no longer has ${sourceName}@${initial.name}` };
  const targetPresent = target?.present === true;

  switch (plan.kind) {
    case 'full':
      if (targetPresent) return { ok: false, reason: `the target now has ${targetName}: a full stream would be refused (destination exists)` };
      return { ok: true };
    case 'resume':
      if (!targetPresent || target!.receiveResumeToken !== plan.resumeToken) return { ok: false, reason: `the target no longer holds this receive_resume_token for ${targetName}` };
      return { ok: true };
    case 'incremental': {
      if (!targetPresent) return { ok: false, reason: `the target no longer has ${targetName}` };
      const base = { name: plan.startingSnapshot ?? '', guid: plan.startingGuid };
      const onSource = plan.startingKind === 'bookmark' ? holds(source.bookmarks, base) : holds(source.snapshots, base);
      if (!onSource) return { ok: false, reason: `the source no longer has the base ${plan.startingKind === 'bookmark' ? '#' : '@'}${base.name}` };
      const ordered = orderSnapshots(target!.snapshots, target!.bookmarks);
      const newest = ordered[ordered.length - 1];
      if (!newest) return { ok: false, reason: `the target's ${targetName} has no snapshot left to receive onto` };
      // A renamed base keeps its guid; without guids only the name can say it.
      const baseOnTarget = base.guid !== null && newest.guid !== null ? newest.guid === base.guid : newest.name === base.name;
      if (!baseOnTarget) return { ok: false, reason: `the target's newest snapshot is now @${newest.name}, not the base @${base.name}` };
      return { ok: true };
    }
  }
}
