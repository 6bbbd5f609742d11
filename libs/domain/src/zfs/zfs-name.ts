/**
 * OpenZFS name rules (module/zcommon/zfs_namecheck.c), as an observer needs them.
 *
 * Names reach us from hosts and later end up in `zfs send`/`zfs receive` command lines, so we
 * accept exactly what OpenZFS itself accepts and nothing more. One deliberate difference: pool
 * names OpenZFS refuses to *create* (`mirror…`, `raidz…`, `draid…`, `spare…`, `log`) are
 * accepted, because a pool with such a name may already exist and a witness must be able to
 * describe it.
 */

/** Full names are at most 255 bytes (ZFS_MAX_DATASET_NAME_LEN is 256 including the NUL). */
export const ZFS_MAX_NAME_BYTES = 255;

/** Pool names are shorter so that `pool/$ORIGIN…` internal names still fit. */
export const ZFS_MAX_POOL_NAME_LENGTH = 239;

/** A name may have at most this many `/` (OpenZFS: depth must be below zfs_max_dataset_nesting = 50). */
export const ZFS_MAX_NESTING_DEPTH = 49;

export type ZfsNameKind = 'filesystem' | 'snapshot' | 'bookmark';

export interface ZfsName {
  pool: string;
  /** Path relative to the pool; '' for the pool's root dataset. */
  dataset: string;
  /** 'filesystem' also covers volumes: a name alone cannot tell them apart. */
  kind: ZfsNameKind;
  /** Short name after `@` or `#`; present exactly when kind is snapshot or bookmark. */
  snapshot?: string;
}

export type ZfsNameResult = { ok: true; value: ZfsName } | { ok: false; reason: string };

/** Letters, digits and the punctuation every ZFS name may use. `%` is handled separately. */
function isBaseNameChar(code: number): boolean {
  return (
    (code >= 0x61 && code <= 0x7a) || // a-z
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x30 && code <= 0x39) || // 0-9
    code === 0x2d || // -
    code === 0x5f || // _
    code === 0x2e || // .
    code === 0x3a || // :
    code === 0x20 // space
  );
}

