import type pg from 'pg';

/*
 * Original-compatible sync states: one row per (group, dataset, system) with status in_sync |
 * out_of_sync | syncing | conflict | error. The recompute processor writes them (source
 * 'computed'); a host may report one by hand (source 'reported'), which stands until the next
 * recompute of that dataset replaces it. Only states of current group members are read.
 */

export const SYNC_STATE_VALUES = ['in_sync', 'out_of_sync', 'syncing', 'conflict', 'error'] as const;
export type SyncStateStatus = (typeof SYNC_STATE_VALUES)[number];

export interface SyncStateRecord {
  group_id: string;
  dataset: string;
  system_id: string;
  status: SyncStateStatus;
  error_message: string | null;
  source: 'computed' | 'reported';
  updated_at: Date;
}

export type GroupAnalysisRow = {
      dataset: string;
      in_inventory: boolean;
      reported: boolean;
      system_id: string;
      hostname: string;
      pool: string | null;
      snapshot_count: number;
      latest_name: string | null;
      latest_guid: string | null;
      latest_creation: Date | null;
      status: SyncStateStatus | null;
      verdict: string | null;
    };

const STATE_COLUMNS = 's.group_id, s.dataset, s.system_id, s.status, s.error_message, s.source, s.updated_at';

export class SyncStatesRepository {
  constructor(private readonly pool: pg.Pool) {}

  async list(f: { groupId: string | null; systemId: string | null; status: SyncStateStatus | null; dataset: string | null }): Promise<SyncStateRecord[]> {
    const { rows } = await this.pool.query<SyncStateRecord>(
      `select ${STATE_COLUMNS}
         from sync_states s
         join sync_group_members m on m.group_id = s.group_id and m.system_id = s.system_id
        where ($1::uuid is null or s.group_id = $1) and ($2::uuid is null or s.system_id = $2)
          and ($3::text is null or s.status = $3) and ($4::text is null or s.dataset = $4)
        order by s.group_id, s.dataset, s.system_id`,
      [f.groupId, f.systemId, f.status, f.dataset],
    );
    return rows;
  }

  /** Counts by status of one group's states (no row when the group does not exist; one null row when it has none). */
  async statusCounts(groupId: string): Promise<Array<{ status: SyncStateStatus | null; n: number; last: Date | null }>> {
    const { rows } = await this.pool.query<{ status: SyncStateStatus | null; n: number; last: Date | null }>(
      `select s.status, count(s.status)::int as n, max(s.updated_at) as last
         from sync_groups g
         left join (select st.* from sync_states st join sync_group_members m on m.group_id = st.group_id and m.system_id = st.system_id) s on s.group_id = g.id
        where g.id = $1
        group by s.status`,
      [groupId],
    );
    return rows;
  }

  /**
   * Every (dataset, member) pair of a group in one statement: the datasets any member holds plus
   * those with a hand-reported state; for each member its pool, snapshot count, newest snapshot
   * (its own createtxg order), state and the verdict of the link where it is the target.
   */
  async analysis(groupId: string): Promise<GroupAnalysisRow[]> {
    const { rows } = await this.pool.query<GroupAnalysisRow>(
      `with members as (
         select m.system_id, s.hostname from sync_group_members m join systems s on s.id = m.system_id where m.group_id = $1
       ), held as (
         select d.id, d.system_id, d.pool, d.path from datasets d join members m on m.system_id = d.system_id where d.gone_at is null
       ), paths as (
         select distinct path as dataset, true as in_inventory, false as reported from held
         union all
         select st.dataset, false, true from sync_states st join members m on m.system_id = st.system_id
          where st.group_id = $1 and st.source = 'reported'
       ), ds as (
         select dataset, bool_or(in_inventory) as in_inventory, bool_or(reported) as reported from paths group by dataset
       )
       select ds.dataset, ds.in_inventory, ds.reported, m.system_id, m.hostname, h.pool,
              coalesce(c.n, 0)::int as snapshot_count, l.name as latest_name, l.guid as latest_guid, l.creation as latest_creation,
              st.status, k.verdict
         from ds cross join members m
         left join held h on h.system_id = m.system_id and h.path = ds.dataset
         left join lateral (select count(*) as n from snapshots s where s.dataset_id = h.id and s.kind = 'snapshot') c on true
         left join lateral (
           select s.name, s.guid::text as guid, s.creation from snapshots s where s.dataset_id = h.id and s.kind = 'snapshot'
            order by s.createtxg desc nulls last, s.creation desc, s.name desc limit 1
         ) l on true
         left join sync_states st on st.group_id = $1 and st.dataset = ds.dataset and st.system_id = m.system_id
         left join lateral (
           select verdict from sync_links k where k.group_id = $1 and k.dataset = ds.dataset and k.target_system_id = m.system_id
            order by k.updated_at desc limit 1
         ) k on true
        order by ds.dataset, lower(m.hostname), m.system_id, h.pool`,
      [groupId],
    );
    return rows;
  }

  /**
   * Where a hand-reported state belongs: whether the group exists (undefined when not), whether
   * the system is a member, and the canonical dataset path. A name that is a member's path
   * relative to the pool is taken as is; else `pool/path` of a member's dataset (the reporter's
   * own first) is read as that path; else null (store the name as given).
   */
  async reportTarget(groupId: string, systemId: string, dataset: string): Promise<{ member: boolean; path: string | null } | undefined> {
    const { rows } = await this.pool.query<{ member: boolean; path: string | null }>(
      `select exists (select 1 from sync_group_members m where m.group_id = g.id and m.system_id = $2) as member,
              (select d.path from datasets d join sync_group_members m on m.group_id = g.id and m.system_id = d.system_id
                where d.gone_at is null
                  and (d.path = $3 or (case when d.path = '' then d.pool else d.pool || '/' || d.path end) = $3)
                order by (d.path = $3) desc, (d.system_id = $2) desc, d.pool, d.system_id limit 1) as path
         from sync_groups g where g.id = $1`,
      [groupId, systemId, dataset],
    );
    return rows[0];
  }

  /** Record a state a host reported by hand. */
  async record(r: { groupId: string; dataset: string; systemId: string; status: SyncStateStatus; errorMessage: string | null }): Promise<SyncStateRecord> {
    const { rows } = await this.pool.query<SyncStateRecord>(
      `insert into sync_states as s (group_id, dataset, system_id, status, error_message, source, updated_at)
       values ($1, $2, $3, $4, $5, 'reported', now())
       on conflict (group_id, dataset, system_id) do update set status = excluded.status, error_message = excluded.error_message, source = 'reported', updated_at = now()
       returning ${STATE_COLUMNS}`,
      [r.groupId, r.dataset, r.systemId, r.status, r.errorMessage],
    );
    return rows[0]!;
  }
}
