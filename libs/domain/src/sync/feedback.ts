import { formatDuration } from './link-verdict.js';
import { describePlanChange, samePlan, type PlanIdentity, type PlanSnapshot } from './plan-identity.js';
import type { LinkVerdict, LinkVerdictKind } from './types.js';

/**
 * The feedback loop between plans handed to hosts and the verdicts computed from inventories
 * (issue 7). Pure: given the live instruction of a link (what the host was handed and what it
 * reported) and the plan the fresh verdict calls for, decide what the link shows and what
 * happens to the instruction. The recompute processor applies the decision under its lock.
 */

export type InstructionStatus = 'pending' | 'offered' | 'started' | 'succeeded' | 'failed';

export interface LiveInstruction {
  identity: PlanIdentity;
  status: InstructionStatus;
  /** Unix seconds: end of the offer lease (offered) or of the run lease (started). */
  leaseExpiresAt: number | null;
  /** Unix seconds the host reported `started` for this attempt. */
  startedAt: number | null;
  /** Unix seconds the host reported `succeeded` or `failed`. */
  finishedAt: number | null;
  consecutiveFailures: number;
  /** Unix seconds; null right after a failure, until the engine has set the backoff. */
  nextAttemptAt: number | null;
  lastError: string | null;
  /** Bytes the host said it sent, as a decimal string. */
  bytesTransferred: string | null;
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
  /** What the link shows: the verdict's explanation, with the plan's story where there is one. */
  explanation: string;
}

/** Failures in a row after which a link shows `error` (it is still retried, with backoff). */
export const ERROR_AFTER_FAILURES = 3;

/**
 * How long after a reported success the target's inventories may still not show the end before
 * the witness stops believing it (the listing a host sends can predate the transfer by a while).
 */
export const ARRIVAL_GRACE_SECONDS = 300;

const CONFLICTED: ReadonlySet<LinkVerdictKind> = new Set(['diverged', 'no_common_base']);

export interface DecideInput {
  verdict: LinkVerdict;
  /** The plan the verdict calls for now; null when there is nothing to send or an operator must decide. */
  wanted: PlanIdentity | null;
  live: LiveInstruction | null;
  /** Whether the target's current inventory holds this snapshot (by guid when known, else by name). */
  targetHolds: (snapshot: PlanSnapshot) => boolean;
  /** Unix seconds at which the target's current inventory of the dataset was received (null: never). */
  targetReportedAt: number | null;
  /** Unix seconds. */
  now: number;
}

const at = (unix: number | null): string => (unix === null ? 'an unknown time' : new Date(unix * 1000).toISOString());

function failureNote(live: LiveInstruction, now: number): string {
  if (live.consecutiveFailures === 0 || live.lastError === null) return '';
  const next = live.nextAttemptAt !== null && live.nextAttemptAt > now ? `; next attempt in ${formatDuration(live.nextAttemptAt - now)}` : '';
  return `; the last transfer failed (${live.consecutiveFailures} in a row): ${live.lastError}${next}`;
}

export function decideLinkFeedback(input: DecideInput): FeedbackDecision {
  const { verdict, wanted, live, now } = input;
  const computed = verdict.verdict;
  if (live === null) return { verdict: computed, action: wanted ? 'create' : 'none', explanation: verdict.explanation };
  if (live.status === 'succeeded') return afterSuccess(input, live);
  if (live.identity.kind === 'remedy') return remedyFeedback(input, live);

  const leased = live.leaseExpiresAt !== null && live.leaseExpiresAt > now;
  // A running transfer is never pulled from under the host (cron runs overlap in the field).
  if (live.status === 'started' && leased) {
    const bytes = live.bytesTransferred !== null ? ` (${live.bytesTransferred} bytes so far)` : '';
    return { verdict: 'syncing', action: 'keep', explanation: `transfer in progress since ${at(live.startedAt)}${bytes}` };
  }
  // The host said it started and then went silent for longer than the lease: the plan is
  // offerable again (kept if still right), and the link says what happened.
  const silent = live.status === 'started' ? `transfer started at ${at(live.startedAt)} reported nothing since; ` : '';
  if (wanted === null) return { verdict: computed, action: 'supersede', explanation: verdict.explanation };

  const shown: DisplayedVerdict = live.consecutiveFailures >= ERROR_AFTER_FAILURES ? 'error' : computed;
  if (samePlan(live.identity, wanted)) {
    return { verdict: shown, action: 'keep', explanation: `${silent}${verdict.explanation}${failureNote(live, now)}` };
  }
  return { verdict: shown, action: 'replace', explanation: `${silent}${verdict.explanation} (new plan: ${describePlanChange(live.identity, wanted)})${failureNote(live, now)}` };
}

