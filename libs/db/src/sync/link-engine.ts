import type pg from 'pg';
import {
  PlanError,
  buildTransferPlan,
  conflictFromVerdict,
  datasetSelected,
  decideLinkFeedback,
  planGroupLinks,
  syncStatusOf,
  type DisplayedVerdict,
  type HostDatasetView,
  type InstructionStatus,
  type LiveInstruction,
  type MemberConnection,
  type PlannedLink,
  type SyncGroupPolicy,
  type TransferPlan,
} from '@zfs-sync/domain';
import { policyOf, type SyncGroupsRepository } from '../repositories/sync-groups.repository.js';
import { withTransaction } from '../transaction.js';
import { loadDatasetViews } from './dataset-views.js';
import { lockGroupDataset, storeProtection } from './protection.repository.js';

export const LIVE_STATUSES = ['pending', 'offered', 'started', 'succeeded', 'failed'] as const;

export interface InstructionRow {
  id: string;
  group_id: string;
  dataset: string;
  source_system_id: string;
  target_system_id: string;
  executor_system_id: string;
  kind: 'transfer' | 'remedy';
  strategy: string | null;
  plan: TransferPlan & { wouldDestroy?: string[]; strategy?: string };
  ending_guid: string | null;
  status: InstructionStatus | 'completed' | 'superseded';
  lease_expires_at: Date | null;
  next_attempt_at: Date | null;
  attempts: number;
  consecutive_failures: number;
  bytes_transferred: string | null;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
}

interface LinkRow {
  source_system_id: string;
  target_system_id: string;
  verdict: DisplayedVerdict;
}

interface ConflictRow {
  id: string;
  source_system_id: string;
  target_system_id: string;
  type: string;
  status: 'open' | 'ignored';
}

export interface RecomputeResult {
  links: number;
  transitions: number;
  instructionsCreated: number;
  conflictsOpened: number;
  conflictsClosed: number;
}

const pairKey = (source: string, target: string) => `${source}>${target}`;
const epoch = (d: Date | null) => (d ? Math.floor(d.getTime() / 1000) : null);

function toLive(row: InstructionRow): LiveInstruction {
  return {
    kind: row.kind,
    status: row.status as InstructionStatus,
    startingGuid: row.plan.startingGuid ?? null,
    endingGuid: row.ending_guid,
    leaseExpiresAt: epoch(row.lease_expires_at),
    consecutiveFailures: row.consecutive_failures,
  };
}

/** What a link row stores besides its verdict: the computed facts, for the links endpoint. */
function linkDetails(link: PlannedLink) {
  const v = link.verdict;
  return {
    computed_verdict: v.verdict,
    lag_seconds: v.lagSeconds,
    base: v.base ? { name: v.base.name, guid: v.base.guid, kind: v.base.kind, target_name: v.base.targetName } : null,
    source_only_count: v.sourceOnly.count,
    target_only_count: v.targetOnly.count,
    name_collision: v.nameCollisions.length > 0,
    matched_by: v.matchedBy,
    details: {
      source_pool: link.sourcePool,
      target_pool: link.targetPool,
      target_present: link.targetPresent,
      end: v.end,
      snapshot_count: v.snapshotCount,
      source_only: v.sourceOnly,
      target_only: v.targetOnly,
      name_collisions: v.nameCollisions,
    },
  };
}

export interface GroupContext {
  policy: SyncGroupPolicy;
  members: MemberConnection[];
  targetPools: Record<string, string>;
}

export async function loadGroupContext(groups: SyncGroupsRepository, groupId: string): Promise<GroupContext | null> {
  const group = await groups.get(groupId);
  if (!group) return null;
  return { policy: policyOf(group), members: await groups.members(groupId), targetPools: group.target_pools };
}

/**
 * Recompute every link of one group for one dataset path and store the outcome: link rows with
 * their displayed verdict, the plan each executing host will be handed, conflicts opened,
 * updated or closed, and a transition row for every verdict change. Serialised per (group,
 * dataset) with an advisory lock, so concurrent recomputes (many worker replicas) cannot
 * interleave; idempotent, so a retried job converges on the same state.
 */
