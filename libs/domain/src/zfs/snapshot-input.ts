/**
 * Normalises where a snapshot reported in the original client's single-snapshot form lives.
 *
 * The original client sends `pool` = first path component, `dataset` = the rest ('' for the
 * pool root) and `name` = the short snapshot name. Other callers send `dataset` with the pool
 * prefix (`tank/data`) or `name` as a full `pool/ds@snap`. Everything is reduced to one form —
 * pool, dataset relative to the pool, short name — so the same snapshot reported both ways is
 * stored once.
 *
 * Known ambiguity, resolved as the compatibility notes require: a dataset equal to the pool, or
 * starting with `pool/`, is read as carrying the pool prefix. A child dataset literally named
 * like its pool (`tank/tank/x` sent relative as `tank/x`) would be misread; the original client
 * never produces that form for the pool root (it sends '').
 */
import { ZFS_MAX_NAME_BYTES, checkDatasetPath, checkPoolName, checkSnapshotShortName, joinDatasetPath, parseZfsName } from './zfs-name.js';

export interface SnapshotLocation {
  pool: string;
  /** Relative to the pool; '' for the pool's root dataset. */
  dataset: string;
  /** Short snapshot name (after `@`). */
  name: string;
}

export type SnapshotLocationField = 'name' | 'pool' | 'dataset';

export type SnapshotLocationResult =
  | { ok: true; value: SnapshotLocation }
  | { ok: false; field: SnapshotLocationField; reason: string };

export interface SnapshotLocationInput {
  name?: unknown;
  pool?: unknown;
  dataset?: unknown;
}

/**
 * Strips a leading pool component from `dataset` when present. The prefix must be the whole
 * first component: with pool `tank`, `tank/x` → `x` and `tank` → '', but `tankx/y` stays.
 */
function relativeToPool(pool: string, dataset: string): string {
  if (dataset === pool) return '';
  // `tank/` is not the root spelled with a prefix but a malformed path: leave it for validation.
  if (dataset.startsWith(`${pool}/`) && dataset.length > pool.length + 1) return dataset.slice(pool.length + 1);
  return dataset;
}

/** Validates and normalises `{name, pool, dataset}`; the error names the offending field. */
export function normalizeSnapshotLocation(input: SnapshotLocationInput): SnapshotLocationResult {
  const { name, pool, dataset } = input;
  if (typeof pool !== 'string') return { ok: false, field: 'pool', reason: 'must be a string' };
  if (typeof dataset !== 'string') return { ok: false, field: 'dataset', reason: "must be a string ('' for the pool root)" };
  if (typeof name !== 'string') return { ok: false, field: 'name', reason: 'must be a string' };

  const poolReason = checkPoolName(pool);
  if (poolReason !== null) return { ok: false, field: 'pool', reason: poolReason };
  const relDataset = relativeToPool(pool, dataset);
  const datasetReason = checkDatasetPath(relDataset);
  if (datasetReason !== null) return { ok: false, field: 'dataset', reason: datasetReason };

  let shortName = name;
  if (name.includes('@')) {
    // A full `pool/ds@snap`: it must name the same dataset as pool/dataset, otherwise one of
    // the two is wrong and guessing which would file the snapshot under the wrong dataset.
    const parsed = parseZfsName(name);
    if (!parsed.ok) return { ok: false, field: 'name', reason: parsed.reason };
    // A name containing '@' parses as a snapshot or not at all; this only narrows the type.
    if (parsed.value.snapshot === undefined) return { ok: false, field: 'name', reason: 'expected a snapshot name' };
    if (parsed.value.pool !== pool || parsed.value.dataset !== relDataset) {
      const given = joinDatasetPath(pool, relDataset);
      const named = joinDatasetPath(parsed.value.pool, parsed.value.dataset);
      return { ok: false, field: 'name', reason: `full name is in ${named} but pool/dataset say ${given}` };
    }
    shortName = parsed.value.snapshot;
  } else {
    const nameReason = checkSnapshotShortName(name);
    if (nameReason !== null) return { ok: false, field: 'name', reason: nameReason };
  }

  // The parts are valid alone; the whole must still fit ZFS limits (255 bytes in total).
  const full = `${joinDatasetPath(pool, relDataset)}@${shortName}`;
  const whole = parseZfsName(full);
  if (!whole.ok) return { ok: false, field: 'name', reason: `full name ${full}: ${whole.reason}` };

  return { ok: true, value: { pool, dataset: relDataset, name: shortName } };
}

/**
 * `normalizeSnapshotLocation` for many snapshots at once (a batch of the original form names the
 * same few datasets thousands of times): the same results, but the pool and dataset checks run
 * once per pair, and a short name (no `@`) costs its own check plus a length sum instead of
 * parsing the joined full name again. Given a valid pool, dataset and short name, the joined
 * name can only fail on its length; that rare case, and every full `pool/ds@snap` name, takes
 * `normalizeSnapshotLocation` itself, so the reasons are word for word the same.
 */
export function snapshotLocationNormalizer(): (input: SnapshotLocationInput) => SnapshotLocationResult {
  const pairs = new Map<string, { error: SnapshotLocationResult } | { dataset: string; prefixBytes: number }>();
  return (input) => {
    const { name, pool, dataset } = input;
    if (typeof pool !== 'string' || typeof dataset !== 'string' || typeof name !== 'string' || name.includes('@')) return normalizeSnapshotLocation(input);
    const key = `${pool}\u0000${dataset}`;
    let pair = pairs.get(key);
    if (!pair) {
      const poolReason = checkPoolName(pool);
      const relDataset = relativeToPool(pool, dataset);
      const datasetReason = poolReason === null ? checkDatasetPath(relDataset) : null;
      if (poolReason !== null) pair = { error: { ok: false, field: 'pool', reason: poolReason } };
      else if (datasetReason !== null) pair = { error: { ok: false, field: 'dataset', reason: datasetReason } };
      // Valid pool and dataset names are ASCII: their length is their size in bytes.
      else pair = { dataset: relDataset, prefixBytes: joinDatasetPath(pool, relDataset).length + 1 };
      if (pairs.size < 10_000) pairs.set(key, pair);
    }
    if ('error' in pair) return pair.error;
    const nameReason = checkSnapshotShortName(name);
    if (nameReason !== null) return { ok: false, field: 'name', reason: nameReason };
    // A valid short name is ASCII too.
    if (pair.prefixBytes + name.length > ZFS_MAX_NAME_BYTES) return normalizeSnapshotLocation(input);
    return { ok: true, value: { pool, dataset: pair.dataset, name } };
  };
}
