import type pg from 'pg';
import { ERROR_AFTER_FAILURES, failureBackoffSeconds } from '@zfs-sync/domain';
import { withTransaction } from '../transaction.js';
import type { InstructionRow } from './link-engine.js';

/** Offerable: pending, or a lease that ran out, or a failure whose backoff is over. */
const OFFERABLE = `(
  (i.status = 'pending' and coalesce(i.next_attempt_at, now()) <= now())
  or (i.status in ('offered', 'started') and i.lease_expires_at <= now())
  or (i.status = 'failed' and coalesce(i.next_attempt_at, now()) <= now()))`;

export class InstructionStateError extends Error {
  override name = 'InstructionStateError';
}

/** Plans handed to executing hosts, and what they report back. */
export class InstructionsRepository {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * The plans `systemId` must run now. When the host itself asks (`lease`), each plan handed out
   * is leased so an overlapping run (cron) does not get it again; an operator's look leases nothing.
   */
  async handOut(systemId: string, opts: { groupId?: string | null; leaseSeconds: number; lease: boolean }): Promise<InstructionRow[]> {
    const params = [systemId, opts.groupId ?? null];
    const select = `select i.id from sync_instructions i join sync_groups g on g.id = i.group_id and g.enabled
                     where i.executor_system_id = $1 and ($2::uuid is null or i.group_id = $2) and ${OFFERABLE}`;
    if (!opts.lease) {
      return (await this.pool.query<InstructionRow>(`select * from sync_instructions where id in (${select}) order by group_id, dataset, target_system_id`, params)).rows;
    }
    const { rows } = await this.pool.query<InstructionRow>(
      `update sync_instructions s
          set status = 'offered', lease_expires_at = now() + make_interval(secs => $3), attempts = attempts + 1, updated_at = now()
        where s.id in (${select} for update of i skip locked)
        returning s.*`,
      [...params, opts.leaseSeconds],
    );
    return rows.sort((a, b) => a.group_id.localeCompare(b.group_id) || a.dataset.localeCompare(b.dataset) || a.target_system_id.localeCompare(b.target_system_id));
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
   * Apply a status report from the executing host and reflect it on the link at once: succeeded →
   * `syncing` until the target's inventory shows the end; repeated failures → `error`.
   */
  async report(id: string, executorId: string, status: 'started' | 'progress' | 'succeeded' | 'failed', opts: { bytes?: string | null; error?: string | null; leaseSeconds: number }): Promise<InstructionRow> {
    return withTransaction(this.pool, async (client) => {
      const current = (await client.query<InstructionRow>('select * from sync_instructions where id = $1 for update', [id])).rows[0];
      if (!current || current.executor_system_id !== executorId) throw new InstructionStateError('not-found');
      const allowed: Record<string, string[]> = {
        started: ['pending', 'offered', 'started', 'failed'],
        progress: ['offered', 'started'],
        succeeded: ['pending', 'offered', 'started'],
        failed: ['pending', 'offered', 'started'],
      };
      if (current.status === status && (status === 'succeeded' || status === 'failed')) return current; // a repeated final report changes nothing
      if (!allowed[status]!.includes(current.status)) {
        throw new InstructionStateError(`instruction is ${current.status}; '${status}' is not accepted now${current.status === 'superseded' || current.status === 'completed' ? ' (fetch new instructions)' : ''}`);
      }
      let updated: InstructionRow;
      if (status === 'started' || status === 'progress') {
        updated = (
          await client.query<InstructionRow>(
            `update sync_instructions set status = 'started', lease_expires_at = now() + make_interval(secs => $2), started_at = coalesce(started_at, now()),
                    bytes_transferred = coalesce($3::numeric, bytes_transferred), updated_at = now() where id = $1 returning *`,
            [id, opts.leaseSeconds, opts.bytes ?? null],
          )
        ).rows[0]!;
      } else if (status === 'succeeded') {
        updated = (
          await client.query<InstructionRow>(
            `update sync_instructions set status = 'succeeded', lease_expires_at = null, finished_at = now(), consecutive_failures = 0, last_error = null,
                    bytes_transferred = coalesce($2::numeric, bytes_transferred), updated_at = now() where id = $1 returning *`,
            [id, opts.bytes ?? null],
          )
        ).rows[0]!;
      } else {
        const failures = current.consecutive_failures + 1;
        updated = (
          await client.query<InstructionRow>(
            `update sync_instructions set status = 'failed', lease_expires_at = null, finished_at = now(), consecutive_failures = $2, last_error = $3,
                    next_attempt_at = now() + make_interval(secs => $4), bytes_transferred = coalesce($5::numeric, bytes_transferred), updated_at = now()
              where id = $1 returning *`,
            [id, failures, opts.error ?? 'failed (no error message)', failureBackoffSeconds(failures), opts.bytes ?? null],
          )
        ).rows[0]!;
      }
      const linkVerdict = status === 'succeeded' ? 'syncing' : status === 'failed' ? (updated.consecutive_failures >= ERROR_AFTER_FAILURES ? 'error' : null) : status === 'started' ? 'syncing' : null;
      if (linkVerdict) {
        const reason = status === 'failed' ? `transfer failed (${updated.consecutive_failures} in a row): ${updated.last_error}` : `transfer ${status}`;
        const { rows } = await client.query<{ verdict: string }>(
          `update sync_links l set verdict = $2, updated_at = now()
             from (select verdict from sync_links where instruction_id = $1 for update) old
            where l.instruction_id = $1 and l.verdict <> $2
            returning old.verdict`,
          [id, linkVerdict],
        );
        if (rows[0]) {
          await client.query(
            `insert into link_transitions (group_id, dataset, source_system_id, target_system_id, from_verdict, to_verdict, reason) values ($1, $2, $3, $4, $5, $6, $7)`,
            [updated.group_id, updated.dataset, updated.source_system_id, updated.target_system_id, rows[0].verdict, linkVerdict, reason.slice(0, 1000)],
          );
        }
      }
      return updated;
    });
  }
}
