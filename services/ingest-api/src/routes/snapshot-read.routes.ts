import { Router, type Request, type Response } from 'express';
import {
  compareDataset,
  deleteSystemInventory,
  getSnapshot,
  listSystemSnapshots,
  snapshotHistory,
  snapshotStatistics,
  systemExists,
  unknownSystems,
  type ComparedSnapshot,
  type DatasetComparison,
  type SnapshotKind,
  type SnapshotPosition,
  type SnapshotRecord,
} from '@zfs-sync/db';
import { checkDatasetPath, checkPoolName } from '@zfs-sync/domain';
import { actsAsOperator, principalOf, requireAdmin, requireSystem } from '../auth/authenticate.js';
import type { ApiDeps } from '../deps.js';
import { SNAPSHOTS_API } from '@zfs-sync/contracts';
import { route } from '../http/route.js';
import { groupIdsOf, queueGroupRecompute } from '../sync/recompute-groups.js';
import { DatasetHashes } from '../inventory/dataset-hashes.js';
import { queryParams } from '../http/query.js';
import { badRequest, forbidden, notFound, unauthorized } from '../http/problem.js';
import { systemIdParam } from './systems.routes.js';

/*
 * Snapshot reads: the original zfs_sync read routes (paths and response shapes kept) over the
 * inventory the reconcile worker maintains. Admin token, or the system's own host key for data
 * of that system only; comparisons need every system involved to be the caller's own.
 *
 * Dataset names in comparisons are pool-agnostic (the path relative to the pool). A name with a
 * pool prefix (`tank/home`) is read as pool `tank` + path `home` only when no compared system
 * has a dataset at the literal relative path `tank/home`; the answer's `dataset` is the path used.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BIGINT_MAX = 9_223_372_036_854_775_807n;
const MAX_LIMIT = 1000;
const MAX_SYSTEM_IDS = 100;

// ---------------------------------------------------------------- query parameters

/** Read a request's query parameters; names the route does not take are refused (400). */
function queryOf(req: Request, allowed: readonly string[]) {
  const { single, int } = queryParams(req, allowed);
  return {
    int,
    /** A pool name filter; '' is the same as absent. */
    pool(): string | undefined {
      const v = single('pool');
      if (!v) return undefined;
      const reason = checkPoolName(v);
      if (reason) throw badRequest(`pool: ${reason}`, { field: 'pool' });
      return v;
    },
    /** A dataset path, relative to the pool or with the pool prefix. */
    dataset(required: boolean): string | undefined {
      const v = single('dataset');
      if (v === undefined) {
        if (required) throw badRequest('dataset is required (the dataset path, e.g. home/alice; an empty value is the pool root)', { field: 'dataset' });
        return undefined;
      }
      // As a filter, an empty value means "no filter" (as in the original); in a comparison it is the pool root.
      if (v === '' && !required) return undefined;
      const reason = checkDatasetPath(v);
      if (reason) throw badRequest(`dataset: ${reason}`, { field: 'dataset' });
      return v;
    },
    kind(): SnapshotKind | undefined {
      const v = single('kind');
      if (v === undefined) return undefined;
      if (v !== 'snapshot' && v !== 'bookmark') throw badRequest('kind must be snapshot or bookmark', { field: 'kind' });
      return v;
    },
    uuid(name: string): string {
      const v = single(name);
      if (v === undefined) throw badRequest(`${name} is required`, { field: name });
      if (!UUID.test(v)) throw badRequest(`${name} must be a system UUID`, { field: name });
      return v.toLowerCase();
    },
    /** A repeated UUID parameter (`system_ids=A&system_ids=B`); null when absent. */
    uuidList(name: string): string[] | null {
      const v = req.query[name];
      if (v === undefined) return null;
      const list = typeof v === 'string' ? [v] : Array.isArray(v) ? v : null;
      if (!list || list.length > MAX_SYSTEM_IDS) throw badRequest(`${name} must be repeated system UUIDs (${name}=A&${name}=B), at most ${MAX_SYSTEM_IDS}`, { field: name });
      for (const id of list) if (typeof id !== 'string' || !UUID.test(id)) throw badRequest(`${name} must be system UUIDs`, { field: name });
      return [...new Set((list as string[]).map((id) => id.toLowerCase()))];
    },
    cursor(): SnapshotPosition | undefined {
      const v = single('cursor');
      if (v === undefined) return undefined;
      const pos = v.length <= 200 ? decodeCursor(v) : null;
      if (!pos) throw badRequest('cursor is not a cursor this API returned (take it from X-Next-Cursor or the Link header)', { field: 'cursor' });
      return pos;
    },
  };
}

/** Opaque page cursor: the (creation, id) of the last row sent, base64url-encoded. */
const encodeCursor = (p: SnapshotPosition) => Buffer.from(`${p.creation}|${p.id}`).toString('base64url');

