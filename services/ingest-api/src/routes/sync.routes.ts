import { Router, type Request, type Response } from 'express';
import { instructionCommandFieldsToJson, type RecomputeDatasetPayload } from '@zfs-sync/contracts';
import { DuplicateGroupNameError, InstructionStateError, VERDICT_SEVERITY, listLinksPage, mergeGroup, policyOf, syncGroupToJson, type InstructionRow, type LinkDiagnosticRow, type LinkRecord, type SyncGroupRow } from '@zfs-sync/db';
import { checkProtectionPolicy, checkSyncPolicy } from '@zfs-sync/domain';
import { auditActor, principalOf, requireAdmin, requireSystem } from '../auth/authenticate.js';
import type { ApiDeps } from '../deps.js';
import { SYNC_API, SYNC_GROUPS_API } from '@zfs-sync/contracts';
import { bodyParser, route } from '../http/route.js';
import { jsonBody } from '../http/body.js';
import { queryParams, setTotal } from '../http/query.js';
import { HttpProblem, badRequest, conflict, forbidden, notFound, unauthorized, validationProblem } from '../http/problem.js';
import { queueGroupRecompute } from '../sync/recompute-groups.js';
import { systemIdParam } from './systems.routes.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function uuidParam(req: Request, name: string): string {
  const v = req.params[name];
  if (typeof v !== 'string' || !UUID.test(v)) throw badRequest(`${name} must be a UUID`, { field: name });
  return v.toLowerCase();
}

export function optionalUuidQuery(req: Request, name: string): string | null {
  const v = req.query[name];
  if (v === undefined || v === '') return null;
  if (typeof v !== 'string' || !UUID.test(v)) throw badRequest(`${name} must be a UUID`, { field: name });
  return v.toLowerCase();
}

/** The original client joins pool/dataset itself and takes a dataset containing '/' as the full path. */
function wireDataset(pool: string, path: string): string {
  return path.includes('/') ? `${pool}/${path}` : path;
}

export function instructionToJson(i: InstructionRow) {
  const p = i.plan;
  return {
    instruction_id: i.id,
    kind: i.kind,
    ...(i.strategy ? { strategy: i.strategy } : {}),
    sync_group_id: i.group_id,
    // Every field the commands are made of, so the agent can rebuild them instead of running text.
    ...(p.transferMode ? instructionCommandFieldsToJson(p) : {}),
    source_system_id: i.source_system_id,
    target_system_id: i.target_system_id,
    pool: p.pool,
    dataset: wireDataset(p.pool, p.dataset),
    dataset_path: p.dataset,
    target_pool: p.targetPool,
    target_dataset: wireDataset(p.targetPool, p.targetDataset),
    plan_kind: p.kind,
    starting_snapshot: p.startingSnapshot,
    starting_guid: p.startingGuid,
    initial_snapshot: p.initialSnapshot ?? null,
    ending_snapshot: p.endingSnapshot,
    ending_guid: p.endingGuid,
    is_incremental: p.isIncremental,
    snapshot_count: p.snapshotCount,
    resume_token: p.resumeToken,
    source_ssh_hostname: p.sourceSshHostname,
    target_ssh_hostname: p.targetSshHostname,
    commands: p.commands,
    ...(p.wouldDestroy ? { would_destroy: p.wouldDestroy } : {}),
    status: i.status,
    lease_kind: i.lease_kind,
    attempts: i.attempts,
    consecutive_failures: i.consecutive_failures,
    last_error: i.last_error,
    lease_expires_at: i.lease_expires_at ? i.lease_expires_at.toISOString() : null,
    next_attempt_at: i.next_attempt_at ? i.next_attempt_at.toISOString() : null,
  };
}

