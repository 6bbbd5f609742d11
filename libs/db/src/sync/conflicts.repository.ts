import type pg from 'pg';
import { withTransaction } from '../transaction.js';
import { recordAudit, type AuditActor } from '../events/audit.repository.js';

export interface ConflictRecord {
  id: string;
  group_id: string;
  dataset: string;
  type: 'diverged' | 'no_common_base' | 'name_collision';
  severity: string;
  source_system_id: string;
  target_system_id: string;
  details: Record<string, unknown>;
  status: 'open' | 'resolved' | 'ignored';
  detected_at: Date;
  updated_at: Date;
  resolved_at: Date | null;
  resolution: Record<string, unknown> | null;
}

export interface ResolutionRecord {
  id: string;
  conflict_id: string;
  strategy: string;
  confirmed: boolean;
  note: string | null;
  requested_by: string;
  would_destroy: string[];
  status: 'pending' | 'applied' | 'refused';
  outcome: string | null;
  instruction_id: string | null;
  requested_at: Date;
  processed_at: Date | null;
}

/**
 * Conflicts as the engine keeps them, and the resolutions operators ask for. The API reads
 * conflicts and records resolutions; carrying a resolution out is the recompute processor's job.
 */
export class ConflictsRepository {
  constructor(private readonly pool: pg.Pool) {}

  async list(filter: { groupId: string | null; status: string | null }): Promise<ConflictRecord[]> {
    const { rows } = await this.pool.query<ConflictRecord>(
      `select * from conflicts where ($1::uuid is null or group_id = $1) and ($2::text is null or status = $2) order by detected_at desc, id limit 1000`,
      [filter.groupId, filter.status],
    );
    return rows;
  }

  async get(id: string): Promise<ConflictRecord | null> {
    return (await this.pool.query<ConflictRecord>('select * from conflicts where id = $1', [id])).rows[0] ?? null;
  }

  /** Counts by status, type and severity of one group's conflicts. */
  async countsOfGroup(groupId: string): Promise<Array<{ status: string; type: string; severity: string; n: number }>> {
    const { rows } = await this.pool.query<{ status: string; type: string; severity: string; n: number }>(
      'select status, type, severity, count(*)::int as n from conflicts where group_id = $1 group by status, type, severity',
      [groupId],
    );
    return rows;
  }

  /** Record an operator's choice; the processor carries it out under its lock. */
  async recordResolution(
    conflict: Pick<ConflictRecord, 'id' | 'group_id' | 'dataset'>,
    r: { strategy: string; confirmed: boolean; note: string | null; requestedBy: string; wouldDestroy: string[] },
    actor?: AuditActor,
  ): Promise<ResolutionRecord> {
    return withTransaction(this.pool, async (client) => {
      const { rows } = await client.query<ResolutionRecord>(
        `insert into conflict_resolutions (conflict_id, group_id, dataset, strategy, confirmed, note, requested_by, would_destroy)
         values ($1, $2, $3, $4, $5, $6, $7, $8) returning *`,
        [conflict.id, conflict.group_id, conflict.dataset, r.strategy, r.confirmed, r.note, r.requestedBy, JSON.stringify(r.wouldDestroy)],
      );
      if (actor) {
        await recordAudit(client, {
          actor,
          action: 'conflict.resolution_requested',
          resource_type: 'conflict',
          resource_id: conflict.id,
          changes: { resolution_id: rows[0]!.id, strategy: r.strategy, confirmed: r.confirmed, note: r.note, would_destroy: r.wouldDestroy, group_id: conflict.group_id, dataset: conflict.dataset },
        });
      }
      return rows[0]!;
    });
  }

  /** The latest resolutions asked for one conflict, newest first. */
  async resolutionsOf(conflictId: string, limit = 20): Promise<ResolutionRecord[]> {
    const { rows } = await this.pool.query<ResolutionRecord>('select * from conflict_resolutions where conflict_id = $1 order by requested_at desc, id limit $2', [conflictId, limit]);
    return rows;
  }

  /** Resolutions recorded but not processed after `graceSeconds` (their job was lost): the sweep re-drives them. */
  async pendingResolutions(graceSeconds: number, limit = 1000): Promise<Array<{ group_id: string; dataset: string }>> {
    const { rows } = await this.pool.query<{ group_id: string; dataset: string }>(
      `select distinct group_id, dataset from conflict_resolutions where status = 'pending' and requested_at < now() - make_interval(secs => $1) limit $2`,
      [graceSeconds, limit],
    );
    return rows;
  }
}
