import type pg from 'pg';
import { containsPattern } from './fleet-queries.js';
import type { ConflictRecord } from '../sync/conflicts.repository.js';
import type { LinkRecord } from '../sync/links.repository.js';

/** A link with the names a person reads. */
export type NamedLinkRecord = LinkRecord & { group_name: string; source_hostname: string; target_hostname: string };

type Queryable = Pick<pg.Pool, 'query'>;

/** Verdicts that need nobody's attention. Everything else is a "problem" in the filtered views. */
export const HEALTHY_VERDICTS = ['in_sync', 'syncing'] as const;

/**
 * How bad a verdict is, worst first: a matrix cell fed by several links (a mesh divergence next to
 * its transfer) shows the worst one.
 */
export const VERDICT_SEVERITY = ['error', 'diverged', 'no_common_base', 'out_of_sync', 'not_seeded', 'behind', 'syncing', 'in_sync'] as const;

export interface LinkPageQuery {
  groupId: string | null;
  systemId: string | null;
  verdicts: string[] | null;
  onlyProblems: boolean;
  q: string | null;
  limit: number;
  offset: number;
}

/**
 * A page of links with the names a person reads (group, hosts), filtered by group, system,
 * verdict and dataset substring; problems first by severity, then the largest lag.
 */
export async function listLinksPage(db: Queryable, q: LinkPageQuery): Promise<{ total: number; rows: NamedLinkRecord[] }> {
  const { rows } = await db.query<NamedLinkRecord & { total: string }>(
    `select l.*, g.name as group_name, src.hostname as source_hostname, tgt.hostname as target_hostname, count(*) over () as total
       from sync_links l
       join sync_groups g on g.id = l.group_id
       join systems src on src.id = l.source_system_id
       join systems tgt on tgt.id = l.target_system_id
      where ($1::uuid is null or l.group_id = $1)
        and ($2::uuid is null or l.source_system_id = $2 or l.target_system_id = $2)
        and ($3::text[] is null or l.verdict = any($3))
        and (not $4 or not (l.verdict = any($5::text[])))
        and ($6::text is null or l.dataset ilike $6)
      order by array_position($7::text[], l.verdict), l.lag_seconds desc nulls last, g.name, l.dataset, src.hostname, tgt.hostname
      limit $8 offset $9`,
    [q.groupId, q.systemId, q.verdicts, q.onlyProblems, HEALTHY_VERDICTS, q.q ? containsPattern(q.q) : null, VERDICT_SEVERITY, q.limit, q.offset],
  );
  let total = rows.length ? Number(rows[0].total) : 0;
  if (!rows.length && q.offset > 0) {
    const c = await db.query(
      `select count(*)::int as n from sync_links l
        where ($1::uuid is null or l.group_id = $1) and ($2::uuid is null or l.source_system_id = $2 or l.target_system_id = $2)
          and ($3::text[] is null or l.verdict = any($3)) and (not $4 or not (l.verdict = any($5::text[]))) and ($6::text is null or l.dataset ilike $6)`,
      [q.groupId, q.systemId, q.verdicts, q.onlyProblems, HEALTHY_VERDICTS, q.q ? containsPattern(q.q) : null],
    );
    total = c.rows[0].n;
  }
  return { total, rows };
}

export interface MatrixQuery {
  q: string | null;
  onlyProblems: boolean;
  limit: number;
  offset: number;
}

export interface MatrixMember {
  system_id: string;
  hostname: string;
  site: string | null;
  is_hub: boolean;
}

/**
 * A group as a matrix, datasets × members, one page of datasets at a time. The datasets are those
 * the group replicates (a protection row exists for every one a member holds) and those with
 * links; with `onlyProblems`, those with a link whose verdict needs attention. Each row brings the
 * links of its dataset and which members hold it; the cell rule (worst incoming link, the hub as
 * source, a present member without a link is up to date) is applied by the caller.
 */