function decodeCursor(cursor: string): SnapshotPosition | null {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) return null;
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.\d{6}Z\|(\d{1,19})$/.exec(Buffer.from(cursor, 'base64url').toString('latin1'));
  if (!m || BigInt(m[2]!) > BIGINT_MAX) return null;
  const d = new Date(`${m[1]}Z`);
  if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 19) !== m[1]) return null;
  return { creation: m[0].split('|')[0]!, id: m[2]! };
}

function snapshotIdParam(req: Request): string {
  const id = req.params.id;
  if (typeof id !== 'string' || !/^\d{1,19}$/.test(id) || BigInt(id) > BIGINT_MAX) throw badRequest('id must be a snapshot id (a positive integer)', { field: 'id' });
  return BigInt(id).toString();
}

// ---------------------------------------------------------------- authorization

function requireAuthenticated(res: Response): void {
  if (principalOf(res).kind === 'anonymous') throw unauthorized();
}

/** Admin, or a host key when every system involved is its own. */
function requireSystems(res: Response, systemIds: readonly string[]): void {
  const p = principalOf(res);
  if (p.kind === 'anonymous') throw unauthorized();
  if (actsAsOperator(p, res)) return;
  if (p.kind === 'host' && systemIds.every((id) => id === p.systemId)) return;
  if (p.kind === 'host') throw forbidden("a host key reads only its own system's snapshots; comparing other systems needs the admin token");
  throw forbidden("reading snapshots needs the admin token or the system's own host key");
}

// ---------------------------------------------------------------- response shapes

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** The original SnapshotResponse fields, plus what the inventory knows (kind, guid, createtxg, holds, first/last seen). */
function snapshotJson(s: SnapshotRecord) {
  return {
    id: s.id,
    name: s.name,
    pool: s.pool,
    dataset: s.dataset,
    kind: s.kind,
    timestamp: iso(s.creation),
    size: s.used,
    used: s.used,
    referenced: s.referenced,
    guid: s.guid,
    createtxg: s.createtxg,
    userrefs: s.userrefs,
    system_id: s.system_id,
    first_seen: iso(s.first_seen),
    last_seen: iso(s.last_seen),
    // Original field names: created_at/updated_at are when the witness first/last saw it; no metadata is kept.
    created_at: iso(s.first_seen),
    updated_at: iso(s.last_seen),
    extra_metadata: {},
  };
}

/** Distinct names in byte order (what the original's sorted() gave for ASCII names). */
const sortedNames = (snaps: Iterable<{ name: string }>) => [...new Set([...snaps].map((s) => s.name))].sort();
const matchedOn = (s: ComparedSnapshot, ord: number) => s.matches.some((m) => m[0] === ord);

function differencesJson(cmp: DatasetComparison) {
  const [one, two] = cmp.systems as [{ system_id: string; ord: number }, { system_id: string; ord: number }];
  const first = cmp.snapshots.filter((s) => s.ord === one.ord);
  const second = cmp.snapshots.filter((s) => s.ord === two.ord);
  const matches = first
    .flatMap((s) => s.matches.filter((m) => m[0] === two.ord).map(([, name2, by]) => ({ system_1_name: s.name, system_2_name: name2, guid: by === 'guid' ? s.guid : null, match: by })))
    .sort((a, b) => (a.system_1_name < b.system_1_name ? -1 : a.system_1_name > b.system_1_name ? 1 : a.system_2_name < b.system_2_name ? -1 : a.system_2_name > b.system_2_name ? 1 : 0));
  return {
    system_1: one.system_id,
    system_2: two.system_id,
    dataset: cmp.dataset,
    only_in_system_1: sortedNames(first.filter((s) => !matchedOn(s, two.ord))),
    only_in_system_2: sortedNames(second.filter((s) => !matchedOn(s, one.ord))),
    in_both: sortedNames(first.filter((s) => matchedOn(s, two.ord))),
    /** How each snapshot in both was matched: by guid, or by name when either side has no guid. */
    matches,
    comparison_timestamp: new Date().toISOString(),
  };
}

function compareJson(cmp: DatasetComparison) {
  const others = cmp.systems.length - 1;
  const firstOrd = cmp.systems[0]?.ord;
  const unique: Record<string, string[]> = {};
  const missing: Record<string, string[]> = {};
  const latest: Record<string, { name: string; timestamp: string | null; size: string | null }> = {};
  for (const sys of cmp.systems) {
    const own = cmp.snapshots.filter((s) => s.ord === sys.ord);
    unique[sys.system_id] = sortedNames(own.filter((s) => s.matches.length === 0));
    missing[sys.system_id] = sortedNames(cmp.snapshots.filter((s) => s.ord !== sys.ord && !matchedOn(s, sys.ord)));
    // Rows come newest first per system (creation, then createtxg).
    if (own[0]) latest[sys.system_id] = { name: own[0].name, timestamp: iso(own[0].creation), size: own[0].used };
  }
  return {
    dataset: cmp.dataset,
    common_snapshots: sortedNames(cmp.snapshots.filter((s) => s.ord === firstOrd && new Set(s.matches.map((m) => m[0])).size === others)),
    unique_snapshots: unique,
    missing_snapshots: missing,
    latest_snapshots: latest,
    comparison_timestamp: new Date().toISOString(),
  };
}

