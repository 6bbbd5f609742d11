import { Router } from 'express';
import { VERDICT_SEVERITY, groupMatrix, linkDetail, type LinkRecord } from '@zfs-sync/db';
import { checkDatasetPath } from '@zfs-sync/domain';
import { requireReader } from '../auth/authenticate.js';
import type { ApiDeps } from '../deps.js';
import { queryParams } from '../http/query.js';
import { route } from '../http/route.js';
import { VIEWS_API } from '@zfs-sync/contracts';
import { badRequest, notFound } from '../http/problem.js';
import { linkToJson, uuidParam } from './sync.routes.js';

type LinkRow = LinkRecord;

/**
 * What a matrix cell shows for one member of one dataset:
 * - the worst link into the member (a mesh may feed one target from one source and report a
 *   divergence with another), with its verdict, lag, base and explanation;
 * - `source` for the hub of a hub-and-spoke group (it feeds the others);
 * - `up_to_date` for a member that holds the dataset and needs nothing (in a mesh the most
 *   advanced members have no incoming link);
 * - `absent` for a member without the dataset and without a link (nobody can feed it yet).
 */
function cellFor(memberId: string, isHub: boolean, incoming: LinkRow[], present: boolean) {
  if (incoming.length > 0) {
    const rank = (v: string) => (VERDICT_SEVERITY as readonly string[]).indexOf(v);
    const worst = [...incoming].sort((a, b) => rank(a.verdict) - rank(b.verdict))[0]!;
    return { system_id: memberId, state: worst.verdict as string, link: linkToJson(worst), other_links: incoming.length - 1 };
  }
  if (isHub) return { system_id: memberId, state: 'source', link: null, other_links: 0 };
  return { system_id: memberId, state: present ? 'up_to_date' : 'absent', link: null, other_links: 0 };
}

export function linkViewRoutes(deps: ApiDeps): Router {
  const r = Router();

  route(r, VIEWS_API.groupMatrix, async (req, res) => {
    requireReader(res);
    const id = uuidParam(req, 'id');
    const q = queryParams(req, ['q', 'only_problems', 'limit', 'offset']);
    const group = await deps.groups.get(id);
    if (!group) throw notFound(`no sync group with id ${id}`);
    const { limit, offset } = q.page(50, 500);
    const m = await groupMatrix(deps.pool, id, { q: q.text('q', 255), onlyProblems: q.bool('only_problems'), limit, offset });
    const present = new Set(m.presence.map((p) => `${p.dataset}\u0000${p.system_id}`));
    const incoming = new Map<string, LinkRow[]>();
    for (const l of m.links) {
      const k = `${l.dataset}\u0000${l.target_system_id}`;
      incoming.set(k, [...(incoming.get(k) ?? []), l]);
    }
    res.json({
      sync_group: { id: group.id, name: group.name, enabled: group.enabled, directional: group.directional, hub_system_id: group.hub_system_id, protection: group.protection },
      members: m.members,
      total: m.total < 0 ? 0 : m.total,
      limit,
      offset,
      rows: m.datasets.map((d) => ({
        dataset: d.dataset,
        problem: d.problem,
        cells: m.members.map((mem) => cellFor(mem.system_id, mem.is_hub, incoming.get(`${d.dataset}\u0000${mem.system_id}`) ?? [], present.has(`${d.dataset}\u0000${mem.system_id}`))),
      })),
    });
  });

  route(r, VIEWS_API.linkDetail, async (req, res) => {
    requireReader(res);
    const groupId = uuidParam(req, 'id');
    const q = queryParams(req, ['dataset', 'source_system_id', 'target_system_id', 'days']);
    const dataset = q.text('dataset', 255) ?? '';
    if (q.has('dataset') === false) throw badRequest('dataset is required (the path relative to the pool; empty for the pool root)', { field: 'dataset' });
    const reason = dataset === '' ? null : checkDatasetPath(dataset);
    if (reason) throw badRequest(`dataset: ${reason}`, { field: 'dataset' });
    const key = { groupId, dataset, sourceSystemId: q.uuid('source_system_id', true)!, targetSystemId: q.uuid('target_system_id', true)! };
    const d = await linkDetail(deps.pool, key, q.int('days', 1, 30, 7));
    if (!d.link) throw notFound('no such link (it may be in sync in a mesh, or the group no longer replicates the dataset)');
    const details = (d.link.details ?? {}) as Record<string, any>;
    res.json({
      link: { ...linkToJson(d.link), sync_group_name: d.link.group_name, source_hostname: d.link.source_hostname, target_hostname: d.link.target_hostname },
      source_pool: details.source_pool ?? null,
      target_pool: details.target_pool ?? null,
      end: details.end ?? null,
      snapshot_count: details.snapshot_count ?? 0,
      source_only: details.source_only ?? { items: [], count: 0 },
      target_only: details.target_only ?? { items: [], count: 0 },
      name_collisions: details.name_collisions ?? [],
      plans: d.plans.map((p) => ({
        ...p,
        created_at: p.created_at.toISOString(),
        started_at: p.started_at?.toISOString() ?? null,
        finished_at: p.finished_at?.toISOString() ?? null,
        updated_at: p.updated_at.toISOString(),
      })),
      transitions: d.transitions.map((t) => ({ ...t, at: t.at.toISOString() })),
      lag_history: d.lag.map((s) => ({ at: s.at.toISOString(), lag_seconds: s.lag_seconds === null ? null : Number(s.lag_seconds), verdict: s.verdict })),
    });
  });

  return r;
}
