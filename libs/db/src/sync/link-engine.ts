import type pg from 'pg';
import {
  PlanError,
  buildRemedyPlan,
  buildTransferPlan,
  conflictFromVerdict,
  datasetSelected,
  decideLinkFeedback,
  isDestructiveStrategy,
  memberViews,
  nextAttemptAfterFailure,
  planGroupLinks,
  planIdentity,
  remedyStrategiesFor,
  syncStatusOf,
  wouldDestroy,
  type BackoffPolicy,
  type ConflictType,
  type DisplayedVerdict,
  type HostDatasetView,
  type InstructionStatus,
  type LiveInstruction,
  type MemberConnection,
  type PlanSnapshot,
  type PlannedLink,
  type RemedyPlan,
  type RemedyStrategy,
  type SyncGroupPolicy,
  type TransferPlan,
} from '@zfs-sync/domain';
import { policyOf, type SyncGroupsRepository } from '../repositories/sync-groups.repository.js';
import { withTransaction } from '../transaction.js';
import type { ResolutionRecord } from './conflicts.repository.js';
import { loadDatasetViews, type StoredDatasetView } from './dataset-views.js';
import { lockGroupDataset, storeProtection } from './protection.repository.js';
import { appendEvents, type NewEvent } from '../events/outbox.js';

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
  lease_kind: 'offer' | 'run' | null;
  lease_expires_at: Date | null;
  next_attempt_at: Date | null;
  attempts: number;
  consecutive_failures: number;
  bytes_transferred: string | null;
  last_error: string | null;
  offered_at: Date | null;
  started_at: Date | null;
  finished_at: Date | null;
  reported_at: Date | null;
  processed_at: Date | null;
  source_dataset_id: string | null;
  source_version: string | null;
  target_dataset_id: string | null;
  target_version: string | null;
  created_at: Date;
  updated_at: Date;
}

interface LinkRow {
  source_system_id: string;
  target_system_id: string;
  verdict: DisplayedVerdict;
  lag_seconds: string | null;
}

interface ConflictRow {
  id: string;
  source_system_id: string;
  target_system_id: string;
  type: ConflictType;
  status: 'open' | 'ignored';
}

type ResolutionRow = Pick<ResolutionRecord, 'id' | 'conflict_id' | 'strategy' | 'confirmed' | 'note' | 'requested_by' | 'would_destroy' | 'requested_at'>;

export interface RecomputeResult {
  links: number;
  transitions: number;
  instructionsCreated: number;
  conflictsOpened: number;
  conflictsClosed: number;
  resolutionsApplied: number;
}

export const emptyRecomputeResult = (): RecomputeResult => ({ links: 0, transitions: 0, instructionsCreated: 0, conflictsOpened: 0, conflictsClosed: 0, resolutionsApplied: 0 });

export function addRecomputeResults(a: RecomputeResult, b: RecomputeResult): RecomputeResult {
  return {
    links: a.links + b.links,
    transitions: a.transitions + b.transitions,
    instructionsCreated: a.instructionsCreated + b.instructionsCreated,
    conflictsOpened: a.conflictsOpened + b.conflictsOpened,
    conflictsClosed: a.conflictsClosed + b.conflictsClosed,
    resolutionsApplied: a.resolutionsApplied + b.resolutionsApplied,
  };
}

const pairKey = (source: string, target: string) => `${source}>${target}`;
const epoch = (d: Date | null) => (d ? Math.floor(d.getTime() / 1000) : null);

