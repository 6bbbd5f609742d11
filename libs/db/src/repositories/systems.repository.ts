import type { EntityManager } from '@mikro-orm/postgresql';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type pg from 'pg';
import type { RegisterSystemBody } from '@zfs-sync/contracts';
import { ApiKeyEntity } from '../entities/api-key.entity.js';
import { withTransaction } from '../transaction.js';
import { appendEvents } from '../events/outbox.js';
import { diffFields, recordAudit, type AuditActor } from '../events/audit.repository.js';
import { SystemEntity, type ConnectivityStatus, type System } from '../entities/system.entity.js';

export class DuplicateHostnameError extends Error {
  override name = 'DuplicateHostnameError';
}

/** A heartbeat whose metadata, merged into what is stored, would pass the cap: nothing was written. */
export class MetadataTooLargeError extends Error {
  override name = 'MetadataTooLargeError';
  constructor(readonly maxBytes: number) {
    super(`metadata merged with what is stored would be larger than ${maxBytes} bytes; send fewer or smaller keys (a key set to null is kept as null)`);
  }
}

/** The most heartbeat metadata a system keeps, merged, as stored JSON text. */
export const MAX_SYSTEM_METADATA_BYTES = 16_384;

export class SystemInUseError extends Error {
  override name = 'SystemInUseError';
}

/** What a system is registered or updated with: the API's validated body. */
export type SystemInput = RegisterSystemBody;

/** The wire shape of a system (the original zfs_sync fields). Never holds a key or key hash. */
export interface SystemJson {
  id: string;
  hostname: string;
  platform: string;
  connectivity_status: ConnectivityStatus;
  ssh_hostname: string | null;
  ssh_user: string | null;
  ssh_port: number;
  extra_metadata: Record<string, unknown>;
  site: string | null;
  last_seen: string | null;
  created_at: string;
  updated_at: string;
}

export function systemToJson(s: System): SystemJson {
  return {
    id: s.id,
    hostname: s.hostname,
    platform: s.platform,
    connectivity_status: s.connectivityStatus,
    ssh_hostname: s.sshHostname ?? null,
    ssh_user: s.sshUser ?? null,
    ssh_port: s.sshPort,
    extra_metadata: s.extraMetadata ?? {},
    site: s.site ?? null,
    last_seen: s.lastSeen ? s.lastSeen.toISOString() : null,
    created_at: s.createdAt.toISOString(),
    updated_at: s.updatedAt.toISOString(),
  };
}

function applyInput(target: Partial<System>, input: Partial<SystemInput>): void {
  if (input.hostname !== undefined) target.hostname = input.hostname;
  if (input.platform !== undefined) target.platform = input.platform;
  if (input.connectivity_status !== undefined) target.connectivityStatus = input.connectivity_status;
  if (input.ssh_hostname !== undefined) target.sshHostname = input.ssh_hostname;
  if (input.ssh_user !== undefined) target.sshUser = input.ssh_user;
  if (input.ssh_port !== undefined) target.sshPort = input.ssh_port;
  if (input.extra_metadata !== undefined) target.extraMetadata = input.extra_metadata;
  if (input.site !== undefined) target.site = input.site;
}

/** The fields of a system an audit entry shows (never keys). */
function auditedFields(j: SystemJson): Record<string, unknown> {
  return { hostname: j.hostname, platform: j.platform, ssh_hostname: j.ssh_hostname, ssh_user: j.ssh_user, ssh_port: j.ssh_port, site: j.site, extra_metadata: j.extra_metadata, connectivity_status: j.connectivity_status };
}

/** Systems and their keys. Plain CRUD goes through MikroORM; the per-request paths use one SQL statement. */
export class SystemsRepository {
  constructor(
    private readonly em: EntityManager,
    private readonly pool: pg.Pool,
  ) {}

  /**
   * Register a system and its first key in one transaction, with its `system.registered` event
   * and (when `actor` is given) its audit entry.
   */
  async create(input: SystemInput, keyHash: string, actor?: AuditActor): Promise<System> {
    const em = this.em.fork();
    try {
      return await em.transactional(async (tx) => {
        const system = tx.create(SystemEntity, {
          hostname: input.hostname,
          platform: input.platform,
          sshPort: 22,
          extraMetadata: {},
          connectivityStatus: 'unknown',
          lastSeen: null,
          sshHostname: null,
          sshUser: null,
          site: null,
        } as never);
        applyInput(system, input);
        tx.create(ApiKeyEntity, { system, keyHash, expiresAt: null, lastUsedAt: null } as never);
        await tx.flush();
        const json = systemToJson(system);
        await appendEvents(tx, [{ type: 'system.registered', data: { system_id: system.id, hostname: system.hostname, platform: system.platform, site: json.site } }]);
        if (actor) await recordAudit(tx, { actor, action: 'system.created', resource_type: 'system', resource_id: system.id, changes: auditedFields(json) });
        return system;
      });
    } catch (err) {
      if (err instanceof UniqueConstraintViolationException) throw new DuplicateHostnameError(`a system named ${input.hostname} is already registered`);
      throw err;
    }
  }