export function linkToJson(l: LinkRecord) {
  return {
    sync_group_id: l.group_id,
    dataset: l.dataset,
    source_system_id: l.source_system_id,
    target_system_id: l.target_system_id,
    verdict: l.verdict,
    computed_verdict: l.computed_verdict,
    lag_seconds: l.lag_seconds === null ? null : Number(l.lag_seconds),
    base: l.base ? { name: l.base.name, guid: l.base.guid, kind: l.base.kind } : null,
    source_only_count: l.source_only_count,
    target_only_count: l.target_only_count,
    name_collision: l.name_collision,
    matched_by: l.matched_by,
    explanation: l.explanation,
    instruction_id: l.instruction_id,
    conflict_id: l.conflict_id,
    consecutive_failures: l.consecutive_failures,
    last_error: l.last_error,
    next_attempt_at: l.next_attempt_at ? l.next_attempt_at.toISOString() : null,
    updated_at: l.updated_at.toISOString(),
  };
}

/** Why a link of this system has nothing in this hand-out, in one sentence. */
function diagnosticReason(l: LinkDiagnosticRow, systemId: string, withheld: string | undefined): string {
  if (withheld) return `withheld: ${withheld}; the plan is being recomputed`;
  if (l.conflict_id && ['diverged', 'no_common_base'].includes(l.verdict) && l.instruction_status === null) return `${l.verdict}: needs an operator (conflict ${l.conflict_id})`;
  if (!l.instruction_id) return `${l.verdict}: nothing to transfer — ${l.explanation}`;
  if (l.executor_system_id !== systemId) return `the transfer runs on system ${l.executor_system_id}`;
  if (l.instruction_status === 'offered') return `handed out, not started yet: offered until ${l.lease_expires_at?.toISOString()}`;
  if (l.instruction_status === 'started') return `running: leased until ${l.lease_expires_at?.toISOString()} (renewed by progress reports)`;
  if (l.instruction_status === 'failed') return `backing off after a failure until ${l.next_attempt_at?.toISOString() ?? 'the engine has looked at it'}: ${l.last_error}`;
  if (l.instruction_status === 'succeeded') return "transfer reported succeeded; waiting for the target's next inventory";
  if (l.next_attempt_at && l.next_attempt_at > new Date()) return `backing off until ${l.next_attempt_at.toISOString()}: ${l.last_error}`;
  return `${l.verdict}: ${l.explanation}`;
}

