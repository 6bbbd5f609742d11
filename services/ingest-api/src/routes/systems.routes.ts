import { Router, type Request, type Response } from 'express';
import { DuplicateHostnameError, SYSTEM_SORTS, SystemInUseError, listSystemsPage, systemToJson, type SystemJson, type SystemSort } from '@zfs-sync/db';
import { forgetHeartbeats, lastSeenOf, type RateLimit } from '@zfs-sync/queue';
import { heartbeatRecorder } from './heartbeat.js';
import { countsOwnRateLimit } from '../auth/rate-limit.js';
import { auditActor, principalOf, requireAdmin, requireReader, requireSystem } from '../auth/authenticate.js';
import { queryParams, setTotal } from '../http/query.js';
import { hashKey, newHostKey } from '../auth/credentials.js';
import type { ApiDeps } from '../deps.js';
import { SYSTEMS_API } from '@zfs-sync/contracts';
import { bodyParser, route } from '../http/route.js';
import { groupIdsOf, queueGroupRecompute } from '../sync/recompute-groups.js';
import { DatasetHashes } from '../inventory/dataset-hashes.js';
import { jsonBody } from '../http/body.js';
import { badRequest, conflict, forbidden, notFound, unauthorized } from '../http/problem.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function systemIdParam(req: Request, name = 'id'): string {
  const id = req.params[name];
  if (typeof id !== 'string' || !UUID.test(id)) throw badRequest(`${name} must be a system UUID`, { field: name });
  return id.toLowerCase();
}

