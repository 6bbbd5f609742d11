import type pg from 'pg';
import { checkPlanAgainstInventories, pickMemberView } from '@zfs-sync/domain';
import { withTransaction } from '../transaction.js';
import { appendEvents } from '../events/outbox.js';
import { loadDatasetViews } from './dataset-views.js';
import { lockLinkState, type InstructionRow } from './link-engine.js';

/**
 * Offerable: pending (after any backoff it inherited), an offer or run lease that ran out, or a
 * failure whose backoff the engine has set and which is over. A failure the engine has not
 * looked at yet (next_attempt_at still null) is not offerable.
 */
const OFFERABLE = `(
  (i.status = 'pending' and (i.next_attempt_at is null or i.next_attempt_at <= now()))
  or (i.status in ('offered', 'started') and i.lease_expires_at <= now())
  or (i.status = 'failed' and i.next_attempt_at <= now()))`;

/**
 * Whether the inventories a plan was made from are still the latest applied ones: the source's
 * dataset at the same content version, and the target's too — or, for a target that did not
 * have the dataset, still no such dataset.
 */
const FRESHNESS = `
  (exists (select 1 from datasets sd where sd.id = i.source_dataset_id and sd.gone_at is null and sd.content_version = i.source_version)) as source_fresh,
  (case when i.target_dataset_id is null
        then not exists (select 1 from datasets td where td.system_id = i.target_system_id and td.pool = i.plan->>'targetPool' and td.path = i.dataset and td.gone_at is null)
        else exists (select 1 from datasets td where td.id = i.target_dataset_id and td.gone_at is null and td.content_version = i.target_version) end) as target_fresh`;

export class InstructionStateError extends Error {
  override name = 'InstructionStateError';
}

export type ReportedStatus = 'started' | 'progress' | 'succeeded' | 'failed';

/** A plan that was due but is not handed out, and why. */
export interface WithheldInstruction {
  instruction: InstructionRow;
  reason: string;
}

export interface HandOut {
  handed: InstructionRow[];
  /** Plans the latest inventories no longer allow; the caller asks for a recompute. */
  withheld: WithheldInstruction[];
}

const byLink = (a: InstructionRow, b: InstructionRow) => a.group_id.localeCompare(b.group_id) || a.dataset.localeCompare(b.dataset) || a.target_system_id.localeCompare(b.target_system_id);

/** Plans handed to executing hosts, and what the hosts report back. */
export class InstructionsRepository {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * The plans `systemId` must run now, each checked against the latest applied inventories (a
   * plan the recompute has not caught up with yet is withheld, never handed out wrong). When the
   * host itself asks (`lease`), each plan handed out gets the short offer lease, so an
   * overlapping run (cron) does not get it too; an operator's look leases nothing.
   */
  async handOut(systemId: string, opts: { groupId?: string | null; offerSeconds: number; lease: boolean }): Promise<HandOut> {
    return withTransaction(this.pool, async (client) => {
      const { rows } = await client.query<InstructionRow & { source_fresh: boolean; target_fresh: boolean }>(
        `select i.*, ${FRESHNESS}
           from sync_instructions i join sync_groups g on g.id = i.group_id and g.enabled
          where i.executor_system_id = $1 and ($2::uuid is null or i.group_id = $2) and ${OFFERABLE}
          ${opts.lease ? 'for update of i skip locked' : ''}`,
        [systemId, opts.groupId ?? null],
      );
      const ok: InstructionRow[] = [];
      const withheld: WithheldInstruction[] = [];
      for (const row of rows) {
        const { source_fresh, target_fresh, ...instruction } = row;
        if (source_fresh && target_fresh) ok.push(instruction);
        else {
          const reason = await this.recheck(client, instruction);
          if (reason === null) ok.push(instruction);
          else withheld.push({ instruction, reason });
        }
      }
      if (!opts.lease || ok.length === 0) return { handed: ok.sort(byLink), withheld };
      const leased = await client.query<InstructionRow>(
        `update sync_instructions set status = 'offered', lease_kind = 'offer', lease_expires_at = now() + make_interval(secs => $2), offered_at = now(),
                attempts = attempts + 1, updated_at = now()
          where id = any($1::uuid[]) returning *`,
        [ok.map((r) => r.id), opts.offerSeconds],
      );
      return { handed: leased.rows.sort(byLink), withheld };
    });
  }