export function syncRoutes(deps: ApiDeps): Router {
  const r = Router();
  const body = jsonBody(deps.config.jsonBodyLimitBytes);
  const parseCreate = bodyParser(SYNC_GROUPS_API.create);
  const parseUpdate = bodyParser(SYNC_GROUPS_API.update);
  const parseMembers = bodyParser(SYNC_GROUPS_API.addMembers);
  const parseStatus = bodyParser(SYNC_API.instructionStatus);

  /** Validate a would-be group as a whole; an invalid combination is refused, never stored. */
  async function checkGroup(g: ReturnType<typeof mergeGroup>): Promise<void> {
    const known = await deps.groups.existingSystems(g.system_ids);
    const unknown = g.system_ids.filter((id) => !known.has(id));
    if (unknown.length) throw validationProblem({ pointer: '/system_ids', field: 'system_ids', detail: `system_ids contains unknown systems: ${unknown.join(', ')}` });
    const problems = checkSyncPolicy(policyOf({ ...g, id: 'new' } as SyncGroupRow), g.system_ids);
    const protectionProblem = checkProtectionPolicy(g.protection);
    if (protectionProblem) problems.push(protectionProblem);
    if (problems.length) {
      const field = /^([a-z_]+)/.exec(problems[0]!)?.[1] ?? '';
      throw validationProblem({ pointer: `/${field}`, field, detail: problems[0]! });
    }
  }

  async function save(res: Response, id: string | null, g: ReturnType<typeof mergeGroup>, status: number) {
    await checkGroup(g);
    try {
      const saved = await deps.groups.save(id, g, auditActor(res));
      await queueGroupRecompute(deps, [saved.id], id ? 'group updated' : 'group created');
      res.status(status).json(syncGroupToJson(saved));
    } catch (err) {
      if (err instanceof DuplicateGroupNameError) throw conflict(err.message, { field: 'name' });
      throw err;
    }
  }

  async function groupOr404(id: string): Promise<SyncGroupRow> {
    const g = await deps.groups.get(id);
    if (!g) throw notFound(`no sync group with id ${id}`);
    return g;
  }

  route(r, SYNC_GROUPS_API.create, ...body, async (req, res) => {
    requireAdmin(res);
    await save(res, null, mergeGroup(null, parseCreate(req)), 201);
  });
  route(r, SYNC_GROUPS_API.list, async (_req, res) => {
    requireAdmin(res);
    res.json((await deps.groups.list()).map(syncGroupToJson));
  });
  route(r, SYNC_GROUPS_API.get, async (req, res) => {
    requireAdmin(res);
    res.json(syncGroupToJson(await groupOr404(uuidParam(req, 'id'))));
  });
  route(r, SYNC_GROUPS_API.update, ...body, async (req, res) => {
    requireAdmin(res);
    const id = uuidParam(req, 'id');
    await save(res, id, mergeGroup(await groupOr404(id), parseUpdate(req)), 200);
  });
  route(r, SYNC_GROUPS_API.delete, async (req, res) => {
    requireAdmin(res);
    const id = uuidParam(req, 'id');
    if (!(await deps.groups.delete(id, auditActor(res)))) throw notFound(`no sync group with id ${id}`);
    res.status(204).end();
  });
  route(r, SYNC_GROUPS_API.addMembers, ...body, async (req, res) => {
    requireAdmin(res);
    const id = uuidParam(req, 'id');
    const group = await groupOr404(id);
    const add = parseMembers(req);
    const ids = [...(add.system_ids ?? []), ...(add.system_id ? [add.system_id] : [])];
    if (ids.length === 0) throw validationProblem({ pointer: '/system_ids', field: 'system_ids', detail: 'system_ids is required' });
    await save(res, id, mergeGroup(group, { system_ids: [...group.system_ids, ...ids] }), 200);
  });
  route(r, SYNC_GROUPS_API.removeMember, async (req, res) => {
    requireAdmin(res);
    const id = uuidParam(req, 'id');
    const systemId = uuidParam(req, 'system_id');
    const group = await groupOr404(id);
    if (!group.system_ids.includes(systemId)) throw notFound(`system ${systemId} is not a member of group ${id}`);
    if (group.directional && group.hub_system_id === systemId) throw conflict('the hub cannot leave its group; choose another hub first', { field: 'system_id' });
    const targetPools = Object.fromEntries(Object.entries(group.target_pools).filter(([k]) => k !== systemId));
    await save(res, id, mergeGroup({ ...group, target_pools: targetPools }, { system_ids: group.system_ids.filter((s) => s !== systemId) }), 200);
  });

  // ---- instructions and the feedback loop ----

  route(r, SYNC_API.instructions, async (req, res) => {
    const systemId = systemIdParam(req, 'system_id');
    const who = requireSystem(res, systemId);
    const groupId = optionalUuidQuery(req, 'sync_group_id');
    const diagnostics = req.query.include_diagnostics === 'true' || req.query.include_diagnostics === '1';
    // Only the host itself takes the offer lease on what it is handed; an operator looking does not.
    // `lease=false` lets a host look without taking (the agent's --dry-run).
    const { handed, withheld } = await deps.instructions.handOut(systemId, { groupId, offerSeconds: deps.config.instructionOfferSeconds, lease: who.kind === 'host' && req.query.lease !== 'false' });
    if (who.kind === 'host') for (const i of handed) deps.metrics.plansHandedOut.inc({ kind: i.kind });
    // A plan the latest inventories no longer allow is not handed out; the engine replaces it.
    await askForRecompute(
      withheld.map((w) => ({ group_id: w.instruction.group_id, dataset: w.instruction.dataset, reason: 'plan withheld at hand-out' })),
      'withheld plans',
    );
    const incoming = await deps.instructions.incoming(systemId, groupId);
    const answer: Record<string, unknown> = {
      system_id: systemId,
      timestamp: new Date().toISOString(),
      dataset_count: handed.length,
      datasets: handed.map(instructionToJson),
      incoming: incoming.map((i) => ({ instruction_id: i.id, sync_group_id: i.group_id, source_system_id: i.source_system_id, dataset: i.dataset, status: i.status, ending_snapshot: i.plan.endingSnapshot, ending_guid: i.ending_guid })),
    };
    if (diagnostics) {
      const handedIds = new Set(handed.map((i) => i.id));
      const withheldWhy = new Map(withheld.map((w) => [w.instruction.id, w.reason]));
      const rows = await deps.links.diagnosticsOf(systemId, groupId);
      answer.diagnostics = rows
        .filter((l) => !l.instruction_id || !handedIds.has(l.instruction_id))
        .map((l) => ({
          sync_group_id: l.group_id,
          dataset: l.dataset,
          source_system_id: l.source_system_id,
          target_system_id: l.target_system_id,
          verdict: l.verdict,
          conflict_id: l.conflict_id,
          instruction_id: l.instruction_id,
          reason: diagnosticReason(l, systemId, withheldWhy.get(l.instruction_id ?? '')),
        }));
    }
    res.json(answer);
  });

  route(r, SYNC_API.instructionStatus, ...body, async (req, res) => {
    const id = uuidParam(req, 'instruction_id');
    const who = principalOf(res);
    if (who.kind === 'anonymous') throw unauthorized();
    if (who.kind !== 'host') throw forbidden('only the executing system reports on its instructions, with its own key');
    const report = parseStatus(req);
    const bytes = report.bytes_transferred === undefined ? null : String(report.bytes_transferred);
    let recorded;
    try {
      recorded = await deps.instructions.recordReport(id, who.systemId, report.status, { bytes, error: report.error ?? null, runLeaseSeconds: deps.config.instructionLeaseSeconds });
      if (report.status === 'succeeded' || report.status === 'failed') deps.metrics.transfers.inc({ outcome: report.status });
    } catch (err) {
      if (err instanceof InstructionStateError) {
        if (err.message === 'not-found') throw notFound(`no instruction ${id} for this system`);
        throw new HttpProblem(409, 'conflict', err.message, { field: 'status' });
      }
      throw err;
    }
    // Recorded: what it means for the link is the engine's decision (the sweep re-drives it if
    // this enqueue is lost).
    if (recorded.needsRecompute) {
      const i = recorded.instruction;
      await askForRecompute([{ group_id: i.group_id, dataset: i.dataset, reason: `transfer ${report.status}` }], 'a status report');
    }
    res.json(instructionToJson(recorded.instruction));
  });

  /**
   * Ask the engine to recompute. The fact that needs it is already recorded in PostgreSQL and
   * the sync sweep finds anything left unprocessed, so a queue outage here is logged, not fatal.
   */
  async function askForRecompute(jobs: RecomputeDatasetPayload[], what: string): Promise<void> {
    if (jobs.length === 0) return;
    try {
      await deps.producer.enqueueBulk('recomputeDataset', jobs);
    } catch (err) {
      deps.logger.warn({ err: (err as Error).message }, `could not queue the recompute for ${what}; the sync sweep will pick it up`);
    }
  }

  // ---- links ----

  route(r, SYNC_API.groupLinks, async (req, res) => {
    requireAdmin(res);
    const id = uuidParam(req, 'id');
    await groupOr404(id);
    res.json((await deps.links.ofGroup(id)).map(linkToJson));
  });

  route(r, SYNC_API.links, async (req, res) => {
    const systemId = optionalUuidQuery(req, 'system_id');
    if (systemId) requireSystem(res, systemId);
    else requireAdmin(res);
    if (Object.keys(req.query).some((k) => k !== 'system_id')) {
      // Paged, filtered view (additive; without these parameters the original full list below).
      const q = queryParams(req, ['system_id', 'sync_group_id', 'verdict', 'only_problems', 'q', 'limit', 'offset']);
      const { limit, offset } = q.page(100, 1000);
      const page = await listLinksPage(deps.pool, {
        groupId: q.uuid('sync_group_id'),
        systemId,
        verdicts: q.listOf('verdict', VERDICT_SEVERITY),
        onlyProblems: q.bool('only_problems'),
        q: q.text('q', 255),
        limit,
        offset,
      });
      setTotal(res, page.total);
      return res.json(page.rows.map((l) => ({ ...linkToJson(l), sync_group_name: l.group_name, source_hostname: l.source_hostname, target_hostname: l.target_hostname })));
    }
    res.json((await deps.links.ofSystem(systemId)).map(linkToJson));
  });

  return r;
}