/**
 * One gap per (system, snapshot it lacks that another compared system holds). Snapshots held by
 * several systems count once: grouped by guid (by name when there is none); the name shown is
 * the one on the first system (in the caller's order) that holds it.
 */
function gapsJson(cmp: DatasetComparison) {
  const sidOf = new Map(cmp.systems.map((s) => [s.ord, s.system_id]));
  const gaps: Array<{ system_id: string; missing_snapshot: string; guid: string | null; available_on_systems: string[]; dataset: string }> = [];
  for (const sys of cmp.systems) {
    const byKey = new Map<string, { name: string; nameOrd: number; guid: string | null; holders: Set<number> }>();
    for (const s of cmp.snapshots) {
      if (s.ord === sys.ord || matchedOn(s, sys.ord)) continue;
      const key = s.guid !== null ? `g${s.guid}` : `n${s.name}`;
      const gap = byKey.get(key) ?? { name: s.name, nameOrd: s.ord, guid: s.guid, holders: new Set<number>() };
      if (s.ord < gap.nameOrd) Object.assign(gap, { name: s.name, nameOrd: s.ord });
      gap.holders.add(s.ord);
      for (const [ord] of s.matches) if (ord !== sys.ord) gap.holders.add(ord);
      byKey.set(key, gap);
    }
    const found = [...byKey.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const g of found) {
      gaps.push({ system_id: sys.system_id, missing_snapshot: g.name, guid: g.guid, available_on_systems: [...g.holders].sort((a, b) => a - b).map((o) => sidOf.get(o)!), dataset: cmp.dataset });
    }
  }
  return { gaps, count: gaps.length };
}

// ---------------------------------------------------------------- routes