  async list(): Promise<System[]> {
    return this.em.fork().find(SystemEntity, {}, { orderBy: { hostname: 'asc' } });
  }

  async get(id: string): Promise<System | null> {
    return this.em.fork().findOne(SystemEntity, { id });
  }

  async update(id: string, input: Partial<SystemInput>, actor?: AuditActor): Promise<System | null> {
    const em = this.em.fork();
    try {
      return await em.transactional(async (tx) => {
        const system = await tx.findOne(SystemEntity, { id });
        if (!system) return null;
        const before = auditedFields(systemToJson(system));
        applyInput(system, input);
        await tx.flush();
        if (actor) {
          const changes = diffFields(before, auditedFields(systemToJson(system)));
          if (Object.keys(changes).length) await recordAudit(tx, { actor, action: 'system.updated', resource_type: 'system', resource_id: id, changes });
        }
        return system;
      });
    } catch (err) {
      if (err instanceof UniqueConstraintViolationException) throw new DuplicateHostnameError(`a system named ${input.hostname} is already registered`);
      throw err;
    }
  }

  /** Delete a system with its keys, inventory and memberships. Refused while it is a group's hub. */
  async delete(id: string, actor?: AuditActor): Promise<boolean> {
    try {
      return await withTransaction(this.pool, async (client) => {
        const { rows } = await client.query<{ id: string; hostname: string; platform: string; site: string | null }>('delete from systems where id = $1 returning id, hostname, platform, site', [id]);
        const gone = rows[0];
        if (!gone) return false;
        await appendEvents(client, [{ type: 'system.deleted', data: { system_id: gone.id, hostname: gone.hostname, platform: gone.platform, site: gone.site } }]);
        if (actor) await recordAudit(client, { actor, action: 'system.deleted', resource_type: 'system', resource_id: id, changes: { hostname: gone.hostname, platform: gone.platform, site: gone.site } });
        return true;
      });
    } catch (err) {
      if ((err as { code?: string }).code === '23503') throw new SystemInUseError('the system is the hub of a sync group; choose another hub or delete the group first');
      throw err;
    }
  }

  /** The system a live key belongs to, or null. Looked up by SHA-256 only. */
  async findByKeyHash(keyHash: string): Promise<{ systemId: string; keyId: string; expiresAt: Date | null } | null> {
    const { rows } = await this.pool.query<{ system_id: string; id: string; expires_at: Date | null }>(
      `select system_id, id, expires_at from api_keys where key_hash = $1 and (expires_at is null or expires_at > now())`,
      [keyHash],
    );
    const row = rows[0];
    return row ? { systemId: row.system_id, keyId: row.id, expiresAt: row.expires_at } : null;
  }

  /** Record key use at most once a minute per key, so authentication stays read-mostly. */
  async touchKey(keyId: string): Promise<void> {
    await this.pool.query(`update api_keys set last_used_at = now() where id = $1 and (last_used_at is null or last_used_at < now() - interval '60 seconds')`, [keyId]);
  }

  /**
   * Add a new key; the system's current keys stay valid for `oldKeyValidSeconds` more (0: they
   * stop at once). A key that already expires sooner keeps its earlier expiry.
   */
  async rotateKey(systemId: string, newKeyHash: string, oldKeyValidSeconds: number, actor?: AuditActor): Promise<boolean> {
    return withTransaction(this.pool, async (client) => {
      const { rows } = await client.query<{ hostname: string }>('select hostname from systems where id = $1 for update', [systemId]);
      if (!rows[0]) return false;
      await client.query(
        `update api_keys set expires_at = least(coalesce(expires_at, 'infinity'), now() + make_interval(secs => $2))
          where system_id = $1 and (expires_at is null or expires_at > now())`,
        [systemId, oldKeyValidSeconds],
      );
      const key = await client.query<{ id: string }>('insert into api_keys (system_id, key_hash) values ($1, $2) returning id', [systemId, newKeyHash]);
      const data = { system_id: systemId, hostname: rows[0].hostname, key_id: key.rows[0]!.id, old_key_valid_seconds: oldKeyValidSeconds };
      await appendEvents(client, [{ type: 'system.key_rotated', data }]);
      if (actor) await recordAudit(client, { actor, action: 'system.key_rotated', resource_type: 'system', resource_id: systemId, changes: { key_id: data.key_id, old_key_valid_seconds: oldKeyValidSeconds } });
      return true;
    });
  }

