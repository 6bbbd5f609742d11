/**
 * The sync engine's public API: pure functions from inventories and group policies to link
 * verdicts, links, transfer commands and conflicts. Named exports only, so helpers used between
 * these files do not leak into `@zfs-sync/domain`.
 */
export type * from './types.js';
export { orderSnapshots, compareSnapshotRefs } from './order.js';
export {
  checkSnapshotPattern,
  compileSnapshotPattern,
  MAX_SNAPSHOT_PATTERN_LENGTH,
  eligibilityRules,
  isEligible,
  checkDatasetGlob,
  datasetGlobMatches,
  datasetSelected,
  type EligibilityRules,
} from './eligibility.js';
export { DEFAULT_MAX_LAG_SECONDS, SYNC_GROUP_DEFAULTS, defaultSyncPolicy, checkSyncPolicy } from './policy.js';
export {
  computeLinkVerdict,
  prepareHostView,
  verdictForPrepared,
  PreparedHostView,
  VERDICT_LIST_LIMIT,
  type LinkVerdictInput,
} from './link-verdict.js';
export { planGroupLinks, pickMemberView, memberViews, type PlannedLink, type PlanGroupLinksInput } from './topology.js';
export { planIdentity, samePlan, sameSnapshot, describePlanChange, type PlanIdentity, type PlanKind, type PlanSnapshot, type PlanFieldsForIdentity } from './plan-identity.js';
export { checkPlanAgainstInventories, type PlanCheck, type CheckablePlan } from './plan-check.js';
export {
  PlanError,
  isPlausibleResumeToken,
  sshCommandPrefix,
  buildSshCommand,
  buildSendArgs,
  buildReceiveArgs,
  buildTransferCommand,
  buildTransferPlan,
  isDestructiveStrategy,
  wouldDestroy,
  buildRemedyPlan,
  type DatasetRef,
  type TransferSpec,
  type TransferPlan,
  type PlanContext,
  type RemedyStrategy,
  type RemedyPlan,
  type RemedyInput,
  type RemedyFields,
  type PlanCommandFields,
  type PlanStep,
  type CommandStage,
  planSteps,
  planCommands,
  stepCommandLine,
  transferPipeline,
} from './commands.js';
export {
  conflictFromVerdict,
  remedyStrategiesFor,
  type ConflictType,
  type ConflictSeverity,
  type ConflictDetails,
  type ConflictDraft,
} from './conflicts.js';
export {
  decideLinkFeedback,
  failureBackoffSeconds,
  nextAttemptAfterFailure,
  syncStatusOf,
  ERROR_AFTER_FAILURES,
  ARRIVAL_GRACE_SECONDS,
  DEFAULT_BACKOFF,
  type BackoffPolicy,
  type DecideInput,
  type LiveInstruction,
  type DisplayedVerdict,
  type FeedbackDecision,
  type InstructionAction,
  type InstructionStatus,
} from './feedback.js';
export {
  assessProtection,
  checkProtectionPolicy,
  holdsPoint,
  placesHolding,
  type ProtectionPlace,
  PROTECTION_DAY_SECONDS,
  type ProtectionAssessment,
  type ProtectionPoint,
  type ProtectionPolicy,
  type AssessProtectionInput,
} from './protection.js';
