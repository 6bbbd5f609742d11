/**
 * Turning a link verdict into a conflict an operator must look at (issue 4, "Conflicts").
 * A conflict exists exactly while its condition does; the caller opens, updates and closes the
 * persisted row by comparing with this function's answer.
 */
import type { RemedyStrategy } from './commands.js';
import type { LinkBase, LinkVerdict } from './types.js';

export type ConflictType = 'diverged' | 'no_common_base' | 'name_collision';

/** critical: replication of the link is blocked; warning: it continues, but names mislead. */
export type ConflictSeverity = 'critical' | 'warning';

/** Persisted `details` (snake_case, as the API shows them). Lists are truncated; counts are not. */
export interface ConflictDetails {
  base: Pick<LinkBase, 'name' | 'guid' | 'kind'> | null;
  source_only: string[];
  target_only: string[];
  source_only_count: number;
  target_only_count: number;
  name_collisions: string[];
}

export interface ConflictDraft {
  type: ConflictType;
  severity: ConflictSeverity;
  details: ConflictDetails;
  explanation: string;
}

function detailsOf(verdict: LinkVerdict): ConflictDetails {
  return {
    base: verdict.base ? { name: verdict.base.name, guid: verdict.base.guid, kind: verdict.base.kind } : null,
    source_only: [...verdict.sourceOnly.items],
    target_only: [...verdict.targetOnly.items],
    source_only_count: verdict.sourceOnly.count,
    target_only_count: verdict.targetOnly.count,
    name_collisions: [...verdict.nameCollisions],
  };
}

/**
 * The conflict a verdict implies, or null. A blocked link (diverged, no common base) outranks a
 * name collision; the collision is still listed in the details.
 */
export function conflictFromVerdict(verdict: LinkVerdict): ConflictDraft | null {
  const base = { details: detailsOf(verdict), explanation: verdict.explanation };
  if (verdict.verdict === 'diverged') return { type: 'diverged', severity: 'critical', ...base };
  if (verdict.verdict === 'no_common_base') return { type: 'no_common_base', severity: 'critical', ...base };
  if (verdict.nameCollisions.length > 0) return { type: 'name_collision', severity: 'warning', ...base };
  return null;
}

/** The plan-producing strategies that make sense for a conflict type (besides ignore and manual). */
export function remedyStrategiesFor(type: ConflictType): RemedyStrategy[] {
  switch (type) {
    case 'diverged':
      return ['rollback_target', 'force_receive', 'rename_target', 'full_resend'];
    case 'no_common_base':
      return ['full_resend', 'rename_target'];
    case 'name_collision':
      return [];
  }
}