  /**
   * Mark the system online and merge reported metadata into extra_metadata. `site`: undefined
   * leaves it, null clears it (the agent's configuration says where the host is). `atMs` is the
   * heartbeat's time on the Redis clock the heartbeat path uses (default: PostgreSQL's now).
   */
  async heartbeat(systemId: string, metadataPatch: Record<string, unknown>, site?: string | null, atMs?: number, maxMetadataBytes = MAX_SYSTEM_METADATA_BYTES): Promise<Date | null> {
    return withTransaction(this.pool, async (client) => {
      // The merged metadata is bounded: over the cap, nothing is written (not even last_seen).
      // The previous status is read under the row lock: exactly one system.online per transition.
      const { rows } = await client.query<{ too_large: boolean; last_seen: Date | null; hostname: string; previous: ConnectivityStatus }>(
        `with s as (select id, hostname, connectivity_status as previous, octet_length((extra_metadata || $2::jsonb)::text) > $6 as too_large
                      from systems where id = $1 for update),
              u as (update systems
                       set last_seen = greatest(last_seen, coalesce(to_timestamp($5::float8 / 1000), now())), connectivity_status = 'online', updated_at = now(),
                           extra_metadata = extra_metadata || $2::jsonb,
                           site = case when $3 then $4 else site end
                      from s
                     where systems.id = s.id and not s.too_large
                 returning systems.last_seen)
         select s.too_large, s.hostname, s.previous, (select last_seen from u) as last_seen from s`,
        [systemId, JSON.stringify(metadataPatch), site !== undefined, site ?? null, atMs ?? null, maxMetadataBytes],
      );
      const row = rows[0];
      if (!row) return null;
      if (row.too_large) throw new MetadataTooLargeError(maxMetadataBytes);
      if (row.previous !== 'online') {
        await appendEvents(client, [{ type: 'system.online', data: { system_id: systemId, hostname: row.hostname, previous: row.previous, last_seen: row.last_seen ? row.last_seen.toISOString() : null } }]);
      }
      return row.last_seen;
    });
  }

  /**
   * Write heartbeats recorded in Redis to PostgreSQL: one set-based UPDATE; last_seen only moves
   * forward. Returns the ids that matched no system (deleted since), so Redis can forget them.
   */
  async flushHeartbeats(entries: Array<{ systemId: string; at: number }>): Promise<{ updated: number; unknown: string[] }> {
    if (entries.length === 0) return { updated: 0, unknown: [] };
    const { rows } = await this.pool.query<{ id: string; written: boolean; known: boolean }>(
      `with t as (select * from unnest($1::uuid[], $2::float8[]) as t(id, ms)),
            up as (update systems s set last_seen = to_timestamp(t.ms / 1000)
                     from t where s.id = t.id and (s.last_seen is null or s.last_seen < to_timestamp(t.ms / 1000))
                   returning s.id)
       select t.id::text as id, exists (select 1 from up where up.id = t.id) as written, exists (select 1 from systems s where s.id = t.id) as known from t`,
      [entries.map((e) => e.systemId), entries.map((e) => e.at)],
    );
    return { updated: rows.filter((r) => r.written).length, unknown: rows.filter((r) => !r.known).map((r) => r.id) };
  }

  /**
   * One set-based UPDATE marks offline every system whose last heartbeat (or registration, if it
   * never sent one) is older than the timeout. Idempotent: replicas sweeping together are harmless.
   */
  async expireHeartbeats(timeoutSeconds: number, asOfMs?: number): Promise<Array<{ id: string; hostname: string; last_seen: Date | null; previous: ConnectivityStatus }>> {
    // `asOfMs`: the moment the sweep read the heartbeats it flushed (Redis clock); judging
    // silence against a later time could miss a heartbeat recorded after that read.
    return withTransaction(this.pool, async (client) => {
    const { rows } = await client.query(
      `update systems s
          set connectivity_status = 'offline', updated_at = now()
         from (select id, connectivity_status as previous from systems
                where connectivity_status <> 'offline'
                  and coalesce(last_seen, created_at) < coalesce(to_timestamp($2::float8 / 1000), now()) - make_interval(secs => $1)
                for update skip locked) stale
        where s.id = stale.id
        returning s.id, s.hostname, s.last_seen, stale.previous`,
      [timeoutSeconds, asOfMs ?? null],
    );
    // One system.offline per transition: a row is returned by exactly one sweep (the others skip
    // it while locked, and re-check it as offline after), and its event commits with it.
    await appendEvents(
      client,
      rows.map((r: { id: string; hostname: string; last_seen: Date | null; previous: ConnectivityStatus }) => ({
        type: 'system.offline' as const,
        data: { system_id: r.id, hostname: r.hostname, previous: r.previous, last_seen: r.last_seen ? r.last_seen.toISOString() : null, timeout_seconds: timeoutSeconds },
      })),
    );
    return rows;
    });
  }

  /** Systems with their heartbeat age, for the health endpoints. */
  async heartbeatAges(id?: string): Promise<Array<{ id: string; hostname: string; last_seen: Date | null; age_seconds: number | null }>> {
    const { rows } = await this.pool.query(
      `select id, hostname, last_seen,
              extract(epoch from (now() - last_seen))::float8 as age_seconds
         from systems ${id ? 'where id = $1' : ''} order by hostname`,
      id ? [id] : [],
    );
    return rows;
  }
}
