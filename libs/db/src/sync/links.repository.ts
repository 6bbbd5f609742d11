import type pg from 'pg';
import { PlanError, memberViews, planGroupLinks, wouldDestroy, type RemedyStrategy } from '@zfs-sync/domain';
import type { SyncGroupsRepository } from '../repositories/sync-groups.repository.js';
import { loadDatasetViews } from './dataset-views.js';
import { loadGroupContext } from './link-engine.js';

export interface LinkRecord {
  group_id: string;
  dataset: string;
  source_system_id: string;
  target_system_id: string;
  verdict: string;
  computed_verdict: string;
  lag_seconds: string | null;
  base: { name: string; guid: string | null; kind: string; target_name?: string } | null;
  source_only_count: number;
  target_only_count: number;
  name_collision: boolean;
  matched_by: string;
  explanation: string;
  details: Record<string, unknown>;
  instruction_id: string | null;
  conflict_id: string | null;
  consecutive_failures: number;
  last_error: string | null;
  next_attempt_at: Date | null;
  updated_at: Date;
}

/** A link of a system with the state of its live plan, for the instructions diagnostics. */
export interface LinkDiagnosticRow {
  group_id: string;
  dataset: string;
  source_system_id: string;
  target_system_id: string;
  verdict: string;
  explanation: string;
  conflict_id: string | null;
  instruction_id: string | null;
  executor_system_id: string | null;
  instruction_status: string | null;
  lease_kind: string | null;
  lease_expires_at: Date | null;
  next_attempt_at: Date | null;
  last_error: string | null;
}

/** Reads of the links the engine keeps (the API never writes them). */
export class LinksRepository {
  constructor(private readonly pool: pg.Pool) {}

  async ofGroup(groupId: string): Promise<LinkRecord[]> {
    return (await this.pool.query<LinkRecord>('select * from sync_links where group_id = $1 order by dataset, source_system_id, target_system_id', [groupId])).rows;
  }

  /** Every link, or those a system takes part in (as source or target). */
  async ofSystem(systemId: string | null): Promise<LinkRecord[]> {
    const { rows } = await this.pool.query<LinkRecord>(
      `select * from sync_links where ($1::uuid is null or source_system_id = $1 or target_system_id = $1) order by group_id, dataset, source_system_id, target_system_id`,
      [systemId],
    );
    return rows;
  }

  async diagnosticsOf(systemId: string, groupId: string | null): Promise<LinkDiagnosticRow[]> {
    const { rows } = await this.pool.query<LinkDiagnosticRow>(
      `select l.group_id, l.dataset, l.source_system_id, l.target_system_id, l.verdict, l.explanation, l.conflict_id, l.instruction_id,
              i.executor_system_id, i.status as instruction_status, i.lease_kind, i.lease_expires_at, i.next_attempt_at, i.last_error
         from sync_links l left join sync_instructions i on i.id = l.instruction_id
        where (l.source_system_id = $1 or l.target_system_id = $1) and ($2::uuid is null or l.group_id = $2)
        order by l.group_id, l.dataset`,
      [systemId, groupId],
    );
    return rows;
  }
}

export type RemedyPreview = { ok: true; wouldDestroy: string[] } | { ok: false; reason: string };

/**
 * What a resolution would destroy if it ran now: computed by the pure domain code from the
 * current inventories, read-only (the synchronous dry run the API answers with 409). The
 * processor checks the same list again when it carries the confirmed resolution out.
 */
export async function previewRemedy(
  pool: pg.Pool,
  groups: SyncGroupsRepository,
  conflict: { group_id: string; dataset: string; source_system_id: string; target_system_id: string },
  strategy: RemedyStrategy,
): Promise<RemedyPreview> {
  const ctx = await loadGroupContext(groups, conflict.group_id);
  if (!ctx) return { ok: false, reason: "the conflict's sync group no longer exists" };
  const views = await loadDatasetViews(pool, ctx.members.map((m) => m.systemId), conflict.dataset);
  const link = planGroupLinks({ policy: ctx.policy, members: ctx.members, datasetViews: new Map([[conflict.dataset, views]]), now: Math.floor(Date.now() / 1000) }).find(
    (l) => l.sourceSystemId === conflict.source_system_id && l.targetSystemId === conflict.target_system_id,
  );
  const target = memberViews(views, [conflict.target_system_id], ctx.policy.targetPools).get(conflict.target_system_id);
  if (!link || !target || !['diverged', 'no_common_base'].includes(link.verdict.verdict)) {
    return { ok: false, reason: 'the condition behind this conflict has changed; it will close or update with the next recompute' };
  }
  try {
    return { ok: true, wouldDestroy: wouldDestroy(target, link.verdict, strategy) };
  } catch (err) {
    if (err instanceof PlanError) return { ok: false, reason: `no safe plan for ${strategy}: ${err.message}` };
    throw err;
  }
}