export function systemsRoutes(deps: ApiDeps): Router {
  const r = Router();
  const prefix = deps.config.queuePrefix;

  /**
   * Heartbeats are recorded in Redis and reach PostgreSQL with the next sweep: reads take the
   * newer of the two, so an answer is never older than the last heartbeat. Without Redis, what
   * PostgreSQL holds.
   */
  const redisLastSeen = (ids: string[]) => lastSeenOf(deps.redis, prefix, ids).catch(() => new Map<string, number>());
  const withLastSeen = async (systems: SystemJson[]): Promise<SystemJson[]> => {
    const seen = await redisLastSeen(systems.map((s) => s.id));
    return systems.map((s) => {
      const ms = seen.get(s.id);
      return ms !== undefined && (s.last_seen === null || ms > Date.parse(s.last_seen)) ? { ...s, last_seen: new Date(ms).toISOString() } : s;
    });
  };
  const agesWithLastSeen = async (rows: Array<{ id: string; hostname: string; last_seen: Date | null; age_seconds: number | null }>) => {
    const seen = await redisLastSeen(rows.map((s) => s.id));
    const now = Date.now();
    return rows.map((s) => {
      const ms = seen.get(s.id);
      if (ms === undefined || (s.last_seen !== null && ms <= s.last_seen.getTime())) return s;
      return { ...s, last_seen: new Date(ms), age_seconds: Math.max(0, (now - ms) / 1000) };
    });
  };
  const body = jsonBody(deps.config.jsonBodyLimitBytes);
  const parseRegister = bodyParser(SYSTEMS_API.register);
  const parseUpdate = bodyParser(SYSTEMS_API.update);
  const parseHeartbeat = bodyParser(SYSTEMS_API.heartbeat);
  const parseRotate = bodyParser(SYSTEMS_API.rotateKey);
  const timeout = deps.config.heartbeatTimeoutSeconds;
  const recordHeartbeat = heartbeatRecorder(deps);

  const healthEntry = (s: { id: string; hostname: string; last_seen: Date | null; age_seconds: number | null }) => {
    const online = s.age_seconds !== null && s.age_seconds <= timeout;
    return {
      system_id: s.id,
      hostname: s.hostname,
      status: online ? 'online' : 'offline',
      last_seen: s.last_seen ? s.last_seen.toISOString() : null,
      seconds_since_last_seen: s.age_seconds === null ? null : Math.max(0, Math.floor(s.age_seconds)),
      timeout_seconds: timeout,
      is_healthy: online,
    };
  };

  // Who may register is decided before the body is read.
  const mayRegister = (_req: Request, res: Response, next: (err?: unknown) => void) => {
    const who = principalOf(res);
    const allowed = who.kind === 'admin' || who.kind === 'enrollment' || (who.kind === 'anonymous' && deps.config.openRegistration);
    if (allowed) return next();
    if (who.kind === 'anonymous') return next(unauthorized('registration needs the admin token or the enrollment token (open registration is off)'));
    next(forbidden('a host key cannot register systems; use the admin or enrollment token'));
  };

  route(r, SYSTEMS_API.register, mayRegister, ...body, async (req, res) => {
    const who = principalOf(res);
    const input = parseRegister(req);
    const apiKey = newHostKey();
    try {
      const system = await deps.systems.create(input, hashKey(apiKey), auditActor(res));
      deps.logger.info({ system_id: system.id, hostname: system.hostname, by: who.kind }, 'system registered');
      // The key is in this answer: no cache (browser, proxy) may keep it.
      res.set('Cache-Control', 'no-store');
      res.status(201).json({ ...systemToJson(system), api_key: apiKey });
    } catch (err) {
      if (err instanceof DuplicateHostnameError) throw conflict(err.message, { field: 'hostname' });
      throw err;
    }
  });

  // Without query parameters: every system (the original's bare array). With any of them: one
  // page, searched, filtered and sorted in PostgreSQL, the total in X-Total-Count.
  route(r, SYSTEMS_API.list, async (req, res) => {
    requireReader(res);
    if (Object.keys(req.query).length === 0) return res.json(await withLastSeen((await deps.systems.list()).map(systemToJson)));
    const q = queryParams(req, ['q', 'status', 'site', 'sort', 'order', 'limit', 'offset', 'include']);
    const { limit, offset } = q.page(100, 1000);
    const page = await listSystemsPage(deps.pool, {
      heartbeatTimeoutSeconds: timeout,
      q: q.text('q', 253),
      status: q.oneOf('status', ['online', 'offline'] as const, null),
      site: q.text('site', 64),
      sort: q.oneOf('sort', Object.keys(SYSTEM_SORTS) as SystemSort[], 'hostname')!,
      order: q.oneOf('order', ['asc', 'desc'] as const, 'asc')!,
      limit,
      offset,
      withStats: q.oneOf('include', ['stats'] as const, null) === 'stats',
    });
    setTotal(res, page.total);
    res.json(page.rows);
  });

  // Static health paths come before /systems/:id so "health" is never read as an id.
  for (const [filter, spec] of [['all', SYSTEMS_API.healthAll], ['online', SYSTEMS_API.healthOnline], ['offline', SYSTEMS_API.healthOffline]] as const) {
    route(r, spec, async (_req, res) => {
      requireAdmin(res);
      const systems = (await agesWithLastSeen(await deps.systems.heartbeatAges())).map(healthEntry).filter((s) => filter === 'all' || s.status === filter);
      res.json({ systems, count: systems.length });
    });
  }

  route(r, SYSTEMS_API.get, async (req, res) => {
    const id = systemIdParam(req);
    requireSystem(res, id);
    const system = await deps.systems.get(id);
    if (!system) throw notFound(`no system with id ${id}`);
    res.json((await withLastSeen([systemToJson(system)]))[0]);
  });

  route(r, SYSTEMS_API.update, ...body, async (req, res) => {
    const id = systemIdParam(req);
    requireAdmin(res);
    const input = parseUpdate(req);
    try {
      const system = await deps.systems.update(id, input, auditActor(res));
      if (!system) throw notFound(`no system with id ${id}`);
      res.json(systemToJson(system));
    } catch (err) {
      if (err instanceof DuplicateHostnameError) throw conflict(err.message, { field: 'hostname' });
      throw err;
    }
  });

  route(r, SYSTEMS_API.delete, async (req, res) => {
    const id = systemIdParam(req);
    requireAdmin(res);
    const groups = await groupIdsOf(deps, id);
    try {
      if (!(await deps.systems.delete(id, auditActor(res)))) throw notFound(`no system with id ${id}`);
      await deps.keyCache.invalidateSystem(id);
      await Promise.all([forgetHeartbeats(deps.redis, prefix, id), new DatasetHashes(deps.redis, prefix).forget(id)]).catch(() => {});
      // In a mesh another member may have to become the source for the rest.
      await queueGroupRecompute(deps, groups, 'member system deleted');
    } catch (err) {
      if (err instanceof SystemInUseError) throw conflict(err.message);
      throw err;
    }
    deps.logger.info({ system_id: id }, 'system deleted');
    res.status(204).end();
  });

  // The documented route; the heartbeat lane (heartbeat.ts) answers the common case before the router.
  route(r, SYSTEMS_API.heartbeat, countsOwnRateLimit, ...body, async (req, res: Response) => {
    const id = systemIdParam(req);
    requireSystem(res, id, { hostOnly: true });
    res.json(await recordHeartbeat(res, id, parseHeartbeat(req), res.locals.rateLimit as RateLimit | undefined));
  });

  route(r, SYSTEMS_API.rotateKey, ...body, async (req, res) => {
    const id = systemIdParam(req);
    requireSystem(res, id);
    const { old_key_valid_seconds = 0 } = parseRotate(req);
    const apiKey = newHostKey();
    if (!(await deps.systems.rotateKey(id, hashKey(apiKey), old_key_valid_seconds, auditActor(res)))) throw notFound(`no system with id ${id}`);
    await deps.keyCache.invalidateSystem(id);
    deps.logger.info({ system_id: id, old_key_valid_seconds }, 'api key rotated');
    res.set('Cache-Control', 'no-store');
    res.json({ system_id: id, api_key: apiKey, old_key_valid_seconds });
  });

  route(r, SYSTEMS_API.health, async (req, res) => {
    const id = systemIdParam(req);
    requireSystem(res, id);
    const [row] = await agesWithLastSeen(await deps.systems.heartbeatAges(id));
    if (!row) throw notFound(`no system with id ${id}`);
    res.json(healthEntry(row));
  });

  return r;
}
