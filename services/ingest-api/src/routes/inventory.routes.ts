import { createHash, randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Router, type Request, type Response } from 'express';
import { REPORT_ID_PATTERN, type OriginalSnapshotItem, type ReconcileDataset, type ReconcilePayload } from '@zfs-sync/contracts';
import { TsvLineError, ZfsListTsvParser } from '@zfs-sync/domain';
import { ReportsRepository } from '@zfs-sync/db';
import { QueueUnavailableError } from '@zfs-sync/queue';
import { actsAsOperator, principalOf, requireSystem } from '../auth/authenticate.js';
import type { ApiDeps } from '../deps.js';
import { INVENTORY_API } from '@zfs-sync/contracts';
import { bodyParser, route } from '../http/route.js';
import { bodySha256, jsonBody } from '../http/body.js';
import { InflightBytes } from '../http/inflight.js';
import { queryParams } from '../http/query.js';
import { HttpProblem, badRequest, conflict, forbidden, notFound, unauthorized, unavailable, validationProblem } from '../http/problem.js';
import { ReportFieldError, fromZfsList, normalizeInventory, normalizeOriginalSnapshots, type OriginalItemRow } from '../inventory/normalize-report.js';
import { ReportRegistry, type ReportMeta } from '../inventory/report-registry.js';
import { DatasetHashes, type KnownBody } from '../inventory/dataset-hashes.js';
import { identityFreeFingerprint } from '../inventory/body-fingerprint.js';
import { systemIdParam } from './systems.routes.js';

const TSV = 'text/tab-separated-values';
const REPORT_ID_TOKEN = new RegExp(`^"(${REPORT_ID_PATTERN.slice(1, -1)})"$`);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Redis errors on the hot path become an immediate 503: nothing was accepted. */
async function orUnavailable<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof HttpProblem) throw err;
    // The driver's message may name internal addresses: it is never sent to the client.
    throw unavailable('the queue (Redis) is unreachable; nothing was accepted, retry later');
  }
}

function reportFieldError(err: unknown): never {
  if (err instanceof ReportFieldError) throw validationProblem(err.error);
  throw err;
}

/** Stream a `zfs list -Hp` TSV body through the line parser without holding the text. */
async function readZfsListBody(req: Request, limitBytes: number) {
  const parser = new ZfsListTsvParser();
  let bytes = 0;
  let tooLarge = false;
  req.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > limitBytes && !tooLarge) {
      tooLarge = true;
      req.pause();
    }
  });
  const lines = createInterface({ input: req, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const line of lines) {
      if (tooLarge) break;
      parser.push(line, ++n);
    }
  } catch (err) {
    lines.close();
    if (err instanceof TsvLineError) {
      throw new HttpProblem(400, 'validation-error', `${err.message}`, { field: err.field ?? 'line', line: err.line });
    }
    throw err;
  }
  if (tooLarge) throw new HttpProblem(413, 'body-too-large', `the request body is larger than this route accepts (${limitBytes} bytes)`);
  return parser.finish();
}

/** A non-negative decimal integer as written by a program: digits only, no leading zeros, safe. */
export function strictDecimal(v: string): number | null {
  if (!/^(0|[1-9][0-9]{0,15})$/.test(v)) return null;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : null;
}

const queryBool = (v: unknown, name: string, dflt: boolean): boolean => {
  if (v === undefined) return dflt;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw badRequest(`${name} must be true or false`, { field: name });
};

/** One accepted item of the original forms, as the original answered it (names normalised, uint64 as strings). */
function acceptedSnapshot(item: OriginalSnapshotItem, { pool, dataset, row }: OriginalItemRow) {
  const [name, guid, createtxg, seconds, used, referenced] = row;
  return {
    name,
    pool,
    dataset,
    timestamp: new Date(seconds * 1000).toISOString(),
    size: used,
    used,
    referenced,
    guid,
    createtxg,
    extra_metadata: item.extra_metadata ?? {},
    system_id: item.system_id.toLowerCase(),
  };
}

