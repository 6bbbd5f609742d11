import type pg from 'pg';
import type { RemedyPlan } from '@zfs-sync/domain';
import { withTransaction } from '../transaction.js';

/**
 * Issue an operator-confirmed remedy for a conflict: the link's live plan (if any) is superseded
 * and the one-off remedy plan takes its place, in one transaction, recorded on the conflict.
 */
export async function issueRemedy(pool: pg.Pool, conflict: { id: string; group_id: string; dataset: string }, plan: RemedyPlan, resolution: Record<string, unknown>): Promise<string> {
  return withTransaction(pool, async (client) => {
    await client.query('select pg_advisory_xact_lock(hashtext($1))', [`links:${conflict.group_id}:${conflict.dataset}`]);
    await client.query(
      `update sync_instructions set status = 'superseded', updated_at = now(), finished_at = now()
        where group_id = $1 and dataset = $2 and source_system_id = $3 and target_system_id = $4
          and status in ('pending', 'offered', 'started', 'succeeded', 'failed')`,
      [conflict.group_id, conflict.dataset, plan.sourceSystemId, plan.targetSystemId],
    );
    const { rows } = await client.query<{ id: string }>(
      `insert into sync_instructions (group_id, dataset, source_system_id, target_system_id, executor_system_id, kind, strategy, plan, ending_guid, status)
       values ($1, $2, $3, $4, $5, 'remedy', $6, $7, $8, 'pending') returning id`,
      [conflict.group_id, conflict.dataset, plan.sourceSystemId, plan.targetSystemId, plan.executorSystemId, plan.strategy, JSON.stringify(plan), plan.endingGuid],
    );
    const instructionId = rows[0]!.id;
    await client.query('update sync_links set instruction_id = $5, updated_at = now() where group_id = $1 and dataset = $2 and source_system_id = $3 and target_system_id = $4', [
      conflict.group_id,
      conflict.dataset,
      plan.sourceSystemId,
      plan.targetSystemId,
      instructionId,
    ]);
    await client.query(`update conflicts set resolution = $2, updated_at = now() where id = $1`, [conflict.id, JSON.stringify({ ...resolution, instruction_id: instructionId })]);
    return instructionId;
  });
}
