import type { ApiDeps } from '../deps.js';

/**
 * Queue a recompute of the given groups. Best effort: the change that prompted it is already
 * stored, and the next inventory of any member (or the periodic sweep) recomputes anyway.
 */
export async function queueGroupRecompute(deps: Pick<ApiDeps, 'producer' | 'logger'>, groupIds: readonly string[], reason: string): Promise<void> {
  if (groupIds.length === 0) return;
  try {
    await deps.producer.enqueueBulk(
      'recomputeGroup',
      groupIds.map((group_id) => ({ group_id, reason })),
    );
  } catch (err) {
    deps.logger.warn({ groups: groupIds, reason, err: (err as Error).message }, 'could not queue a group recompute');
  }
}

/** The groups a system belongs to (read before deleting it or its inventory). */
export async function groupIdsOf(deps: Pick<ApiDeps, 'groups'>, systemId: string): Promise<string[]> {
  return (await deps.groups.groupsOfSystem(systemId)).map((g) => g.id);
}