export async function recomputeGroupDataset(pool: pg.Pool, ctx: GroupContext, groupId: string, path: string, now: Date = new Date()): Promise<RecomputeResult> {
  const result: RecomputeResult = { links: 0, transitions: 0, instructionsCreated: 0, conflictsOpened: 0, conflictsClosed: 0 };
  const nowS = Math.floor(now.getTime() / 1000);
  const memberIds = ctx.members.map((m) => m.systemId);

  return withTransaction(pool, async (client) => {
    await lockGroupDataset(client, groupId, path);
    // Read the inventories only once the lock is held: a recompute that read them earlier could
    // otherwise commit a verdict older than the one a concurrent recompute already stored.
    const views: HostDatasetView[] = await loadDatasetViews(client, memberIds, path, ctx.targetPools);
    const planned = planGroupLinks({ policy: ctx.policy, members: ctx.members, datasetViews: new Map([[path, views]]), now: nowS });
    const viewOf = new Map(views.map((v) => [v.systemId, v]));
    // One connection runs one query at a time: these three go in sequence.
    const linksQ = await client.query<LinkRow>('select source_system_id, target_system_id, verdict from sync_links where group_id = $1 and dataset = $2', [groupId, path]);
    const liveQ = await client.query<InstructionRow>(`select * from sync_instructions where group_id = $1 and dataset = $2 and status = any($3::text[])`, [groupId, path, LIVE_STATUSES]);
    const conflictsQ = await client.query<ConflictRow>(`select id, source_system_id, target_system_id, type, status from conflicts where group_id = $1 and dataset = $2 and status <> 'resolved'`, [groupId, path]);
    const oldLinks = new Map(linksQ.rows.map((r) => [pairKey(r.source_system_id, r.target_system_id), r]));
    const liveByPair = new Map(liveQ.rows.map((r) => [pairKey(r.source_system_id, r.target_system_id), r]));
    const conflictsByPair = new Map<string, ConflictRow[]>();
    for (const c of conflictsQ.rows) {
      const k = pairKey(c.source_system_id, c.target_system_id);
      conflictsByPair.set(k, [...(conflictsByPair.get(k) ?? []), c]);
    }

    const transition = async (source: string, target: string, from: string | null, to: string | null, reason: string) => {
      if (from === to) return;
      result.transitions++;
      await client.query(
        'insert into link_transitions (group_id, dataset, source_system_id, target_system_id, from_verdict, to_verdict, reason) values ($1, $2, $3, $4, $5, $6, $7)',
        [groupId, path, source, target, from, to, reason.slice(0, 1000)],
      );
    };
    const closeConflicts = async (rows: ConflictRow[], why: string) => {
      if (rows.length === 0) return;
      result.conflictsClosed += rows.length;
      await client.query(
        `update conflicts set status = 'resolved', resolved_at = now(), updated_at = now(),
                resolution = coalesce(resolution, '{}'::jsonb) || jsonb_build_object('closed_automatically', true, 'reason', $2::text)
          where id = any($1::uuid[])`,
        [rows.map((r) => r.id), why],
      );
    };
    const setInstructionStatus = (id: string, status: 'completed' | 'superseded') =>
      client.query(`update sync_instructions set status = $2, updated_at = now(), finished_at = coalesce(finished_at, now()) where id = $1`, [id, status]);

    const targetStatus = new Map<string, DisplayedVerdict>();
    for (const link of planned) {
      const key = pairKey(link.sourceSystemId, link.targetSystemId);
      const live = liveByPair.get(key) ?? null;
      liveByPair.delete(key);
      const targetGuids = new Set((viewOf.get(link.targetSystemId)?.snapshots ?? []).map((s) => s.guid));
      const decision = decideLinkFeedback({ verdict: link.verdict, live: live ? toLive(live) : null, targetHas: (g) => targetGuids.has(g), now: nowS });
      let verdict: DisplayedVerdict = decision.verdict;
      let explanation = link.verdict.explanation;
      let instructionId: string | null = live?.id ?? null;

      if (live && ['complete', 'complete_and_create'].includes(decision.action)) {
        await setInstructionStatus(live.id, 'completed');
        instructionId = null;
      } else if (live && ['supersede', 'replace'].includes(decision.action)) {
        await setInstructionStatus(live.id, 'superseded');
        instructionId = null;
      }
      if (['create', 'replace', 'complete_and_create'].includes(decision.action)) {
        try {
          const plan = buildTransferPlan(link, { policy: ctx.policy, members: ctx.members });
          if (plan) {
            const { rows } = await client.query<{ id: string }>(
              `insert into sync_instructions (group_id, dataset, source_system_id, target_system_id, executor_system_id, kind, plan, ending_guid, status, consecutive_failures, next_attempt_at)
               values ($1, $2, $3, $4, $5, 'transfer', $6, $7, 'pending', $8, $9) returning id`,
              [groupId, path, link.sourceSystemId, link.targetSystemId, plan.executorSystemId, JSON.stringify(plan), plan.endingGuid, decision.action === 'replace' ? (live?.consecutive_failures ?? 0) : 0, decision.action === 'replace' ? (live?.next_attempt_at ?? null) : null],
            );
            instructionId = rows[0]!.id;
            result.instructionsCreated++;
          }
        } catch (err) {
          if (!(err instanceof PlanError)) throw err;
          verdict = 'error';
          explanation = `no safe command can be built: ${err.message}`;
        }
      }

      // Conflicts: exactly while the condition holds; an ignored one stays ignored.
      const draft = conflictFromVerdict(link.verdict);
      const existing = conflictsByPair.get(key) ?? [];
      conflictsByPair.delete(key);
      let conflictId: string | null = null;
      if (draft) {
        const same = existing.find((c) => c.type === draft.type);
        await closeConflicts(existing.filter((c) => c !== same), `superseded by a ${draft.type} conflict`);
        if (same) {
          conflictId = same.id;
          await client.query('update conflicts set details = $2, severity = $3, updated_at = now() where id = $1', [same.id, JSON.stringify({ ...draft.details, explanation: draft.explanation }), draft.severity]);
        } else {
          const { rows } = await client.query<{ id: string }>(
            `insert into conflicts (group_id, dataset, type, severity, source_system_id, target_system_id, details, status)
             values ($1, $2, $3, $4, $5, $6, $7, 'open') returning id`,
            [groupId, path, draft.type, draft.severity, link.sourceSystemId, link.targetSystemId, JSON.stringify({ ...draft.details, explanation: draft.explanation })],
          );
          conflictId = rows[0]!.id;
          result.conflictsOpened++;
        }
      } else {
        await closeConflicts(existing, 'the condition is gone: the next inventories agree');
      }

      const d = linkDetails(link);
      await client.query(
        `insert into sync_links (group_id, dataset, source_system_id, target_system_id, verdict, computed_verdict, lag_seconds, base, source_only_count, target_only_count,
                                 name_collision, matched_by, explanation, details, instruction_id, conflict_id, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, now())
         on conflict (group_id, dataset, source_system_id, target_system_id) do update set
           verdict = excluded.verdict, computed_verdict = excluded.computed_verdict, lag_seconds = excluded.lag_seconds, base = excluded.base,
           source_only_count = excluded.source_only_count, target_only_count = excluded.target_only_count, name_collision = excluded.name_collision,
           matched_by = excluded.matched_by, explanation = excluded.explanation, details = excluded.details, instruction_id = excluded.instruction_id,
           conflict_id = excluded.conflict_id, updated_at = now()`,
        [groupId, path, link.sourceSystemId, link.targetSystemId, verdict, d.computed_verdict, d.lag_seconds, d.base && JSON.stringify(d.base), d.source_only_count, d.target_only_count, d.name_collision, d.matched_by, explanation, JSON.stringify(d.details), instructionId, conflictId],
      );
      result.links++;
      await transition(link.sourceSystemId, link.targetSystemId, oldLinks.get(key)?.verdict ?? null, verdict, decision.action === 'keep' ? decision.reason : explanation);
      oldLinks.delete(key);
      targetStatus.set(link.targetSystemId, verdict);
    }

    // Links that no longer exist (in sync in a mesh, member left, dataset excluded, group disabled).
    for (const [key, old] of oldLinks) {
      await client.query('delete from sync_links where group_id = $1 and dataset = $2 and source_system_id = $3 and target_system_id = $4', [groupId, path, old.source_system_id, old.target_system_id]);
      await transition(old.source_system_id, old.target_system_id, old.verdict, null, 'link no longer needed');
      void key;
    }
    for (const live of liveByPair.values()) if (live.kind === 'transfer' || live.status !== 'started') await setInstructionStatus(live.id, 'superseded');
    for (const rows of conflictsByPair.values()) await closeConflicts(rows, 'the link no longer exists');

    // Original-compatible per-system states, computed side (none for a dataset the group does
    // not replicate: disabled group or excluded by its dataset globs).
    const replicated = ctx.policy.enabled && datasetSelected(path, ctx.policy.datasets);
    const present = replicated ? views.map((v) => v.systemId) : [];
    await client.query(
      `insert into sync_states (group_id, dataset, system_id, status, error_message, source, updated_at)
       select $1, $2, t.system_id, t.status, null, 'computed', now() from unnest($3::uuid[], $4::text[]) as t(system_id, status)
       on conflict (group_id, dataset, system_id) do update set status = excluded.status, error_message = null, source = 'computed', updated_at = now()
         where sync_states.status is distinct from excluded.status or sync_states.source <> 'computed'`,
      [groupId, path, present, present.map((id) => syncStatusOf(targetStatus.get(id) ?? 'in_sync'))],
    );
    await client.query(`delete from sync_states where group_id = $1 and dataset = $2 and source = 'computed' and not (system_id = any($3::uuid[]))`, [groupId, path, present]);
    await storeProtection(client, ctx, groupId, path, views, nowS);
    return result;
  });
}