export function inventoryRoutes(deps: ApiDeps): Router {
  const r = Router();
  const registry = new ReportRegistry(deps.redis, deps.config.queuePrefix);
  const hashes = new DatasetHashes(deps.redis, deps.config.queuePrefix);
  const reports = new ReportsRepository(deps.pool);
  const inflight = new InflightBytes(deps.config.inflightBodyLimitBytes);
  const bigJson = [inflight.middleware(), ...jsonBody(deps.config.inventoryBodyLimitBytes, [TSV])];

  /**
   * Fingerprints (their hashes) of inventory bodies read as text (body-fingerprint.ts), for the
   * report to remember. Not the tokens: a slice of the body's text would keep all of it alive.
   */
  const fingerprints = new WeakMap<Request, string>();
  /** Inventory bodies recognised as the system's previous one, with their new report_id and generation. */
  const recognised = new WeakMap<Request, KnownBody & { reportId: string; generation: number }>();
  /**
   * A body identical to the system's newest accepted inventory apart from report_id and
   * generation is not parsed: it is that inventory again, every dataset a reference. (The worker
   * checks every reference against PostgreSQL, as for any report.) Anything unusual is parsed.
   */
  const recogniseInventory = async (req: Request, text: string): Promise<boolean> => {
    const fingerprint = identityFreeFingerprint(text);
    if (!fingerprint) return false;
    fingerprints.set(req, fingerprint.hash);
    const sliced = REPORT_ID_TOKEN.exec(fingerprint.reportIdToken)?.[1];
    // A copy of its own (ASCII by the pattern), not a slice that holds the whole body's text.
    const reportId = sliced === undefined ? undefined : Buffer.from(sliced, 'latin1').toString('latin1');
    const generation = strictDecimal(fingerprint.generationToken);
    if (reportId === undefined || generation === null) return false;
    // Only for a caller who may report for this system; the route answers the others (after the body, as before).
    let systemId: string;
    try {
      systemId = systemIdParam(req);
      requireSystem(req.res!, systemId);
    } catch {
      return false;
    }
    // Redis unreachable: the report could not be accepted anyway (claiming it needs Redis), so
    // the 503 comes now instead of after a second command timeout.
    const known = await orUnavailable(hashes.recognise(systemId, fingerprint.hash));
    if (!known) return false;
    recognised.set(req, { ...known, reportId, generation });
    deps.metrics.inventoryBodiesRecognised.inc();
    return true;
  };
  const inventoryJson = [inflight.middleware(), ...jsonBody(deps.config.inventoryBodyLimitBytes, [TSV], recogniseInventory)];
  const smallJson = jsonBody(deps.config.jsonBodyLimitBytes);
  const parseInventory = bodyParser(INVENTORY_API.report);
  const parseOne = bodyParser(INVENTORY_API.snapshot);
  const parseBatch = bodyParser(INVENTORY_API.batch);

  /**
   * A host key exists only for a registered system; the admin token may name any id, so an id
   * that is no system is a 404 before anything is recorded or queued.
   */
  async function requireRegistered(res: Response, systemId: string): Promise<void> {
    if (principalOf(res).kind !== 'admin') return;
    if (!(await deps.systems.get(systemId))) throw notFound(`no system with id ${systemId}`);
  }

  /** Claim, enqueue, answer. Shared by every way a report arrives. */
  async function accept(res: Response, job: ReconcilePayload, counts: { datasets: number; snapshots: number; bookmarks: number }, body?: { fingerprint?: string; known?: KnownBody }) {
    const meta: ReportMeta = { mode: job.mode, received_at: job.received_at, chunk_count: job.chunk_count, generation: job.generation };
    if (job.generation !== null) {
      const applied = await orUnavailable(registry.appliedGeneration(job.system_id));
      if (applied !== null && job.generation < applied) {
        return res.status(202).json({ report_id: job.report_id, system_id: job.system_id, status: 'superseded', detail: `generation ${job.generation} is older than the applied generation ${applied}; nothing changed` });
      }
    }
    const claim = await orUnavailable(registry.claimChunk(job.system_id, job.report_id, job.chunk_index, job.body_hash, meta));
    if (claim.outcome === 'different') {
      throw conflict(`report ${job.report_id} (chunk ${job.chunk_index}) was already received with a different body or different report fields; use a new report_id`, { field: 'report_id' });
    }
    // A full single-chunk inventory sends only the datasets that changed since the newest
    // accepted one; the others travel as references (dataset-hashes.ts).
    const byReference = job.mode === 'inventory' && job.chunk_count === 1 && job.generation !== null;
    // Recorded durably before it is queued: should Redis lose the job, the report sweep marks
    // the report lost instead of it vanishing (PostgreSQL away: 503, nothing accepted).
    let recorded: boolean;
    try {
      recorded = await reports.recordAccepted({ ...job, received_at: claim.meta.received_at });
    } catch (err) {
      if (claim.outcome === 'new') await registry.releaseChunk(job.system_id, job.report_id, job.chunk_index);
      throw err;
    }
    if (!recorded) {
      if (claim.outcome === 'new') await registry.releaseChunk(job.system_id, job.report_id, job.chunk_index);
      throw notFound(`no system ${job.system_id}`);
    }
    let queued = job;
    if (byReference && body?.known) {
      queued = { ...job, datasets: [], ...(body.known.refs.length ? { unchanged: body.known.refs } : {}) };
    } else if (byReference) {
      const { changed, unchanged } = await hashes.split(job.system_id, job.datasets);
      queued = { ...job, datasets: changed, ...(unchanged.length ? { unchanged } : {}) };
    }
    try {
      // Small reports first: a host's one new snapshot should not wait behind bulk inventories
      // (BullMQ: a lower number is served earlier; equal priorities stay first-in, first-out).
      // The size is the whole report as the host sent it, datasets passed by reference included:
      // the apply still upserts every listed dataset, and a large host whose re-report changed
      // one dataset must not jump ahead of a small host's new snapshot.
      let rows = 0;
      for (const d of queued.datasets) rows += d.snapshots.length + d.bookmarks.length;
      for (const r of queued.unchanged ?? []) rows += r.rows;
      const priority = Math.min(2_000_000, 1 + Math.floor(rows / 1000));
      await deps.producer.enqueue('reconcile', { ...queued, received_at: claim.meta.received_at }, { priority }, { prevalidated: true });
    } catch (err) {
      if (claim.outcome === 'new') await registry.releaseChunk(job.system_id, job.report_id, job.chunk_index);
      if (err instanceof QueueUnavailableError) throw unavailable(`the queue is unreachable; nothing was accepted, retry later`);
      throw err;
    }
    if (byReference && claim.outcome === 'new') {
      const known = body?.known ?? (body?.fingerprint ? DatasetHashes.knownBody(body.fingerprint, job.complete, job.datasets) : undefined);
      await hashes.remember(job.system_id, job.generation!, job.complete, body?.known ? body.known.refs : job.datasets, known);
    }
    if (claim.outcome === 'new') deps.metrics.reportsAccepted.inc({ mode: job.mode });
    res.status(202).json({
      report_id: job.report_id,
      system_id: job.system_id,
      status: 'queued',
      duplicate: claim.outcome === 'same',
      received_at: claim.meta.received_at,
      chunk: { index: job.chunk_index, count: job.chunk_count },
      accepted: counts,
      status_url: `/api/v1/reports/${encodeURIComponent(job.report_id)}?system_id=${job.system_id}`,
    });
  }

  route(r, INVENTORY_API.report, ...inventoryJson, async (req, res) => {
    const systemId = systemIdParam(req);
    requireSystem(res, systemId);
    const receivedAt = new Date().toISOString();
    const known = recognised.get(req);
    if (known) {
      await requireRegistered(res, systemId);
      return accept(
        res,
        { mode: 'inventory', system_id: systemId, report_id: known.reportId, generation: known.generation, complete: known.complete, chunk_index: 0, chunk_count: 1, body_hash: bodySha256(req), received_at: receivedAt, datasets: [] },
        { datasets: known.refs.length, snapshots: known.snapshots, bookmarks: known.bookmarks },
        { known },
      );
    }
    if (req.is(TSV)) {
      // Every query parameter once, as a plain value: a repeated or nested one is a 400, never
      // read as something else (or replaced by a default).
      const q = queryParams(req, ['report_id', 'generation', 'complete']);
      const given = q.single('report_id');
      const reportId = given ?? `tsv-${randomUUID()}`;
      if (!/^[A-Za-z0-9._-]{1,128}$/.test(reportId)) throw badRequest('report_id must be 1–128 characters of letters, digits, ".", "_" or "-"', { field: 'report_id' });
      const genRaw = q.single('generation');
      const generation = genRaw === undefined ? Date.now() : strictDecimal(genRaw);
      if (generation === null) throw badRequest('generation must be a non-negative decimal integer without sign, exponent or leading zeros (e.g. epoch milliseconds)', { field: 'generation' });
      const complete = queryBool(q.single('complete'), 'complete', false);
      const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
      if (encoding !== 'identity') throw new HttpProblem(415, 'unsupported-media-type', 'send zfs list output uncompressed (no Content-Encoding)', { field: 'Content-Encoding' });
      await requireRegistered(res, systemId);
      const hash = createHash('sha256');
      req.on('data', (c: Buffer) => hash.update(c));
      const parsed = fromZfsList(await readZfsListBody(req, deps.config.inventoryBodyLimitBytes));
      const bodyHash = createHash('sha256').update(`${hash.digest('hex')}|${generation}|${complete}`).digest('hex');
      return accept(res, { mode: 'inventory', system_id: systemId, report_id: reportId, generation, complete, chunk_index: 0, chunk_count: 1, body_hash: bodyHash, received_at: receivedAt, datasets: parsed.datasets }, { datasets: parsed.datasets.length, snapshots: parsed.snapshots, bookmarks: parsed.bookmarks });
    }
    if (req.body === undefined) throw badRequest('an inventory body is required (JSON, or zfs list output as text/tab-separated-values)');
    const body = parseInventory(req);
    await requireRegistered(res, systemId);
    const chunk = body.chunk ?? { index: 0, count: 1 };
    if (chunk.index >= chunk.count) throw validationProblem({ pointer: '/chunk/index', field: 'chunk.index', detail: `chunk.index must be below chunk.count (${chunk.count})` });
    let normalized;
    try {
      normalized = normalizeInventory(body);
    } catch (err) {
      reportFieldError(err);
    }
    // From here on only the compact rows are used: the parsed document (several times the body's
    // size) can be collected while the report is recorded and queued.
    req.body = undefined;
    await accept(
      res,
      { mode: 'inventory', system_id: systemId, report_id: body.report_id, generation: body.generation, complete: body.complete, chunk_index: chunk.index, chunk_count: chunk.count, body_hash: bodySha256(req), received_at: receivedAt, datasets: normalized!.datasets },
      { datasets: normalized!.datasets.length, snapshots: normalized!.snapshots, bookmarks: normalized!.bookmarks },
      { fingerprint: fingerprints.get(req) },
    );
  });

  /** The original single-snapshot and batch forms: upserts, one job per system named in the items. */
  async function acceptOriginal(req: Request, res: Response, items: OriginalSnapshotItem[], pointerOf: (i: number) => string, single: boolean) {
    const who = principalOf(res);
    if (who.kind === 'anonymous') throw unauthorized();
    items.forEach((item, i) => {
      if (who.kind === 'host' && item.system_id.toLowerCase() !== who.systemId) {
        throw new HttpProblem(403, 'forbidden', `${pointerOf(i).slice(1).replace(/\//g, '.') || 'body'}.system_id: a host key reports only for its own system`, { field: `${single ? '' : `[${i}].`}system_id`, pointer: `${pointerOf(i)}/system_id` });
      }
      if (who.kind !== 'host' && who.kind !== 'admin') throw forbidden('reporting snapshots needs the host key (or the admin token)');
    });
    let normalized: { perSystem: Map<string, ReconcileDataset[]>; items: OriginalItemRow[] };
    try {
      normalized = normalizeOriginalSnapshots(items, pointerOf);
    } catch (err) {
      reportFieldError(err);
    }
    const perSystem = normalized!.perSystem;
    if (who.kind === 'admin') {
      for (const systemId of perSystem.keys()) {
        if (!(await deps.systems.get(systemId))) throw validationProblem({ pointer: '/system_id', field: 'system_id', detail: `system_id ${systemId} is not a registered system` });
      }
    }
    const receivedAt = new Date().toISOString();
    const reportId = `batch-${randomUUID()}`;
    const bodyHash = bodySha256(req);
    const jobs = [...perSystem].map(([systemId, datasets]): ReconcilePayload => ({ mode: 'batch', system_id: systemId.toLowerCase(), report_id: reportId, generation: null, complete: false, chunk_index: 0, chunk_count: 1, body_hash: bodyHash, received_at: receivedAt, datasets }));
    try {
      for (const job of jobs) {
        // Batches change datasets behind the inventories' back: the next full inventory of this
        // system is sent whole. Forgetting before the batch is accepted is as good (a refused
        // batch only costs one whole inventory), and it shares the claim's round trip.
        const forgotten = hashes.forget(job.system_id);
        // Known at once to GET /reports/{id} (the Location of the answer), before a worker applies it.
        await orUnavailable(registry.claimChunk(job.system_id, reportId, 0, bodyHash, { mode: 'batch', received_at: receivedAt, chunk_count: 1, generation: null }));
        await forgotten;
        if (!(await reports.recordAccepted({ ...job, chunk_index: 0 }))) throw notFound(`no system ${job.system_id}`);
        // Built here from rows normalizeOriginalSnapshots checked: the job schema holds by construction.
        await deps.producer.enqueue('reconcile', job, undefined, { prevalidated: true });
        deps.metrics.reportsAccepted.inc({ mode: job.mode });
      }
    } catch (err) {
      if (err instanceof QueueUnavailableError) throw unavailable('the queue is unreachable; nothing was accepted, retry later');
      throw err;
    }
    const statusUrl = `/api/v1/reports/${reportId}`;
    res.location(statusUrl);
    if (single) {
      res.status(201).json({ report_id: reportId, status: 'queued', accepted: 1, status_url: statusUrl, ...acceptedSnapshot(items[0]!, normalized!.items[0]!) });
    } else {
      // The original answered a JSON array of the snapshots it stored, and its client counts that
      // array (`jq length`); the report's progress is at Location.
      res.status(202).json(items.map((item, i) => acceptedSnapshot(item, normalized!.items[i]!)));
    }
  }

  route(r, INVENTORY_API.snapshot, ...smallJson, async (req, res) => {
    const item = parseOne(req);
    await acceptOriginal(req, res, [item], () => '', true);
  });

  route(r, INVENTORY_API.batch, ...bigJson, async (req, res) => {
    if (req.is(TSV)) throw new HttpProblem(415, 'unsupported-media-type', 'the batch endpoint takes a JSON array; send zfs list output to /systems/{id}/inventory');
    const items = parseBatch(req);
    await acceptOriginal(req, res, items, (i) => `/${i}`, false);
  });

  route(r, INVENTORY_API.status, async (req, res) => {
    const reportId = req.params.report_id;
    if (typeof reportId !== 'string' || !/^[A-Za-z0-9._-]{1,160}$/.test(reportId)) throw badRequest('report_id is not a valid report id', { field: 'report_id' });
    const who = principalOf(res);
    if (who.kind === 'anonymous') throw unauthorized();
    queryParams(req, ['system_id']).single('system_id');
    let systemId: string | undefined;
    if (who.kind === 'host') systemId = who.systemId;
    else if (actsAsOperator(who, res)) systemId = typeof req.query.system_id === 'string' ? req.query.system_id.toLowerCase() : undefined;
    else throw forbidden('reading reports needs a host key or the admin token');
    if (typeof req.query.system_id === 'string' && who.kind === 'host' && req.query.system_id.toLowerCase() !== who.systemId) throw forbidden('a host key reads only its own reports');

    if (systemId !== undefined && !UUID.test(systemId)) throw badRequest('system_id must be a UUID', { field: 'system_id' });
    const rows = await reports.find(reportId, systemId);
    if (rows.length > 1) throw badRequest('several systems used this report id; add ?system_id=', { field: 'system_id' });
    const row = rows[0];
    if (row && row.status === 'lost') {
      return res.json({
        report_id: row.report_id,
        system_id: row.system_id,
        mode: row.mode,
        status: 'lost',
        generation: row.generation === null ? null : Number(row.generation),
        complete: row.complete,
        received_at: row.received_at.toISOString(),
        applied_at: null,
        counts: row.counts,
        error: row.error ?? 'the queue lost this report before it was applied; re-send it',
        chunks: { received: row.accepted_chunks.length, expected: row.chunk_count },
      });
    }
    if (row && row.status !== 'queued') {
      return res.json({
        report_id: row.report_id,
        system_id: row.system_id,
        mode: row.mode,
        status: row.status,
        generation: row.generation === null ? null : Number(row.generation),
        complete: row.complete,
        received_at: row.received_at.toISOString(),
        applied_at: row.applied_at ? row.applied_at.toISOString() : null,
        counts: row.counts,
        ...(row.error ? { error: row.error } : {}),
        chunks: { expected: row.chunk_count },
      });
    }
    // Not applied yet: what the API accepted (chunks received so far).
    const sid = row?.system_id ?? systemId;
    const pending = sid ? await orUnavailable(registry.get(sid, reportId)) : null;
    if (!pending && row) {
      // Recorded as accepted, but Redis no longer knows it (restarted?): queued until the report
      // sweep has checked its job.
      return res.json({
        report_id: row.report_id,
        system_id: row.system_id,
        mode: row.mode,
        status: 'queued',
        generation: row.generation === null ? null : Number(row.generation),
        complete: row.complete,
        received_at: row.received_at.toISOString(),
        applied_at: null,
        counts: row.counts,
        chunks: { received: row.accepted_chunks.length, expected: row.chunk_count },
      });
    }
    if (!pending) throw notFound(`no report ${reportId}${sid ? ` for system ${sid}` : ''} (reports are kept 7 days before they apply; admins may need ?system_id=)`);
    res.json({
      report_id: reportId,
      system_id: sid,
      mode: pending.meta.mode,
      // A worker is inside the apply once every chunk is there (or a chunk is being stored).
      status: pending.applyingSince ? 'applying' : 'queued',
      ...(pending.applyingSince ? { applying_since: pending.applyingSince } : {}),
      generation: pending.meta.generation,
      received_at: pending.meta.received_at,
      applied_at: null,
      counts: { added: 0, removed: 0, changed: 0, unchanged: 0 },
      chunks: { received: pending.chunks, expected: pending.meta.chunk_count },
    });
  });

  return r;
}
