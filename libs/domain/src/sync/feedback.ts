import type { LinkVerdict, LinkVerdictKind } from './types.js';

/**
 * The feedback loop between plans handed to hosts and the verdicts computed from inventories.
 * Pure: given the live instruction of a link (if any) and the freshly computed verdict, decide
 * what the link shows and what happens to the instruction.
 */

export type InstructionStatus = 'pending' | 'offered' | 'started' | 'succeeded' | 'failed';

export interface LiveInstruction {
  kind: 'transfer' | 'remedy';
  status: InstructionStatus;
  startingGuid: string | null;
  endingGuid: string | null;
  /** Unix seconds; a started/offered plan is not handed out again before this. */
  leaseExpiresAt: number | null;
  consecutiveFailures: number;
}

/** The verdicts a link shows: the computed ones plus the feedback states. */
export type DisplayedVerdict = LinkVerdictKind | 'syncing' | 'error';

export type InstructionAction =
  /** Nothing to do (and no live instruction). */
  | 'none'
  /** Keep the live instruction as it is. */
  | 'keep'
  /** Issue a new instruction (there is none). */
  | 'create'
  /** The live instruction is obsolete: supersede it, and issue a new one. */
  | 'replace'
  /** The live instruction is obsolete and nothing replaces it. */
  | 'supersede'
  /** The live instruction did its job (the target now holds its end); a new one follows if needed. */
  | 'complete'
  | 'complete_and_create';

export interface FeedbackDecision {
  verdict: DisplayedVerdict;
  action: InstructionAction;
  reason: string;
}

/** Failures in a row after which a link shows `error` (it is still retried, with backoff). */
export const ERROR_AFTER_FAILURES = 3;

const TRANSFERABLE: ReadonlySet<LinkVerdictKind> = new Set(['behind', 'out_of_sync', 'not_seeded']);

export interface DecideInput {
  verdict: LinkVerdict;
  live: LiveInstruction | null;
  /** Whether the target's inventory already holds this guid. */
  targetHas: (guid: string) => boolean;
  /** Unix seconds. */
  now: number;
}

export function decideLinkFeedback({ verdict, live, targetHas, now }: DecideInput): FeedbackDecision {
  const computed = verdict.verdict;
  const wantsTransfer = TRANSFERABLE.has(computed) && verdict.end !== null;
  const planStart = verdict.base?.guid ?? null;
  const planEnd = verdict.end?.guid ?? null;
  const leased = live !== null && live.leaseExpiresAt !== null && live.leaseExpiresAt > now;

  if (live === null) {
    return wantsTransfer ? { verdict: computed, action: 'create', reason: verdict.explanation } : { verdict: computed, action: 'none', reason: verdict.explanation };
  }

  // The host said it worked: the link is syncing until the target's inventory shows the end guid.
  if (live.status === 'succeeded') {
    const arrived = live.endingGuid !== null ? targetHas(live.endingGuid) : computed === 'in_sync';
    if (!arrived) return { verdict: 'syncing', action: 'keep', reason: 'transfer reported succeeded; waiting for the target\'s next inventory to show it' };
    return wantsTransfer ? { verdict: computed, action: 'complete_and_create', reason: verdict.explanation } : { verdict: computed, action: 'complete', reason: verdict.explanation };
  }

  // An operator-chosen remedy stays until the condition it fixes is gone.
  if (live.kind === 'remedy') {
    if (computed === 'diverged' || computed === 'no_common_base') return { verdict: live.status === 'started' && leased ? 'syncing' : computed, action: 'keep', reason: 'a confirmed resolution is waiting to run' };
    return wantsTransfer ? { verdict: computed, action: 'replace', reason: verdict.explanation } : { verdict: computed, action: 'supersede', reason: verdict.explanation };
  }

  // A running transfer is never pulled from under the host (cron runs overlap in the field).
  if (live.status === 'started' && leased) return { verdict: 'syncing', action: 'keep', reason: 'transfer in progress' };

  if (!wantsTransfer) return { verdict: computed, action: 'supersede', reason: verdict.explanation };

  const samePlan = live.startingGuid === planStart && live.endingGuid === planEnd;
  const failing = live.consecutiveFailures >= ERROR_AFTER_FAILURES;
  if (samePlan) {
    return { verdict: failing ? 'error' : computed, action: 'keep', reason: failing ? `the transfer failed ${live.consecutiveFailures} times in a row` : verdict.explanation };
  }
  return { verdict: failing ? 'error' : computed, action: 'replace', reason: verdict.explanation };
}

/** Exponential backoff before a failed plan is offered again: 1 min, 2, 4 … capped at 6 h. */
export function failureBackoffSeconds(consecutiveFailures: number): number {
  return Math.min(60 * 2 ** Math.max(0, consecutiveFailures - 1), 6 * 3600);
}

/** The original API's coarse status of a target from a displayed verdict. */
export function syncStatusOf(verdict: DisplayedVerdict): 'in_sync' | 'out_of_sync' | 'syncing' | 'conflict' | 'error' {
  switch (verdict) {
    case 'in_sync':
      return 'in_sync';
    case 'syncing':
      return 'syncing';
    case 'error':
      return 'error';
    case 'diverged':
    case 'no_common_base':
      return 'conflict';
    default:
      return 'out_of_sync';
  }
}