export async function groupMatrix(db: Queryable, groupId: string, q: MatrixQuery) {
  const members = await db.query<MatrixMember>(
    `select s.id as system_id, s.hostname, s.site, (g.directional and g.hub_system_id = s.id) as is_hub
       from sync_group_members m join systems s on s.id = m.system_id join sync_groups g on g.id = m.group_id
      where m.group_id = $1
      order by (g.directional and g.hub_system_id = s.id) desc, lower(s.hostname), s.id`,
    [groupId],
  );
  const page = await db.query<{ dataset: string; problem: boolean; total: string }>(
    `with ds as (
       select dataset from dataset_protection where group_id = $1
       union
       select dataset from sync_links where group_id = $1
     ), flagged as (
       select ds.dataset, exists (select 1 from sync_links l where l.group_id = $1 and l.dataset = ds.dataset and not (l.verdict = any($2::text[]))) as problem
         from ds where ($3::text is null or ds.dataset ilike $3)
     )
     select dataset, problem, count(*) over () as total from flagged
      where (not $4 or problem)
      order by dataset
      limit $5 offset $6`,
    [groupId, HEALTHY_VERDICTS, q.q ? containsPattern(q.q) : null, q.onlyProblems, q.limit, q.offset],
  );
  const datasets = page.rows.map((r) => r.dataset);
  const memberIds = members.rows.map((m) => m.system_id);
  const [links, presence] = await Promise.all([
    db.query<LinkRecord>(`select * from sync_links where group_id = $1 and dataset = any($2::text[])`, [groupId, datasets]),
    db.query<{ dataset: string; system_id: string }>(
      `select distinct path as dataset, system_id from datasets where path = any($1::text[]) and system_id = any($2::uuid[]) and gone_at is null`,
      [datasets, memberIds],
    ),
  ]);
  let total = page.rows.length ? Number(page.rows[0]!.total) : 0;
  if (!page.rows.length && q.offset > 0) total = -1; // past the end; the caller only needs "no rows"
  return { members: members.rows, total, datasets: page.rows, links: links.rows, presence: presence.rows };
}

/** One link with its history: plans handed out for it, verdict transitions, lag samples. */
export async function linkDetail(db: Queryable, key: { groupId: string; dataset: string; sourceSystemId: string; targetSystemId: string }, historyDays: number) {
  const args = [key.groupId, key.dataset, key.sourceSystemId, key.targetSystemId];
  const link = await db.query<NamedLinkRecord>(
    `select l.*, g.name as group_name, src.hostname as source_hostname, tgt.hostname as target_hostname
       from sync_links l join sync_groups g on g.id = l.group_id join systems src on src.id = l.source_system_id join systems tgt on tgt.id = l.target_system_id
      where l.group_id = $1 and l.dataset = $2 and l.source_system_id = $3 and l.target_system_id = $4`,
    args,
  );
  const plans = await db.query(
    `select id, kind, strategy, status, executor_system_id, attempts, consecutive_failures, last_error, bytes_transferred::text as bytes_transferred,
            plan->>'startingSnapshot' as starting_snapshot, plan->>'endingSnapshot' as ending_snapshot, plan->'commands' as commands,
            created_at, started_at, finished_at, updated_at
       from sync_instructions
      where group_id = $1 and dataset = $2 and source_system_id = $3 and target_system_id = $4
      order by created_at desc limit 50`,
    args,
  );
  const transitions = await db.query(
    `select from_verdict, to_verdict, reason, at from link_transitions
      where group_id = $1 and dataset = $2 and source_system_id = $3 and target_system_id = $4
      order by at desc, id desc limit 100`,
    args,
  );
  const lag = await db.query(
    `select at, lag_seconds, verdict from sync_link_lag_samples
      where group_id = $1 and dataset = $2 and source_system_id = $3 and target_system_id = $4 and at >= now() - make_interval(days => $5)
      order by at`,
    [...args, historyDays],
  );
  return { link: link.rows[0] ?? null, plans: plans.rows, transitions: transitions.rows, lag: lag.rows };
}

/** A page of conflicts, newest first, with the group and host names a person reads. */
export async function listConflictsPage(db: Queryable, q: { groupId: string | null; status: string | null; limit: number; offset: number }) {
  const { rows } = await db.query<ConflictRecord & { group_name: string; source_hostname: string; target_hostname: string; total: string }>(
    `select c.*, g.name as group_name, src.hostname as source_hostname, tgt.hostname as target_hostname, count(*) over () as total
       from conflicts c join sync_groups g on g.id = c.group_id join systems src on src.id = c.source_system_id join systems tgt on tgt.id = c.target_system_id
      where ($1::uuid is null or c.group_id = $1) and ($2::text is null or c.status = $2)
      order by c.detected_at desc, c.id limit $3 offset $4`,
    [q.groupId, q.status, q.limit, q.offset],
  );
  return { total: rows.length ? Number(rows[0]!.total) : 0, rows };
}
