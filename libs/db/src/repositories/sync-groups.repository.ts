import type pg from 'pg';
import type { SyncGroupBody } from '@zfs-sync/contracts';
import { SYNC_GROUP_DEFAULTS, type MemberConnection, type SyncGroupPolicy } from '@zfs-sync/domain';
import { withTransaction } from '../transaction.js';
import { diffFields, recordAudit, type AuditActor } from '../events/audit.repository.js';

export interface SyncGroupRow {
  id: string;
  name: string;
  description: string | null;
  enabled: boolean;
  sync_interval_seconds: number;
  directional: boolean;
  hub_system_id: string | null;
  extra_metadata: Record<string, unknown>;
  transfer_mode: 'push' | 'pull';
  snapshot_pattern: string | null;
  min_snapshot_age_seconds: number;
  max_lag_seconds: number;
  datasets: { include: string[]; exclude: string[] };
  target_pools: Record<string, string>;
  send_options: { compressed: boolean; raw: boolean };
  receive_options: { resumable: boolean; unmounted: boolean };
  initial_replication: 'most_recent' | 'all';
  protection: { min_copies: number; min_sites: number } | null;
  system_ids: string[];
  created_at: Date;
  updated_at: Date;
}

/** The wire shape (original fields + policy), dates as ISO strings. */
export function syncGroupToJson(g: SyncGroupRow) {
  return { ...g, system_ids: [...g.system_ids].sort(), created_at: g.created_at.toISOString(), updated_at: g.updated_at.toISOString() };
}

/** A group's fields as an audit entry shows them (timestamps left out). */
function auditedGroup(g: SyncGroupRow): Record<string, unknown> {
  const { id: _id, created_at: _c, updated_at: _u, ...rest } = g;
  return { ...rest, system_ids: [...rest.system_ids].sort() };
}

export function policyOf(g: SyncGroupRow): SyncGroupPolicy {
  return {
    id: g.id,
    enabled: g.enabled,
    directional: g.directional,
    hubSystemId: g.hub_system_id,
    transferMode: g.transfer_mode,
    snapshotPattern: g.snapshot_pattern,
    minSnapshotAgeSeconds: g.min_snapshot_age_seconds,
    maxLagSeconds: g.max_lag_seconds,
    sendOptions: g.send_options,
    receiveOptions: g.receive_options,
    targetPools: g.target_pools,
    datasets: g.datasets,
    initialReplication: g.initial_replication,
  };
}

/** Merge a partial update onto the stored group, or fill a new one from the domain's defaults. */
export function mergeGroup(base: SyncGroupRow | null, body: Partial<SyncGroupBody>): Omit<SyncGroupRow, 'id' | 'created_at' | 'updated_at'> {
  const b = base ?? { ...SYNC_GROUP_DEFAULTS, name: '', description: null, hub_system_id: null, extra_metadata: {}, datasets: { include: [], exclude: [] }, target_pools: {}, system_ids: [], protection: null };
  return {
    name: body.name ?? b.name,
    description: body.description !== undefined ? body.description : b.description,
    enabled: body.enabled ?? b.enabled,
    sync_interval_seconds: body.sync_interval_seconds ?? b.sync_interval_seconds,
    directional: body.directional ?? b.directional,
    hub_system_id: body.hub_system_id !== undefined ? (body.hub_system_id?.toLowerCase() ?? null) : b.hub_system_id,
    extra_metadata: body.extra_metadata ?? b.extra_metadata,
    transfer_mode: body.transfer_mode ?? b.transfer_mode,
    snapshot_pattern: body.snapshot_pattern !== undefined ? body.snapshot_pattern : b.snapshot_pattern,
    min_snapshot_age_seconds: body.min_snapshot_age_seconds ?? b.min_snapshot_age_seconds,
    max_lag_seconds: body.max_lag_seconds ?? b.max_lag_seconds,
    datasets: { include: body.datasets?.include ?? b.datasets.include, exclude: body.datasets?.exclude ?? b.datasets.exclude },
    target_pools: body.target_pools ? Object.fromEntries(Object.entries(body.target_pools).map(([k, v]) => [k.toLowerCase(), v])) : b.target_pools,
    send_options: { compressed: body.send_options?.compressed ?? b.send_options.compressed, raw: body.send_options?.raw ?? b.send_options.raw },
    receive_options: { resumable: body.receive_options?.resumable ?? b.receive_options.resumable, unmounted: body.receive_options?.unmounted ?? b.receive_options.unmounted },
    initial_replication: body.initial_replication ?? b.initial_replication,
    protection: body.protection !== undefined ? (body.protection && { min_copies: body.protection.min_copies, min_sites: body.protection.min_sites ?? 1 }) : b.protection,
    // Duplicates collapse.
    system_ids: body.system_ids ? [...new Set(body.system_ids.map((s) => s.toLowerCase()))] : b.system_ids,
  };
}

const SELECT_GROUP = `
  select g.*, coalesce(array_agg(m.system_id::text order by m.system_id) filter (where m.system_id is not null), '{}') as system_ids
    from sync_groups g left join sync_group_members m on m.group_id = g.id`;

export class DuplicateGroupNameError extends Error {
  override name = 'DuplicateGroupNameError';
}

type Queryable = Pick<pg.Pool, 'query'>;

export class SyncGroupsRepository {
  constructor(private readonly pool: pg.Pool) {}