/** Show a character in a reason so that invisible or confusing characters are still visible. */
function describeChar(ch: string): string {
  const code = ch.codePointAt(0) ?? 0;
  if (ch === "'") return `"'"`;
  if (code > 0x20 && code < 0x7f) return `'${ch}'`;
  if (code === 0x20) return "' '";
  return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** UTF-8 length without allocating: OpenZFS limits bytes, not JS string units. */
function utf8Length(s: string): number {
  let bytes = 0;
  for (const ch of s) {
    const code = ch.codePointAt(0) ?? 0;
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
  }
  return bytes;
}

/** Reason for the first character not in `allowed`, or null. Iterates code points, not units. */
function firstBadChar(s: string, allowed: (code: number) => boolean): string | null {
  for (const ch of s) {
    if (!allowed(ch.codePointAt(0) ?? 0)) return `contains a character not allowed in ZFS names: ${describeChar(ch)}`;
  }
  return null;
}

const isComponentChar = (code: number): boolean => isBaseNameChar(code) || code === 0x25; /* % */
const isFullNameChar = (code: number): boolean =>
  isComponentChar(code) || code === 0x2f /* / */ || code === 0x40 /* @ */ || code === 0x23; /* # */

/** Checks the dataset components of a path (no `@`/`#` part). `comps` includes the pool. */
function checkComponents(comps: readonly string[], hasPool: boolean): string | null {
  for (let i = 0; i < comps.length; i++) {
    const c = comps[i]!;
    if (c === '') {
      const where =
        comps.length === 1 ? '(nothing before the delimiter)' : i === 0 ? "(leading '/')" : i === comps.length - 1 ? "(trailing '/')" : "('//')";
      return `empty path component ${where}`;
    }
    if (c === '.' || c === '..') return `path component must not be '${c}'`;
  }
  // Depth counts the `/` of the full name; a relative path gets one more from `pool/`.
  const depth = hasPool ? comps.length - 1 : comps.length;
  if (depth > ZFS_MAX_NESTING_DEPTH) {
    return `nested too deeply: ${depth} levels below the pool (OpenZFS allows at most ${ZFS_MAX_NESTING_DEPTH})`;
  }
  return null;
}

/**
 * Validates a pool name on its own. Returns null when valid, otherwise the reason.
 * Reserved names (mirror, raidz, draid, spare…, log) are accepted on purpose: see the file comment.
 */
export function checkPoolName(pool: string): string | null {
  if (pool === '') return 'empty pool name';
  if (pool.length > ZFS_MAX_POOL_NAME_LENGTH) {
    return `pool name longer than ${ZFS_MAX_POOL_NAME_LENGTH} characters (${pool.length})`;
  }
  if (pool.includes('%')) return "pool name must not contain '%'";
  if (pool.includes('/')) return "pool name must not contain '/'";
  if (pool.includes('@') || pool.includes('#')) return "pool name must not contain '@' or '#'";
  const bad = firstBadChar(pool, isBaseNameChar);
  if (bad !== null) return bad;
  if (!/^[A-Za-z]/.test(pool)) return 'pool name must start with a letter';
  return null;
}

/**
 * Validates a dataset path relative to its pool ('' is the pool root, `home/alice` a child).
 * Only what can be judged without the pool is checked here: the path must leave room for at
 * least a one-letter pool and `/` within 255 bytes, and its depth counts the level `pool/` adds.
 * Check the joined full name with `parseZfsName` when the pool is known.
 */
export function checkDatasetPath(path: string): string | null {
  if (path === '') return null;
  const maxBytes = ZFS_MAX_NAME_BYTES - 2;
  if (path.length > maxBytes || utf8Length(path) > maxBytes) {
    return `dataset path longer than ${maxBytes} bytes, so pool/dataset cannot fit in ${ZFS_MAX_NAME_BYTES}`;
  }
  if (path.includes('@') || path.includes('#')) return "dataset path must not contain '@' or '#'";
  const bad = firstBadChar(path, (code) => isComponentChar(code) || code === 0x2f);
  if (bad !== null) return bad;
  return checkComponents(path.split('/'), false);
}

const PLAIN_SHORT_NAME = /^[A-Za-z0-9_.: %-]+$/;

/** Validates the short name after `@` (or after `#` with kind 'bookmark'). */
export function checkSnapshotShortName(name: string, kind: 'snapshot' | 'bookmark' = 'snapshot'): string | null {
  // The common case in one test: printable ASCII name characters only (so bytes = length, and
  // no '/', '@' or '#'), short enough, and not '.' or '..'. Anything else takes the checks below.
  if (name.length <= ZFS_MAX_NAME_BYTES - 2 && PLAIN_SHORT_NAME.test(name) && name !== '.' && name !== '..') return null;
  if (name === '') return `empty ${kind} name`;
  const maxBytes = ZFS_MAX_NAME_BYTES - 2; // room for at least `p@`
  if (name.length > maxBytes || utf8Length(name) > maxBytes) return `${kind} name longer than ${maxBytes} bytes`;
  if (name.includes('/')) return `${kind} name must not contain '/'`;
  if (name.includes('@') || name.includes('#')) return `${kind} name must not contain '@' or '#'`;
  const bad = firstBadChar(name, isComponentChar);
  if (bad !== null) return bad;
  if (name === '.' || name === '..') return `${kind} name must not be '${name}'`;
  return null;
}

/**
 * Parses a full ZFS name: `pool`, `pool/a/b`, `pool/a@snap` or `pool/a#bookmark`.
 * Checks run in OpenZFS order (length, characters, structure) so the reason names the first
 * thing OpenZFS itself would complain about.
 */
export function parseZfsName(full: string): ZfsNameResult {
  if (typeof full !== 'string') return { ok: false, reason: 'not a string' };
  if (full === '') return { ok: false, reason: 'empty name' };
  // A UTF-8 name is never shorter in bytes than in UTF-16 units, so the cheap test comes first.
  if (full.length > ZFS_MAX_NAME_BYTES || utf8Length(full) > ZFS_MAX_NAME_BYTES) {
    return { ok: false, reason: `longer than ${ZFS_MAX_NAME_BYTES} bytes (${utf8Length(full)} bytes)` };
  }
  const bad = firstBadChar(full, isFullNameChar);
  if (bad !== null) return { ok: false, reason: bad };

  const delimAt = full.search(/[@#]/);
  const path = delimAt < 0 ? full : full.slice(0, delimAt);
  let kind: ZfsNameKind = 'filesystem';
  let shortName: string | undefined;
  if (delimAt >= 0) {
    kind = full[delimAt] === '@' ? 'snapshot' : 'bookmark';
    shortName = full.slice(delimAt + 1);
    if (/[@#]/.test(shortName)) return { ok: false, reason: "more than one '@' or '#' delimiter" };
    if (shortName.includes('/')) return { ok: false, reason: `'/' is not allowed after '${full[delimAt]}'` };
  }

  const comps = path.split('/');
  const structural = checkComponents(comps, true);
  if (structural !== null) return { ok: false, reason: structural };
  const poolReason = checkPoolName(comps[0]!);
  if (poolReason !== null) return { ok: false, reason: poolReason };
  if (shortName !== undefined) {
    const snapReason = checkSnapshotShortName(shortName, kind === 'bookmark' ? 'bookmark' : 'snapshot');
    if (snapReason !== null) return { ok: false, reason: snapReason };
  }

  const value: ZfsName = { pool: comps[0]!, dataset: comps.slice(1).join('/'), kind };
  if (shortName !== undefined) value.snapshot = shortName;
  return { ok: true, value };
}

/** 'pool' for the root dataset (''), 'pool/dataset' otherwise. Does not validate. */
export function joinDatasetPath(pool: string, dataset: string): string {
  return dataset === '' ? pool : `${pool}/${dataset}`;
}