  /**
   * A plan made from older inventories: still runnable as it is? A remedy is never handed out on
   * changed inventories: what it would destroy must be re-checked against what the operator
   * confirmed, which is the engine's job. Returns why not, or null.
   */
  private async recheck(client: pg.PoolClient, row: InstructionRow): Promise<string | null> {
    if (row.kind === 'remedy') return 'the inventories changed since this resolution was confirmed; it is re-checked before it runs';
    const views = await loadDatasetViews(client, [row.source_system_id, row.target_system_id], row.dataset);
    const source = pickMemberView(views.filter((v) => v.systemId === row.source_system_id && v.pool === row.plan.pool), row.plan.pool) ?? null;
    const target = pickMemberView(views.filter((v) => v.systemId === row.target_system_id && v.pool === row.plan.targetPool), row.plan.targetPool) ?? null;
    const check = checkPlanAgainstInventories(row.plan, source, target);
    return check.ok ? null : check.reason;
  }

  /** Live plans where `systemId` is the target (what it will receive). */
  async incoming(systemId: string, groupId?: string | null): Promise<InstructionRow[]> {
    const { rows } = await this.pool.query<InstructionRow>(
      `select * from sync_instructions where target_system_id = $1 and ($2::uuid is null or group_id = $2)
          and status in ('pending', 'offered', 'started', 'succeeded', 'failed') order by group_id, dataset`,
      [systemId, groupId ?? null],
    );
    return rows;
  }

  async get(id: string): Promise<InstructionRow | null> {
    return (await this.pool.query<InstructionRow>('select * from sync_instructions where id = $1', [id])).rows[0] ?? null;
  }