/** The feedback engine's view of a stored instruction. */
export function liveInstructionOf(row: InstructionRow): LiveInstruction {
  return {
    identity: planIdentity({ ...row.plan, strategy: row.kind === 'remedy' ? (row.strategy ?? 'remedy') : null }),
    status: row.status as InstructionStatus,
    leaseExpiresAt: epoch(row.lease_expires_at),
    startedAt: epoch(row.started_at),
    finishedAt: epoch(row.finished_at),
    consecutiveFailures: row.consecutive_failures,
    nextAttemptAt: epoch(row.next_attempt_at),
    lastError: row.last_error,
    bytesTransferred: row.bytes_transferred,
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
}

export async function loadGroupContext(groups: SyncGroupsRepository, groupId: string): Promise<GroupContext | null> {
  const group = await groups.get(groupId);
  if (!group) return null;
  return { policy: policyOf(group), members: await groups.members(groupId) };
}

/** Whether `view` holds the snapshot: by guid when both sides know it, else by name. */
function holder(view: HostDatasetView | undefined): (s: PlanSnapshot) => boolean {
  if (!view) return () => false;
  const guids = new Set<string>();
  const namesWithoutGuid = new Set<string>();
  const names = new Set<string>();
  for (const r of view.snapshots) {
    names.add(r.name);
    if (r.guid === null) namesWithoutGuid.add(r.name);
    else guids.add(r.guid);
  }
  return (s) => (s.guid !== null ? guids.has(s.guid) || namesWithoutGuid.has(s.name) : names.has(s.name));
}

/**
 * The lock under which a (group, dataset)'s link state changes: held by every recompute, and by a
 * host's status report on one of its plans.
 */
export async function lockLinkState(client: pg.PoolClient, groupId: string, dataset: string): Promise<void> {
  await client.query('select pg_advisory_xact_lock(hashtext($1))', [`links:${groupId}:${dataset}`]);
}

export interface RecomputeOptions {
  /** Backoff after failed transfers. */
  backoff: BackoffPolicy;
  now?: Date;
  /**
   * Flapping protection (issue 10): at most one link event per link and direction (the same
   * from → to, or the lag crossing its maximum) within this many seconds. 0 (default): every change.
   */
  flapWindowSeconds?: number;
}

/**
 * Recompute every link of one group for one dataset path and store the outcome: link rows with
 * their displayed verdict, the plan each executing host will be handed, conflicts opened,
 * updated or closed, operator resolutions carried out, and a transition row for every verdict
 * change. This is the only writer of that state (issue 7): the API records what hosts and
 * operators say, this turns it into link state. Serialised per (group, dataset) with an advisory
 * lock, so concurrent recomputes (many worker replicas) cannot interleave; idempotent, so a
 * retried job converges on the same state.
 */
export async function recomputeGroupDataset(pool: pg.Pool, ctx: GroupContext, groupId: string, path: string, opts: RecomputeOptions): Promise<RecomputeResult> {
  const now = opts.now ?? new Date();
  const nowS = Math.floor(now.getTime() / 1000);
  const memberIds = ctx.members.map((m) => m.systemId);
  return withTransaction(pool, async (client) => {
    await lockGroupDataset(client, groupId, path);
    // Read the inventories only once the lock is held: a recompute that read them earlier could
    // otherwise commit a verdict older than the one a concurrent recompute already stored.
    const views = await loadDatasetViews(client, memberIds, path);
    const run = new DatasetRecompute(client, ctx, groupId, path, views, nowS, opts.backoff, opts.flapWindowSeconds ?? 0);
    const result = await run.execute();
    await storeProtection(client, ctx, groupId, path, views, nowS);
    return result;
  });
}

/** One recompute of one (group, dataset), inside its transaction. */
class DatasetRecompute {
  private readonly result = emptyRecomputeResult();
  private readonly picked: Map<string, StoredDatasetView>;
  private readonly planned: PlannedLink[];
  private oldLinks = new Map<string, LinkRow>();
  private liveByPair = new Map<string, InstructionRow>();
  private conflictsByPair = new Map<string, ConflictRow[]>();
  /** The open conflict of each link after this recompute (null: none). */
  private readonly conflictIds = new Map<string, string | null>();
  /** Events of this recompute, appended to the outbox in its transaction (issue 10). */
  private readonly events: NewEvent[] = [];

  constructor(
    private readonly client: pg.PoolClient,
    private readonly ctx: GroupContext,
    private readonly groupId: string,
    private readonly path: string,
    views: StoredDatasetView[],
    private readonly nowS: number,
    private readonly backoff: BackoffPolicy,
    private readonly flapWindowSeconds: number,
  ) {
    this.picked = memberViews(views, ctx.members.map((m) => m.systemId), ctx.policy.targetPools) as Map<string, StoredDatasetView>;
    this.planned = planGroupLinks({ policy: ctx.policy, members: ctx.members, datasetViews: new Map([[path, views]]), now: nowS });
  }

  async execute(): Promise<RecomputeResult> {
    await this.loadState();
    await this.applyResolutions();
    const targetStatus = new Map<string, DisplayedVerdict>();
    for (const link of this.planned) targetStatus.set(link.targetSystemId, await this.recomputeLink(link));
    await this.dropVanishedLinks();
    await this.writeSyncStates(targetStatus);
    await appendEvents(this.client, await this.named(this.events));
    return this.result;
  }

  /** Events read by people too: add the group's and the hosts' names (one query, only when there are events). */
  private async named(events: NewEvent[]): Promise<NewEvent[]> {
    if (events.length === 0) return events;
    const { rows } = await this.q<{ kind: string; id: string; name: string }>(
      `select 'group' as kind, id::text, name from sync_groups where id = $1
       union all select 'system', id::text, hostname from systems where id = any($2::uuid[])`,
      [this.groupId, this.ctx.members.map((m) => m.systemId)],
    );
    const group = rows.find((r) => r.kind === 'group')?.name ?? null;
    const host = new Map(rows.filter((r) => r.kind === 'system').map((r) => [r.id, r.name]));
    return events.map((e) => {
      const d = e.data as { source_system_id?: string; target_system_id?: string };
      return { ...e, data: { ...e.data, group_name: group, source_hostname: host.get(d.source_system_id ?? '') ?? null, target_hostname: host.get(d.target_system_id ?? '') ?? null } };
    });
  }

  private q<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[]) {
    return this.client.query<T>(sql, params);
  }

  private async loadState(): Promise<void> {
    const { groupId, path } = this;
    // One connection runs one query at a time: these go in sequence. The live instructions are
    // read without row locks: a host's status report takes this recompute's advisory lock
    // instead (so it waits, then sees the outcome), and a hand-out — which skips locked rows —
    // is never made to miss a plan just because a recompute happens to be running.
    const links = await this.q<LinkRow>('select source_system_id, target_system_id, verdict, lag_seconds::text as lag_seconds from sync_links where group_id = $1 and dataset = $2', [groupId, path]);
    const live = await this.q<InstructionRow>(`select * from sync_instructions where group_id = $1 and dataset = $2 and status = any($3::text[])`, [groupId, path, LIVE_STATUSES]);
    const conflicts = await this.q<ConflictRow>(`select id, source_system_id, target_system_id, type, status from conflicts where group_id = $1 and dataset = $2 and status <> 'resolved'`, [groupId, path]);
    this.oldLinks = new Map(links.rows.map((r) => [pairKey(r.source_system_id, r.target_system_id), r]));
    this.liveByPair = new Map(live.rows.map((r) => [pairKey(r.source_system_id, r.target_system_id), r]));
    for (const c of conflicts.rows) {
      const k = pairKey(c.source_system_id, c.target_system_id);
      this.conflictsByPair.set(k, [...(this.conflictsByPair.get(k) ?? []), c]);
    }
  }

  // ---- operator resolutions --------------------------------------------------------------

  /** Carry out the resolutions operators confirmed for this dataset's conflicts, oldest first. */
  private async applyResolutions(): Promise<void> {
    const { rows } = await this.q<ResolutionRow>(
      `select id, conflict_id, strategy, confirmed, note, requested_by, would_destroy, requested_at from conflict_resolutions
        where group_id = $1 and dataset = $2 and status = 'pending' order by requested_at, id for update`,
      [this.groupId, this.path],
    );
    for (const r of rows) {
      const outcome = await this.applyResolution(r);
      await this.q(`update conflict_resolutions set status = $2, outcome = $3, instruction_id = $4, processed_at = now() where id = $1`, [r.id, outcome.status, outcome.detail, outcome.instructionId ?? null]);
      if (outcome.status === 'applied') this.result.resolutionsApplied++;
    }
  }

  private async applyResolution(r: ResolutionRow): Promise<{ status: 'applied' | 'refused'; detail: string; instructionId?: string }> {
    const conflict = (await this.q<ConflictRow>('select id, source_system_id, target_system_id, type, status from conflicts where id = $1 for update', [r.conflict_id])).rows[0];
    const record = { strategy: r.strategy, by: r.requested_by, at: r.requested_at.toISOString(), resolution_id: r.id, ...(r.note ? { note: r.note } : {}) };
    if (!conflict || (conflict.status as string) === 'resolved') return { status: 'refused', detail: 'the conflict was resolved in the meantime' };
    if (r.strategy === 'ignore' || r.strategy === 'manual') {
      await this.q(`update conflicts set status = $2, resolution = $3, updated_at = now() where id = $1`, [conflict.id, r.strategy === 'ignore' ? 'ignored' : conflict.status, JSON.stringify(record)]);
      const open = this.conflictsByPair.get(pairKey(conflict.source_system_id, conflict.target_system_id)) ?? [];
      for (const c of open) if (c.id === conflict.id && r.strategy === 'ignore') c.status = 'ignored';
      if (r.strategy === 'ignore') {
        this.events.push({
          type: 'conflict.resolved',
          data: { conflict_id: conflict.id, group_id: this.groupId, dataset: this.path, type: conflict.type, source_system_id: conflict.source_system_id, target_system_id: conflict.target_system_id, status: 'ignored', automatic: false, by: r.requested_by, reason: 'ignored by the operator' },
        });
      }
      return { status: 'applied', detail: r.strategy === 'ignore' ? 'the conflict is ignored' : 'noted: the operator resolves it by hand' };
    }
    const strategy = r.strategy as RemedyStrategy;
    if (!remedyStrategiesFor(conflict.type).includes(strategy)) return { status: 'refused', detail: `${strategy} does not apply to a ${conflict.type} conflict` };
    const key = pairKey(conflict.source_system_id, conflict.target_system_id);
    const link = this.planned.find((l) => pairKey(l.sourceSystemId, l.targetSystemId) === key);
    const targetView = this.picked.get(conflict.target_system_id);
    if (!link || !targetView || !['diverged', 'no_common_base'].includes(link.verdict.verdict)) {
      return { status: 'refused', detail: 'the condition behind this conflict has changed since the resolution was confirmed' };
    }
    let plan: RemedyPlan;
    try {
      const casualties = wouldDestroy(targetView, link.verdict, strategy);
      const unconfirmed = casualties.filter((name) => !r.would_destroy.includes(name));
      if (isDestructiveStrategy(strategy) && unconfirmed.length > 0) {
        return { status: 'refused', detail: `the target changed since the confirmation: ${strategy} would now also destroy ${unconfirmed.map((n) => `@${n}`).join(', ')}; confirm again` };
      }
      plan = buildRemedyPlan({ link, targetView, strategy, policy: this.ctx.policy, members: this.ctx.members, renameSuffix: r.requested_at.toISOString().replace(/[^0-9]/g, '').slice(0, 14) });
    } catch (err) {
      if (err instanceof PlanError) return { status: 'refused', detail: `no safe plan for ${strategy}: ${err.message}` };
      throw err;
    }
    const live = this.liveByPair.get(key);
    if (live) await this.setInstructionStatus(live.id, 'superseded');
    const row = await this.insertInstruction(link, 'remedy', plan, { strategy });
    this.liveByPair.set(key, row);
    await this.q(`update conflicts set resolution = $2, updated_at = now() where id = $1`, [
      conflict.id,
      JSON.stringify({ ...record, confirmed: r.confirmed, would_destroy: plan.wouldDestroy, instruction_id: row.id }),
    ]);
    return { status: 'applied', detail: `remedy plan ${row.id} issued to system ${plan.executorSystemId}`, instructionId: row.id };
  }

  // ---- links -------------------------------------------------------------------------------

  private async recomputeLink(link: PlannedLink): Promise<DisplayedVerdict> {
    const key = pairKey(link.sourceSystemId, link.targetSystemId);
    let live = this.liveByPair.get(key) ?? null;
    this.liveByPair.delete(key);
    if (live) live = await this.settleBackoff(live);

    let wanted: TransferPlan | null = null;
    let planProblem: string | null = null;
    try {
      wanted = buildTransferPlan(link, { policy: this.ctx.policy, members: this.ctx.members });
    } catch (err) {
      if (!(err instanceof PlanError)) throw err;
      planProblem = `no safe command can be built: ${err.message}`;
    }
    const target = this.picked.get(link.targetSystemId);
    const decision = decideLinkFeedback({
      verdict: link.verdict,
      wanted: wanted ? planIdentity(wanted) : null,
      live: live ? liveInstructionOf(live) : null,
      targetHolds: holder(target),
      targetReportedAt: target ? epoch(target.reportedAt) : null,
      now: this.nowS,
    });
    let verdict: DisplayedVerdict = decision.verdict;
    let explanation = decision.explanation;
    let current: InstructionRow | null = live;

    if (live && (decision.action === 'complete' || decision.action === 'complete_and_create')) {
      await this.setInstructionStatus(live.id, 'completed');
      current = null;
    } else if (live && (decision.action === 'supersede' || decision.action === 'replace')) {
      await this.setInstructionStatus(live.id, 'superseded');
      current = null;
    } else if (live) {
      await this.markProcessed(live);
    }
    if (decision.action === 'create' || decision.action === 'replace' || decision.action === 'complete_and_create') {
      if (wanted) {
        // A replacement inherits the link's failure streak and backoff: the link is what fails.
        const carry = decision.action === 'replace' ? live : null;
        current = await this.insertInstruction(link, 'transfer', wanted, { carry });
      } else if (planProblem) {
        verdict = 'error';
        explanation = planProblem;
      }
    }

    await this.syncConflicts(link, key);
    await this.upsertLink(link, verdict, explanation, current);
    const old = this.oldLinks.get(key);
    await this.transition(link.sourceSystemId, link.targetSystemId, old?.verdict ?? null, verdict, explanation, link.verdict.lagSeconds);
    await this.lagCrossing(link, old?.lag_seconds == null ? null : Number(old.lag_seconds), explanation);
    this.oldLinks.delete(key);
    return verdict;
  }

  /** The API records a failure and leaves the retry time empty; the engine decides it, once. */
  private async settleBackoff(live: InstructionRow): Promise<InstructionRow> {
    const next = nextAttemptAfterFailure(liveInstructionOf(live), this.nowS, this.backoff);
    if (next === null) return live;
    const { rows } = await this.q<InstructionRow>(`update sync_instructions set next_attempt_at = to_timestamp($2), updated_at = now() where id = $1 returning *`, [live.id, next]);
    return rows[0]!;
  }

  private async markProcessed(live: InstructionRow): Promise<void> {
    if (live.reported_at && (!live.processed_at || live.processed_at < live.reported_at)) {
      await this.q('update sync_instructions set processed_at = now() where id = $1', [live.id]);
    }
  }

  private setInstructionStatus(id: string, status: 'completed' | 'superseded') {
    return this.q(`update sync_instructions set status = $2, lease_kind = null, lease_expires_at = null, processed_at = now(), updated_at = now(), finished_at = coalesce(finished_at, now()) where id = $1`, [id, status]);
  }

  private async insertInstruction(link: PlannedLink, kind: 'transfer' | 'remedy', plan: TransferPlan | RemedyPlan, opts: { strategy?: string; carry?: InstructionRow | null }): Promise<InstructionRow> {
    const source = this.picked.get(link.sourceSystemId);
    const target = this.picked.get(link.targetSystemId);
    const carry = opts.carry ?? null;
    const { rows } = await this.q<InstructionRow>(
      `insert into sync_instructions (group_id, dataset, source_system_id, target_system_id, executor_system_id, kind, strategy, plan, ending_guid, status,
                                      consecutive_failures, last_error, next_attempt_at, source_dataset_id, source_version, target_dataset_id, target_version)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, $11, case when $12::timestamptz > now() then $12::timestamptz end, $13, $14, $15, $16) returning *`,
      [
        this.groupId,
        this.path,
        link.sourceSystemId,
        link.targetSystemId,
        plan.executorSystemId,
        kind,
        opts.strategy ?? null,
        JSON.stringify(plan),
        plan.endingGuid,
        carry?.consecutive_failures ?? 0,
        carry?.last_error ?? null,
        carry?.next_attempt_at ?? null,
        source?.datasetId ?? null,
        source?.contentVersion ?? null,
        target && target.pool === link.targetPool ? target.datasetId : null,
        target && target.pool === link.targetPool ? target.contentVersion : null,
      ],
    );
    this.result.instructionsCreated++;
    return rows[0]!;
  }

  /** Conflicts: open exactly while the condition holds; an ignored one stays ignored. */
  private async syncConflicts(link: PlannedLink, key: string): Promise<void> {
    const draft = conflictFromVerdict(link.verdict);
    const existing = this.conflictsByPair.get(key) ?? [];
    this.conflictsByPair.delete(key);
    if (!draft) {
      await this.closeConflicts(existing, 'the condition is gone: the next inventories agree');
      this.conflictIds.set(key, null);
      return;
    }
    const same = existing.find((c) => c.type === draft.type);
    await this.closeConflicts(existing.filter((c) => c !== same), `superseded by a ${draft.type} conflict`);
    const details = JSON.stringify({ ...draft.details, explanation: draft.explanation });
    if (same) {
      await this.q('update conflicts set details = $2, severity = $3, updated_at = now() where id = $1', [same.id, details, draft.severity]);
      this.conflictIds.set(key, same.id);
      return;
    }
    const { rows } = await this.q<{ id: string }>(
      `insert into conflicts (group_id, dataset, type, severity, source_system_id, target_system_id, details, status) values ($1, $2, $3, $4, $5, $6, $7, 'open') returning id`,
      [this.groupId, this.path, draft.type, draft.severity, link.sourceSystemId, link.targetSystemId, details],
    );
    this.conflictIds.set(key, rows[0]!.id);
    this.result.conflictsOpened++;
    this.events.push({
      type: 'conflict.opened',
      data: { conflict_id: rows[0]!.id, group_id: this.groupId, dataset: this.path, type: draft.type, severity: draft.severity, source_system_id: link.sourceSystemId, target_system_id: link.targetSystemId, explanation: draft.explanation },
    });
  }

  private async closeConflicts(rows: ConflictRow[], why: string): Promise<void> {
    if (rows.length === 0) return;
    this.result.conflictsClosed += rows.length;
    for (const c of rows) {
      this.events.push({
        type: 'conflict.resolved',
        data: { conflict_id: c.id, group_id: this.groupId, dataset: this.path, type: c.type, source_system_id: c.source_system_id, target_system_id: c.target_system_id, status: 'resolved', automatic: true, reason: why },
      });
    }
    await this.q(
      `update conflicts set status = 'resolved', resolved_at = now(), updated_at = now(),
              resolution = coalesce(resolution, '{}'::jsonb) || jsonb_build_object('closed_automatically', true, 'reason', $2::text)
        where id = any($1::uuid[])`,
      [rows.map((r) => r.id), why],
    );
  }

  private async upsertLink(link: PlannedLink, verdict: DisplayedVerdict, explanation: string, instruction: InstructionRow | null): Promise<void> {
    const d = linkDetails(link);
    const key = pairKey(link.sourceSystemId, link.targetSystemId);
    await this.q(
      `insert into sync_links (group_id, dataset, source_system_id, target_system_id, verdict, computed_verdict, lag_seconds, base, source_only_count, target_only_count,
                               name_collision, matched_by, explanation, details, instruction_id, conflict_id, consecutive_failures, last_error, next_attempt_at, updated_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, now())
       on conflict (group_id, dataset, source_system_id, target_system_id) do update set
         verdict = excluded.verdict, computed_verdict = excluded.computed_verdict, lag_seconds = excluded.lag_seconds, base = excluded.base,
         source_only_count = excluded.source_only_count, target_only_count = excluded.target_only_count, name_collision = excluded.name_collision,
         matched_by = excluded.matched_by, explanation = excluded.explanation, details = excluded.details, instruction_id = excluded.instruction_id,
         conflict_id = excluded.conflict_id, consecutive_failures = excluded.consecutive_failures, last_error = excluded.last_error,
         next_attempt_at = excluded.next_attempt_at, updated_at = now()`,
      [
        this.groupId,
        this.path,
        link.sourceSystemId,
        link.targetSystemId,
        verdict,
        d.computed_verdict,
        d.lag_seconds,
        d.base && JSON.stringify(d.base),
        d.source_only_count,
        d.target_only_count,
        d.name_collision,
        d.matched_by,
        explanation.slice(0, 4000),
        JSON.stringify(d.details),
        instruction?.id ?? null,
        this.conflictIds.get(key) ?? null,
        instruction?.consecutive_failures ?? 0,
        instruction && instruction.consecutive_failures > 0 ? instruction.last_error : null,
        instruction?.next_attempt_at ?? null,
      ],
    );
    this.result.links++;
  }

  private async transition(source: string, target: string, from: string | null, to: string | null, reason: string, lagSeconds: number | null): Promise<void> {
    if (from === to) return;
    this.result.transitions++;
    await this.q(
      'insert into link_transitions (group_id, dataset, source_system_id, target_system_id, from_verdict, to_verdict, reason) values ($1, $2, $3, $4, $5, $6, $7)',
      [this.groupId, this.path, source, target, from, to, reason.slice(0, 1000)],
    );
    if (await this.outsideFlapWindow(source, target, `${from ?? 'none'}>${to ?? 'none'}`)) {
      this.events.push({
        type: 'link.state_changed',
        data: { group_id: this.groupId, dataset: this.path, source_system_id: source, target_system_id: target, from, to, lag_seconds: lagSeconds, explanation: reason.slice(0, 1000) },
      });
    }
  }

  /** link.lag_exceeded when the lag goes from within its maximum (or unknown) to beyond it. */
  private async lagCrossing(link: PlannedLink, oldLag: number | null, explanation: string): Promise<void> {
    const lag = link.verdict.lagSeconds;
    const max = this.ctx.policy.maxLagSeconds;
    if (lag === null || lag <= max || (oldLag !== null && oldLag > max)) return;
    if (!(await this.outsideFlapWindow(link.sourceSystemId, link.targetSystemId, 'lag_exceeded'))) return;
    this.events.push({
      type: 'link.lag_exceeded',
      data: { group_id: this.groupId, dataset: this.path, source_system_id: link.sourceSystemId, target_system_id: link.targetSystemId, lag_seconds: lag, max_lag_seconds: max, previous_lag_seconds: oldLag, explanation: explanation.slice(0, 1000) },
    });
  }

  /**
   * Flapping protection: true (and the mark moved to now) unless this link emitted the same
   * direction within the window. Runs under the (group, dataset) lock like the rest.
   */
  private async outsideFlapWindow(source: string, target: string, direction: string): Promise<boolean> {
    if (this.flapWindowSeconds <= 0) return true;
    const { rowCount } = await this.q(
      `insert into link_event_marks (group_id, dataset, source_system_id, target_system_id, direction, emitted_at) values ($1, $2, $3, $4, $5, now())
       on conflict (group_id, dataset, source_system_id, target_system_id, direction) do update set emitted_at = now()
        where link_event_marks.emitted_at <= now() - make_interval(secs => $6)`,
      [this.groupId, this.path, source, target, direction, this.flapWindowSeconds],
    );
    return (rowCount ?? 0) > 0;
  }

  /** Links that no longer exist (in sync in a mesh, member left, dataset excluded, group disabled). */
  private async dropVanishedLinks(): Promise<void> {
    for (const old of this.oldLinks.values()) {
      await this.q('delete from sync_links where group_id = $1 and dataset = $2 and source_system_id = $3 and target_system_id = $4', [this.groupId, this.path, old.source_system_id, old.target_system_id]);
      await this.transition(old.source_system_id, old.target_system_id, old.verdict, null, 'link no longer needed', null);
    }
    // A remedy that already runs is left to finish; anything else without a link is obsolete.
    for (const live of this.liveByPair.values()) if (live.kind === 'transfer' || live.status !== 'started') await this.setInstructionStatus(live.id, 'superseded');
    for (const rows of this.conflictsByPair.values()) await this.closeConflicts(rows, 'the link no longer exists');
  }

  /**
   * Original-compatible per-system states, computed side (none for a dataset the group does not
   * replicate: disabled group or excluded by its dataset globs).
   */
  private async writeSyncStates(targetStatus: Map<string, DisplayedVerdict>): Promise<void> {
    const replicated = this.ctx.policy.enabled && datasetSelected(this.path, this.ctx.policy.datasets);
    const present = replicated ? [...new Set([...this.picked.keys()])] : [];
    await this.q(
      `insert into sync_states (group_id, dataset, system_id, status, error_message, source, updated_at)
       select $1, $2, t.system_id, t.status, null, 'computed', now() from unnest($3::uuid[], $4::text[]) as t(system_id, status)
       on conflict (group_id, dataset, system_id) do update set status = excluded.status, error_message = null, source = 'computed', updated_at = now()
         where sync_states.status is distinct from excluded.status or sync_states.source <> 'computed'`,
      [this.groupId, this.path, present, present.map((id) => syncStatusOf(targetStatus.get(id) ?? 'in_sync'))],
    );
    await this.q(`delete from sync_states where group_id = $1 and dataset = $2 and source = 'computed' and not (system_id = any($3::uuid[]))`, [this.groupId, this.path, present]);
  }
}