  async list(): Promise<SyncGroupRow[]> {
    return (await this.pool.query<SyncGroupRow>(`${SELECT_GROUP} group by g.id order by g.name`)).rows;
  }

  async get(id: string, db: Queryable = this.pool): Promise<SyncGroupRow | null> {
    return (await db.query<SyncGroupRow>(`${SELECT_GROUP} where g.id = $1 group by g.id`, [id])).rows[0] ?? null;
  }

  async groupsOfSystem(systemId: string): Promise<SyncGroupRow[]> {
    return (await this.pool.query<SyncGroupRow>(`${SELECT_GROUP} where g.id in (select group_id from sync_group_members where system_id = $1) group by g.id`, [systemId])).rows;
  }

  /** Enabled groups whose verdicts change with time alone (a snapshot becomes old enough to send). */
  async timeDependent(): Promise<string[]> {
    return (await this.pool.query<{ id: string }>('select id from sync_groups where enabled and min_snapshot_age_seconds > 0')).rows.map((r) => r.id);
  }

  /** Which of these ids are registered systems. */
  async existingSystems(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const { rows } = await this.pool.query<{ id: string }>('select id from systems where id = any($1::uuid[])', [ids]);
    return new Set(rows.map((r) => r.id));
  }

  /** Insert or replace a group and its member list in one transaction. */
  async save(id: string | null, g: ReturnType<typeof mergeGroup>, actor?: AuditActor): Promise<SyncGroupRow> {
    try {
      return await withTransaction(this.pool, async (client) => {
        const before = id === null || !actor ? null : await this.get(id, client);
        const values = [g.name, g.description, g.enabled, g.sync_interval_seconds, g.directional, g.hub_system_id, JSON.stringify(g.extra_metadata), g.transfer_mode, g.snapshot_pattern, g.min_snapshot_age_seconds, g.max_lag_seconds, JSON.stringify(g.datasets), JSON.stringify(g.target_pools), JSON.stringify(g.send_options), JSON.stringify(g.receive_options), g.initial_replication, g.protection && JSON.stringify(g.protection)];
        let groupId = id;
        if (groupId === null) {
          const { rows } = await client.query<{ id: string }>(
            `insert into sync_groups (name, description, enabled, sync_interval_seconds, directional, hub_system_id, extra_metadata, transfer_mode, snapshot_pattern, min_snapshot_age_seconds, max_lag_seconds, datasets, target_pools, send_options, receive_options, initial_replication, protection)
             values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17) returning id`,
            values,
          );
          groupId = rows[0]!.id;
        } else {
          await client.query(
            `update sync_groups set name=$1, description=$2, enabled=$3, sync_interval_seconds=$4, directional=$5, hub_system_id=$6, extra_metadata=$7, transfer_mode=$8,
                    snapshot_pattern=$9, min_snapshot_age_seconds=$10, max_lag_seconds=$11, datasets=$12, target_pools=$13, send_options=$14, receive_options=$15,
                    initial_replication=$16, protection=$17, updated_at=now()
              where id = $18`,
            [...values, groupId],
          );
        }
        await client.query('delete from sync_group_members where group_id = $1 and not (system_id = any($2::uuid[]))', [groupId, g.system_ids]);
        await client.query('insert into sync_group_members (group_id, system_id) select $1, unnest($2::uuid[]) on conflict do nothing', [groupId, g.system_ids]);
        // Links of members that left are removed by the group recompute that follows (the
        // processor is the only writer of link state).
        const saved = (await this.get(groupId, client))!;
        if (actor) {
          const after = auditedGroup(saved);
          if (id === null) await recordAudit(client, { actor, action: 'sync_group.created', resource_type: 'sync_group', resource_id: groupId, changes: after });
          else {
            const changes = diffFields(before ? auditedGroup(before) : {}, after);
            if (Object.keys(changes).length) await recordAudit(client, { actor, action: 'sync_group.updated', resource_type: 'sync_group', resource_id: groupId, changes });
          }
        }
        return saved;
      });
    } catch (err) {
      if ((err as { code?: string; constraint?: string }).code === '23505') throw new DuplicateGroupNameError(`a sync group named ${g.name} already exists`);
      throw err;
    }
  }

  async delete(id: string, actor?: AuditActor): Promise<boolean> {
    return withTransaction(this.pool, async (client) => {
      const { rows } = await client.query<{ name: string }>('delete from sync_groups where id = $1 returning name', [id]);
      if (!rows[0]) return false;
      if (actor) await recordAudit(client, { actor, action: 'sync_group.deleted', resource_type: 'sync_group', resource_id: id, changes: { name: rows[0].name } });
      return true;
    });
  }

  async members(groupId: string): Promise<MemberConnection[]> {
    const { rows } = await this.pool.query<{ id: string; ssh_hostname: string | null; ssh_user: string | null; ssh_port: number; hostname: string }>(
      `select s.id, s.ssh_hostname, s.ssh_user, s.ssh_port, s.hostname from sync_group_members m join systems s on s.id = m.system_id where m.group_id = $1 order by s.id`,
      [groupId],
    );
    // Without an ssh_hostname the registered hostname is how other hosts reach it.
    return rows.map((r) => ({ systemId: r.id, sshHostname: r.ssh_hostname ?? r.hostname, sshUser: r.ssh_user, sshPort: r.ssh_port }));
  }
}