  /**
   * Record a status report from the executing host: the instruction's reported state, the run
   * lease (`started` takes it, `progress` renews it) and a row in `instruction_reports`. What the
   * report means for the link — syncing, back to its computed verdict, backoff, error — is the
   * recompute processor's decision: `needsRecompute` says whether to ask it. A failure leaves the
   * retry time empty, so the plan is not handed out again before the engine has set it.
   */
  async recordReport(id: string, executorId: string, status: ReportedStatus, opts: { bytes?: string | null; error?: string | null; runLeaseSeconds: number }): Promise<{ instruction: InstructionRow; needsRecompute: boolean }> {
    return withTransaction(this.pool, async (client) => {
      const located = (await client.query<{ group_id: string; dataset: string }>('select group_id, dataset from sync_instructions where id = $1', [id])).rows[0];
      if (!located) throw new InstructionStateError('not-found');
      // Wait for a recompute of this link that is running now, and then see what it decided.
      await lockLinkState(client, located.group_id, located.dataset);
      const current = (await client.query<InstructionRow>('select * from sync_instructions where id = $1 for update', [id])).rows[0];
      if (!current || current.executor_system_id !== executorId) throw new InstructionStateError('not-found');
      const allowed: Record<ReportedStatus, string[]> = {
        started: ['pending', 'offered', 'started', 'failed'],
        progress: ['offered', 'started'],
        succeeded: ['pending', 'offered', 'started'],
        failed: ['pending', 'offered', 'started'],
      };
      // A repeated final report changes nothing (a retried request after a lost answer).
      if (current.status === status && (status === 'succeeded' || status === 'failed')) return { instruction: current, needsRecompute: false };
      if (!allowed[status].includes(current.status)) {
        const hint = current.status === 'superseded' || current.status === 'completed' ? ' (this plan is no longer current: fetch new instructions)' : '';
        throw new InstructionStateError(`instruction is ${current.status}; '${status}' is not accepted now${hint}`);
      }
      const bytes = opts.bytes ?? null;
      let updated: InstructionRow;
      if (status === 'started' || status === 'progress') {
        updated = (
          await client.query<InstructionRow>(
            `update sync_instructions set status = 'started', lease_kind = 'run', lease_expires_at = now() + make_interval(secs => $2),
                    started_at = case when status = 'started' then started_at else now() end,
                    bytes_transferred = coalesce($3::numeric, bytes_transferred), finished_at = null,
                    reported_at = case when status = 'started' then reported_at else now() end, updated_at = now()
              where id = $1 returning *`,
            [id, opts.runLeaseSeconds, bytes],
          )
        ).rows[0]!;
      } else if (status === 'succeeded') {
        updated = (
          await client.query<InstructionRow>(
            `update sync_instructions set status = 'succeeded', lease_kind = null, lease_expires_at = null, finished_at = now(), consecutive_failures = 0, last_error = null,
                    bytes_transferred = coalesce($2::numeric, bytes_transferred), reported_at = now(), updated_at = now()
              where id = $1 returning *`,
            [id, bytes],
          )
        ).rows[0]!;
      } else {
        updated = (
          await client.query<InstructionRow>(
            `update sync_instructions set status = 'failed', lease_kind = null, lease_expires_at = null, finished_at = now(), consecutive_failures = consecutive_failures + 1,
                    last_error = $2, next_attempt_at = null, bytes_transferred = coalesce($3::numeric, bytes_transferred), reported_at = now(), updated_at = now()
              where id = $1 returning *`,
            [id, (opts.error ?? 'failed (no error message)').slice(0, 4000), bytes],
          )
        ).rows[0]!;
      }
      await client.query('insert into instruction_reports (instruction_id, status, bytes_transferred, error) values ($1, $2, $3, $4)', [id, status, bytes, status === 'failed' ? (opts.error ?? null) : null]);
      // sync.started / succeeded / failed (issue 10), with the report, when the state changed.
      if (current.status !== updated.status && (updated.status === 'started' || updated.status === 'succeeded' || updated.status === 'failed')) {
        await appendEvents(client, [
          {
            type: `sync.${updated.status}`,
            data: {
              instruction_id: updated.id,
              group_id: updated.group_id,
              dataset: updated.dataset,
              source_system_id: updated.source_system_id,
              target_system_id: updated.target_system_id,
              executor_system_id: updated.executor_system_id,
              kind: updated.kind,
              ...(updated.strategy ? { strategy: updated.strategy } : {}),
              ...(updated.status !== 'started' ? { bytes_transferred: updated.bytes_transferred === null ? null : String(updated.bytes_transferred) } : {}),
              ...(updated.status === 'failed' ? { error: updated.last_error, consecutive_failures: updated.consecutive_failures } : {}),
            },
          },
        ]);
      }
      // Only a change of state matters to the link; progress only renews the lease.
      return { instruction: updated, needsRecompute: current.status !== updated.status };
    });
  }

  /** The host's reports on one instruction, oldest first (plan history). */
  async reports(id: string): Promise<Array<{ status: ReportedStatus; bytes_transferred: string | null; error: string | null; reported_at: Date }>> {
    const { rows } = await this.pool.query('select status, bytes_transferred::text, error, reported_at from instruction_reports where instruction_id = $1 order by id limit 1000', [id]);
    return rows;
  }

  /**
   * (group, dataset) pairs the engine has to look at because time passed: a host report it has
   * not processed yet (its job was lost), or a run lease that ran out while the link shows
   * `syncing`. The sync sweep enqueues a recompute for each.
   */
  async dueForRecompute(graceSeconds: number, limit = 1000): Promise<Array<{ group_id: string; dataset: string; reason: string }>> {
    const { rows } = await this.pool.query<{ group_id: string; dataset: string; reason: string }>(
      `select distinct on (group_id, dataset) group_id, dataset, reason from (
         select i.group_id, i.dataset, 'a host report not processed yet' as reason
           from sync_instructions i
          where i.status in ('started', 'succeeded', 'failed') and i.reported_at < now() - make_interval(secs => $1)
            and (i.processed_at is null or i.processed_at < i.reported_at)
         union all
         select i.group_id, i.dataset, 'a started transfer reported nothing for its whole lease'
           from sync_instructions i join sync_links l on l.instruction_id = i.id
          where i.status = 'started' and i.lease_expires_at <= now() and l.verdict = 'syncing'
       ) due
       order by group_id, dataset
       limit $2`,
      [graceSeconds, limit],
    );
    return rows;
  }
}
