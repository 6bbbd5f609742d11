/**
 * Group policy defaults and validation (issue 4, "Sync groups"). An invalid combination must be
 * refused before it is stored: the original could persist a group that broke every listing.
 */
import { checkPoolName } from '../zfs/zfs-name.js';
import { checkDatasetGlob, checkSnapshotPattern } from './eligibility.js';
import type { SyncGroupPolicy } from './types.js';

/** 72 hours: the original's hard-coded rule, now only a default. */
export const DEFAULT_MAX_LAG_SECONDS = 259_200;

/**
 * The defaults of every group field, in the API's (snake_case) form: the one place they are
 * written. The store fills an omitted field from here, and defaultSyncPolicy builds from it.
 */
export const SYNC_GROUP_DEFAULTS = Object.freeze({
  enabled: true,
  sync_interval_seconds: 3600,
  directional: false,
  transfer_mode: 'push' as const,
  snapshot_pattern: null,
  min_snapshot_age_seconds: 0,
  max_lag_seconds: DEFAULT_MAX_LAG_SECONDS,
  send_options: Object.freeze({ compressed: true, raw: false }),
  receive_options: Object.freeze({ resumable: true, unmounted: false }),
  initial_replication: 'most_recent' as const,
});

/** A policy with the defaults; `overrides` replace whole fields. */
export function defaultSyncPolicy(id: string, overrides: Partial<Omit<SyncGroupPolicy, 'id'>> = {}): SyncGroupPolicy {
  const d = SYNC_GROUP_DEFAULTS;
  return {
    id,
    enabled: d.enabled,
    directional: d.directional,
    hubSystemId: null,
    transferMode: d.transfer_mode,
    snapshotPattern: d.snapshot_pattern,
    minSnapshotAgeSeconds: d.min_snapshot_age_seconds,
    maxLagSeconds: d.max_lag_seconds,
    sendOptions: { ...d.send_options },
    receiveOptions: { ...d.receive_options },
    targetPools: {},
    datasets: { include: [], exclude: [] },
    initialReplication: d.initial_replication,
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
  if (policy.initialReplication !== 'most_recent' && policy.initialReplication !== 'all') problems.push("initial_replication must be 'most_recent' or 'all'");
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
