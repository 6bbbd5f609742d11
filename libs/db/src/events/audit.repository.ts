import type pg from 'pg';
import { runSql, type SqlExecutor } from './outbox.js';

/**
 * The audit log (issue 10). `recordAudit` runs in the caller's transaction (a pg client or a
 * MikroORM EntityManager inside `transactional`), so an admin change and its audit entry commit
 * together. Callers pass who acted — the credential's kind and id, never the secret — and what
 * changed; values that are secrets (keys, signing secrets) must be left out by the caller.
 */
export interface AuditActor {
  /** `admin`, `viewer`, `host`, `enrollment`, `system` (the service itself), … */
  kind: string;
  /** Which credential: a host key's system id, a key id, a token's fingerprint; null for the single admin token. */
  id?: string | null;
}

export interface AuditEntryInput {
  actor: AuditActor;
  /** e.g. `system.created`, `sync_group.updated`, `conflict.resolution_requested`, `webhook.deleted`. */
  action: string;
  /** e.g. `system`, `sync_group`, `conflict`, `webhook`. */
  resource_type: string;
  resource_id?: string | null;
  /** What changed: `{field: {from, to}}` for updates, the created resource's fields, … (no secrets). */
  changes?: Record<string, unknown>;
}

export async function recordAudit(executor: SqlExecutor, entry: AuditEntryInput): Promise<void> {
  await runSql(executor, `insert into audit_log (actor_kind, actor_id, action, resource_type, resource_id, changes) values ($1, $2, $3, $4, $5, $6::jsonb)`, [
    entry.actor.kind,
    entry.actor.id ?? null,
    entry.action,
    entry.resource_type,
    entry.resource_id ?? null,
    JSON.stringify(entry.changes ?? {}),
  ]);
}

/** `{field: {from, to}}` for every field whose value differs (deep, by JSON). */
export function diffFields(before: Record<string, unknown>, after: Record<string, unknown>, fields: readonly string[] = Object.keys(after)): Record<string, { from: unknown; to: unknown }> {
  const out: Record<string, { from: unknown; to: unknown }> = {};
  for (const f of fields) {
    const a = before[f] ?? null;
    const b = after[f] ?? null;
    if (JSON.stringify(a) !== JSON.stringify(b)) out[f] = { from: a, to: b };
  }
  return out;
}

export interface AuditEntry {
  id: string;
  seq: string;
  at: string;
  actor: { kind: string; id: string | null };
  action: string;
  resource_type: string;
  resource_id: string | null;
  changes: Record<string, unknown>;
}

/** Newest first, before a cursor. */
export async function listAudit(
  pool: Pick<pg.Pool, 'query'>,
  opts: { before?: string | null; resourceType?: string | null; resourceId?: string | null; limit: number },
): Promise<{ items: AuditEntry[]; next_before: string | null }> {
  const { rows } = await pool.query(
    `select id, seq::text as seq, at, actor_kind, actor_id, action, resource_type, resource_id, changes from audit_log
      where ($1::bigint is null or seq < $1::bigint) and ($2::text is null or resource_type = $2) and ($3::text is null or resource_id = $3)
      order by audit_log.seq desc limit $4`,
    [opts.before ?? null, opts.resourceType ?? null, opts.resourceId ?? null, opts.limit],
  );
  const items: AuditEntry[] = rows.map((r) => ({
    id: r.id,
    seq: r.seq,
    at: (r.at as Date).toISOString(),
    actor: { kind: r.actor_kind, id: r.actor_id },
    action: r.action,
    resource_type: r.resource_type,
    resource_id: r.resource_id,
    changes: r.changes,
  }));
  return { items, next_before: items.length === opts.limit ? items[items.length - 1]!.seq : null };
}

/** Retention: delete audit entries older than `days`, in bounded batches; returns how many. */
export async function pruneAudit(pool: Pick<pg.Pool, 'query'>, days: number, batch = 10_000): Promise<number> {
  let total = 0;
  for (;;) {
    const { rowCount } = await pool.query(`delete from audit_log where id in (select id from audit_log where at < now() - make_interval(days => $1) limit $2)`, [days, batch]);
    total += rowCount ?? 0;
    if ((rowCount ?? 0) < batch) return total;
  }
}
