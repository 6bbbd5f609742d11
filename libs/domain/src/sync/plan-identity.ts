/**
 * When is a plan "the same plan"? (issue 7, "Plan identity")
 *
 * A live plan may only be kept when it would do exactly what the current verdict asks for: the
 * same kind of transfer, between the same hosts, into the same target dataset, from the same base
 * to the same end. Snapshots are the same when their guids are equal — or, when either side has
 * no guid (the original shell client reports none), when their full names are. Comparing only
 * guids made two guid-less plans always "equal" (`null === null`) and kept stale plans forever.
 */
import type { TransferPlan } from './commands.js';

export type PlanKind = 'full' | 'incremental' | 'resume' | 'remedy';

/** A snapshot as a plan names it. */
export interface PlanSnapshot {
  name: string;
  guid: string | null;
}

export interface PlanIdentity {
  kind: PlanKind;
  /** The operator's strategy, for remedies. */
  strategy: string | null;
  sourceSystemId: string;
  targetSystemId: string;
  sourcePool: string;
  targetPool: string;
  /** Dataset path relative to the pool (the same on both sides). */
  dataset: string;
  /** null for a full send. */
  base: PlanSnapshot | null;
  /** With initial_replication "all": the oldest snapshot, sent in full before `-I` to the end. */
  initial: PlanSnapshot | null;
  end: PlanSnapshot | null;
  resumeToken: string | null;
}

/** The fields of a stored plan that make up its identity. */
export type PlanFieldsForIdentity = Pick<
  TransferPlan,
  'kind' | 'sourceSystemId' | 'targetSystemId' | 'pool' | 'targetPool' | 'dataset' | 'startingSnapshot' | 'startingGuid' | 'initialSnapshot' | 'initialGuid' | 'resumeToken'
> & { endingSnapshot: string | null; endingGuid: string | null; strategy?: string | null };

const snap = (name: string | null | undefined, guid: string | null | undefined): PlanSnapshot | null => (name ? { name, guid: guid ?? null } : null);

export function planIdentity(plan: PlanFieldsForIdentity): PlanIdentity {
  return {
    kind: plan.strategy ? 'remedy' : plan.kind,
    strategy: plan.strategy ?? null,
    sourceSystemId: plan.sourceSystemId,
    targetSystemId: plan.targetSystemId,
    sourcePool: plan.pool,
    targetPool: plan.targetPool,
    dataset: plan.dataset,
    base: snap(plan.startingSnapshot, plan.startingGuid),
    initial: snap(plan.initialSnapshot ?? null, plan.initialGuid ?? null),
    end: snap(plan.endingSnapshot, plan.endingGuid),
    resumeToken: plan.resumeToken ?? null,
  };
}

/**
 * The same snapshot: equal guids when both are known, else equal names. Both snapshots belong to
 * the same dataset of the same host here (the identity compares hosts, pools and path first), so
 * equal short names are equal full names.
 */
export function sameSnapshot(a: PlanSnapshot | null, b: PlanSnapshot | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.guid !== null && b.guid !== null) return a.guid === b.guid;
  return a.name === b.name;
}

/** Whether two plans would run the same transfer (see the module comment). */
export function samePlan(a: PlanIdentity, b: PlanIdentity): boolean {
  return (
    a.kind === b.kind &&
    a.strategy === b.strategy &&
    a.sourceSystemId === b.sourceSystemId &&
    a.targetSystemId === b.targetSystemId &&
    a.sourcePool === b.sourcePool &&
    a.targetPool === b.targetPool &&
    a.dataset === b.dataset &&
    a.resumeToken === b.resumeToken &&
    sameSnapshot(a.base, b.base) &&
    sameSnapshot(a.initial, b.initial) &&
    sameSnapshot(a.end, b.end)
  );
}

const KIND_WORDS: Record<PlanKind, string> = { full: 'a full send', incremental: 'an incremental send', resume: 'a resumed send', remedy: 'a remedy' };

/** One line naming what differs, for the link's explanation when a plan is replaced. */
export function describePlanChange(live: PlanIdentity, wanted: PlanIdentity): string {
  const at = (s: PlanSnapshot | null) => (s ? `@${s.name}` : 'nothing');
  if (live.kind !== wanted.kind) return `the plan changes from ${KIND_WORDS[live.kind]} to ${KIND_WORDS[wanted.kind]}`;
  if (!sameSnapshot(live.base, wanted.base)) return `the base moved from ${at(live.base)} to ${at(wanted.base)}`;
  if (!sameSnapshot(live.end, wanted.end)) return `the end moved from ${at(live.end)} to ${at(wanted.end)}`;
  if (live.resumeToken !== wanted.resumeToken) return 'the receive resume token changed';
  return 'the plan changed';
}