export function snapshotReadRoutes(deps: ApiDeps): Router {
  const r = Router();

  /** 404 for system ids that are not registered (admins may name any id). */
  async function requireKnownSystems(ids: readonly string[]) {
    const unknown = await unknownSystems(deps.pool, ids);
    if (unknown.length > 0) throw notFound(`no system with id ${unknown.join(', ')}`);
  }

  /** A comparison's systems: the listed ones (authorised, known), or every system holding the dataset (admin). */
  async function comparedSystems(res: Response, ids: string[] | null): Promise<string[] | null> {
    if (ids === null) {
      requireAdmin(res);
      return null;
    }
    requireSystems(res, ids);
    await requireKnownSystems(ids);
    return ids;
  }

  route(r, SNAPSHOTS_API.listForSystem, async (req, res) => {
    const systemId = systemIdParam(req, 'system_id');
    requireSystem(res, systemId);
    const q = queryOf(req, ['pool', 'dataset', 'kind', 'limit', 'cursor', 'skip']);
    const filters = { pool: q.pool(), dataset: q.dataset(false), kind: q.kind() };
    const limit = q.int('limit', 1, MAX_LIMIT, 100);
    const after = q.cursor();
    const skip = q.int('skip', 0, 1_000_000, 0);
    if (after && skip > 0) throw badRequest('skip cannot be combined with cursor: follow the cursor', { field: 'skip' });

    const page = await listSystemSnapshots(deps.pool, { systemId, ...filters, limit, ...(after ? { after } : {}), skip });
    if (page.rows.length === 0 && !(await systemExists(deps.pool, systemId))) throw notFound(`no system with id ${systemId}`);
    if (page.next) {
      const cursor = encodeCursor(page.next);
      const next = new URLSearchParams();
      for (const [k, v] of Object.entries(filters)) if (v !== undefined) next.set(k, v);
      next.set('limit', String(limit));
      next.set('cursor', cursor);
      res.setHeader('X-Next-Cursor', cursor);
      res.setHeader('Link', `<${req.baseUrl}/snapshots/system/${systemId}?${next}>; rel="next"`);
    }
    res.json(page.rows.map(snapshotJson));
  });

  route(r, SNAPSHOTS_API.deleteForSystem, async (req, res) => {
    const systemId = systemIdParam(req, 'system_id');
    requireAdmin(res);
    queryOf(req, []);
    const groups = await groupIdsOf(deps, systemId);
    const deleted = await deleteSystemInventory(deps.pool, systemId);
    if (!deleted) throw notFound(`no system with id ${systemId}`);
    // The next inventory is compared with nothing: it must arrive whole.
    await new DatasetHashes(deps.redis, deps.config.queuePrefix).forget(systemId);
    // Its links now see a host without the datasets.
    await queueGroupRecompute(deps, groups, 'system inventory deleted');
    deps.logger.info({ system_id: systemId, ...deleted }, 'system inventory deleted');
    res.json({
      system_id: systemId,
      hostname: deleted.hostname,
      deleted_snapshots: deleted.deleted_snapshots,
      deleted_datasets: deleted.deleted_datasets,
      deleted_history: deleted.deleted_history,
      // The original's fields.
      deleted_count: deleted.deleted_snapshots,
      message: `Deleted ${deleted.deleted_snapshots} snapshots and bookmarks, ${deleted.deleted_datasets} datasets and ${deleted.deleted_history} history rows`,
    });
  });

  route(r, SNAPSHOTS_API.differences, async (req, res) => {
    requireAuthenticated(res);
    const q = queryOf(req, ['system_id_1', 'system_id_2', 'dataset']);
    const one = q.uuid('system_id_1');
    const two = q.uuid('system_id_2');
    const dataset = q.dataset(true)!;
    if (one === two) throw badRequest('system_id_2 must differ from system_id_1', { field: 'system_id_2' });
    await comparedSystems(res, [one, two]);
    res.json(differencesJson(await compareDataset(deps.pool, [one, two], dataset)));
  });

  route(r, SNAPSHOTS_API.gaps, async (req, res) => {
    requireAuthenticated(res);
    const q = queryOf(req, ['dataset', 'system_ids']);
    const dataset = q.dataset(true)!;
    const ids = await comparedSystems(res, q.uuidList('system_ids'));
    res.json(gapsJson(await compareDataset(deps.pool, ids, dataset)));
  });

  route(r, SNAPSHOTS_API.compare, async (req, res) => {
    requireAuthenticated(res);
    const q = queryOf(req, ['dataset', 'system_ids']);
    const dataset = q.dataset(true)!;
    const ids = await comparedSystems(res, q.uuidList('system_ids'));
    res.json(compareJson(await compareDataset(deps.pool, ids, dataset)));
  });

  route(r, SNAPSHOTS_API.history, async (req, res) => {
    const systemId = systemIdParam(req, 'system_id');
    requireSystem(res, systemId);
    const q = queryOf(req, ['days', 'limit', 'pool', 'dataset']);
    const days = q.int('days', 1, 3650, 7);
    const limit = q.int('limit', 1, MAX_LIMIT, 100);
    const pool = q.pool();
    const dataset = q.dataset(false);
    const events = await snapshotHistory(deps.pool, { systemId, days, limit, ...(pool !== undefined ? { pool } : {}), ...(dataset !== undefined ? { dataset } : {}) });
    if (events.length === 0 && !(await systemExists(deps.pool, systemId))) throw notFound(`no system with id ${systemId}`);
    const history = events.map((e) => ({ event: e.event, at: iso(e.at), ...snapshotJson(e), gone_at: iso(e.gone_at) }));
    // The original's envelope: {history, count}.
    res.json({ system_id: systemId, days, history, count: history.length });
  });

  route(r, SNAPSHOTS_API.statistics, async (req, res) => {
    const systemId = systemIdParam(req, 'system_id');
    requireSystem(res, systemId);
    const q = queryOf(req, ['days']);
    const days = q.int('days', 1, 3650, 30);
    const stats = await snapshotStatistics(deps.pool, systemId, days);
    if (!stats.system_exists) throw notFound(`no system with id ${systemId}`);
    res.json({
      system_id: systemId,
      total_snapshots: stats.total_snapshots,
      total_bookmarks: stats.total_bookmarks,
      total_datasets: stats.total_datasets,
      total_used: stats.total_used,
      oldest_snapshot: iso(stats.oldest_snapshot),
      newest_snapshot: iso(stats.newest_snapshot),
      appeared_last_days: stats.appeared_last_days,
      disappeared_last_days: stats.disappeared_last_days,
      per_pool: stats.per_pool,
      days,
      // The original's names for the same values.
      period_days: days,
      total_size: stats.total_used,
    });
  });

  // Last: every static /snapshots/... path above wins over the id.
  route(r, SNAPSHOTS_API.get, async (req, res) => {
    requireAuthenticated(res);
    const id = snapshotIdParam(req);
    queryOf(req, []);
    const snap = await getSnapshot(deps.pool, id);
    if (!snap) throw notFound(`no snapshot with id ${id}`);
    requireSystem(res, snap.system_id);
    res.json(snapshotJson(snap));
  });

  return r;
}
