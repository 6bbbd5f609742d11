/**
 * Group policy defaults and validation (issue 4, "Sync groups"). An invalid combination must be
 * refused before it is stored: the original could persist a group that broke every listing.
 */
import { checkPoolName } from '../zfs/zfs-name.js';
import { checkDatasetGlob, checkSnapshotPattern } from './eligibility.js';
import type { SyncGroupPolicy } from './types.js';

/** 72 hours: the original's hard-coded rule, now only a default. */
export const DEFAULT_MAX_LAG_SECONDS = 259_200;

/** A policy with the defaults; `overrides` replace whole fields. */
export function defaultSyncPolicy(id: string, overrides: Partial<Omit<SyncGroupPolicy, 'id'>> = {}): SyncGroupPolicy {
  return {
    id,
    enabled: true,
    directional: false,
    hubSystemId: null,
    transferMode: 'push',
    snapshotPattern: null,
    minSnapshotAgeSeconds: 0,
    maxLagSeconds: DEFAULT_MAX_LAG_SECONDS,
    sendOptions: { compressed: true, raw: false },
    receiveOptions: { resumable: true, unmounted: false },
    targetPools: {},
    datasets: { include: [], exclude: [] },
    ...overrides,
  };
}

function isNonNegativeInteger(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Every problem with a policy (empty when valid). With `memberIds`, membership rules are checked
 * too: the hub and every `targetPools` key must be members.
 */
export function checkSyncPolicy(policy: SyncGroupPolicy, memberIds?: readonly string[]): string[] {
  const problems: string[] = [];
  const members = memberIds ? new Set(memberIds) : null;

  if (policy.directional) {
    if (!policy.hubSystemId) problems.push('hub_system_id is required when directional is true');
    else if (members && !members.has(policy.hubSystemId)) problems.push('hub_system_id must be a member of the group');
  }
  if (policy.transferMode !== 'push' && policy.transferMode !== 'pull') problems.push("transfer_mode must be 'push' or 'pull'");
  if (policy.snapshotPattern !== null) {
    const reason = checkSnapshotPattern(policy.snapshotPattern);
    if (reason !== null) problems.push(`snapshot_pattern: ${reason}`);
  }
  if (!isNonNegativeInteger(policy.minSnapshotAgeSeconds)) problems.push('min_snapshot_age_seconds must be a non-negative integer');
  if (!isNonNegativeInteger(policy.maxLagSeconds)) problems.push('max_lag_seconds must be a non-negative integer');
  for (const glob of [...policy.datasets.include, ...policy.datasets.exclude]) {
    const reason = checkDatasetGlob(glob);
    if (reason !== null) problems.push(`datasets: ${reason}`);
  }
  for (const [systemId, pool] of Object.entries(policy.targetPools)) {
    if (members && !members.has(systemId)) problems.push(`target_pools: ${systemId} is not a member of the group`);
    const reason = checkPoolName(pool);
    if (reason !== null) problems.push(`target_pools: ${systemId}: ${reason}`);
  }
  return problems;
}