/** The host said it worked: the link is syncing until the target's inventory shows the end. */
function afterSuccess({ verdict, wanted, targetHolds, targetReportedAt }: DecideInput, live: LiveInstruction): FeedbackDecision {
  const computed = verdict.verdict;
  const end = live.identity.end;
  // A remedy that transfers nothing (a rollback only) is done when the conflict is gone.
  const arrived = end !== null ? targetHolds(end) : !CONFLICTED.has(computed);
  if (arrived) return { verdict: computed, action: wanted ? 'complete_and_create' : 'complete', explanation: verdict.explanation };
  const what = end !== null ? `@${end.name}` : 'the resolution';
  if (live.finishedAt !== null && targetReportedAt !== null && targetReportedAt >= live.finishedAt + ARRIVAL_GRACE_SECONDS) {
    return {
      verdict: computed,
      action: wanted ? 'replace' : 'supersede',
      explanation: `the transfer was reported succeeded at ${at(live.finishedAt)}, but the target's inventories since do not show ${what}; ${verdict.explanation}`,
    };
  }
  return { verdict: 'syncing', action: 'keep', explanation: `transfer reported succeeded at ${at(live.finishedAt)}; waiting for the target's next inventory to show ${what}` };
}

/** An operator-chosen remedy stays until the condition it fixes is gone. */
function remedyFeedback({ verdict, wanted, now }: DecideInput, live: LiveInstruction): FeedbackDecision {
  const computed = verdict.verdict;
  if (!CONFLICTED.has(computed)) {
    return { verdict: computed, action: wanted ? 'replace' : 'supersede', explanation: verdict.explanation };
  }
  const strategy = live.identity.strategy ?? 'remedy';
  if (live.status === 'started' && live.leaseExpiresAt !== null && live.leaseExpiresAt > now) {
    return { verdict: 'syncing', action: 'keep', explanation: `the confirmed resolution ${strategy} is running since ${at(live.startedAt)}` };
  }
  const shown: DisplayedVerdict = live.consecutiveFailures >= ERROR_AFTER_FAILURES ? 'error' : computed;
  return { verdict: shown, action: 'keep', explanation: `${verdict.explanation}; the confirmed resolution ${strategy} is waiting to run${failureNote(live, now)}` };
}

export interface BackoffPolicy {
  /** Delay after the first failure, in seconds (doubles with every failure in a row). */
  baseSeconds: number;
  /** The longest delay, in seconds. */
  maxSeconds: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseSeconds: 60, maxSeconds: 6 * 3600 };

/** Exponential backoff before a failed plan is offered again: 1 min, 2, 4 … capped at 6 h (by default). */
export function failureBackoffSeconds(consecutiveFailures: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  return Math.min(policy.baseSeconds * 2 ** Math.max(0, consecutiveFailures - 1), policy.maxSeconds);
}

/**
 * When a failed plan may be offered again: set once per failure by the engine (the API records
 * the failure and leaves this empty, so nothing is handed out before the engine has decided).
 * Returns null when nothing needs setting.
 */
export function nextAttemptAfterFailure(live: LiveInstruction, now: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number | null {
  if (live.status !== 'failed' || live.nextAttemptAt !== null) return null;
  return (live.finishedAt ?? now) + failureBackoffSeconds(live.consecutiveFailures, policy);
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
