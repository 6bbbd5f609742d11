/**
 * Which snapshots may end a transfer (snapshot_pattern, min_snapshot_age_seconds) and which
 * datasets a group replicates (include/exclude globs).
 *
 * Both kinds of pattern come from operators and run against every snapshot name or dataset path
 * of a fleet, so both run on the linear-time engine in safe-regex.ts, never on V8's backtracking
 * RegExp.
 */
import { checkDatasetPath } from '../zfs/zfs-name.js';
import { compileRegexNode, compileSafePattern, rx, type RegexNode, type SafeMatcher } from './safe-regex.js';
import type { SnapshotRef, SyncGroupPolicy } from './types.js';

export const MAX_SNAPSHOT_PATTERN_LENGTH = 256;

/** Compiled patterns and globs are reused across links and recomputes; this bounds the memo. */
const MAX_MEMO_ENTRIES = 256;

function memoized<T>(memo: Map<string, T>, key: string, build: () => T): T {
  const hit = memo.get(key);
  if (hit !== undefined) return hit;
  const value = build();
  if (memo.size >= MAX_MEMO_ENTRIES) memo.clear();
  memo.set(key, value);
  return value;
}

// ---------------------------------------------------------------------------------------------
// snapshot_pattern

type PatternOutcome = { ok: true; matcher: SafeMatcher } | { ok: false; reason: string };
const patternMemo = new Map<string, PatternOutcome>();

function analyzeSnapshotPattern(pattern: string): PatternOutcome {
  return memoized(patternMemo, pattern, () => {
    if (typeof pattern !== 'string') return { ok: false, reason: 'snapshot_pattern must be a string' };
    if (pattern.length > MAX_SNAPSHOT_PATTERN_LENGTH) {
      return { ok: false, reason: `snapshot_pattern longer than ${MAX_SNAPSHOT_PATTERN_LENGTH} characters` };
    }
    return compileSafePattern(pattern);
  });
}

/**
 * Why a snapshot_pattern is refused, or null when it is acceptable. Refused: invalid syntax,
 * more than 256 characters, backreferences, lookaround, and nested quantifiers (`(a+)+$`) or
 * repeated overlapping alternatives (`(a|ab)*`) — see safe-regex.ts for the full list.
 */
export function checkSnapshotPattern(pattern: string): string | null {
  const outcome = analyzeSnapshotPattern(pattern);
  return outcome.ok ? null : outcome.reason;
}

/** A linear-time matcher for an accepted pattern. Throws with the reason for a refused one. */
export function compileSnapshotPattern(pattern: string): SafeMatcher {
  const outcome = analyzeSnapshotPattern(pattern);
  if (!outcome.ok) throw new Error(`invalid snapshot_pattern ${JSON.stringify(pattern)}: ${outcome.reason}`);
  return outcome.matcher;
}

/** The eligibility rules of a group at one instant. */
export interface EligibilityRules {
  /** null: every name matches. */
  pattern: SafeMatcher | null;
  /** A snapshot is old enough when creation <= newestAllowedCreation. */
  newestAllowedCreation: number;
}

export function eligibilityRules(
  policy: Pick<SyncGroupPolicy, 'snapshotPattern' | 'minSnapshotAgeSeconds'>,
  now: number,
): EligibilityRules {
  const pattern = policy.snapshotPattern === null || policy.snapshotPattern === '' ? null : compileSnapshotPattern(policy.snapshotPattern);
  return { pattern, newestAllowedCreation: now - Math.max(0, policy.minSnapshotAgeSeconds) };
}

/** Whether a snapshot may end a transfer and count for lag. */
export function isEligible(snapshot: SnapshotRef, rules: EligibilityRules): boolean {
  if (snapshot.creation > rules.newestAllowedCreation) return false;
  return rules.pattern === null || rules.pattern.test(snapshot.name);
}

// ---------------------------------------------------------------------------------------------
// Dataset globs

/**
 * Why a dataset glob is refused, or null. Globs are dataset paths relative to the pool in which
 * `*` stands for any characters within one component and `**` for any characters across
 * components.
 */
export function checkDatasetGlob(glob: string): string | null {
  if (typeof glob !== 'string') return 'a dataset glob must be a string';
  if (glob.includes('***')) return 'use * (within a component) or ** (across components), not ***';
  // With the wildcards replaced by a letter, a glob must be a valid relative dataset path.
  const reason = checkDatasetPath(glob.replaceAll('*', 'x'));
  return reason === null ? null : `dataset glob ${JSON.stringify(glob)}: ${reason}`;
}

/**
 * Glob → AST, matched against the whole path.
 *   `*`            any characters except `/`
 *   `**`           any characters, `/` included
 *   `**` + `/`     as a leading or inner component: zero or more whole components (so the glob
 *                  made of `**`, `/` and `x` also matches plain `x`)
 *   `/` + `**`     at the end: the dataset itself or anything below it (`home/**` matches `home`)
 */
function globToNode(glob: string): RegexNode {
  const items: RegexNode[] = [rx.start()];
  let lastWasSlash = false;
  let i = 0;
  while (i < glob.length) {
    if (glob.startsWith('**', i)) {
      const componentStart = i === 0 || glob[i - 1] === '/';
      const following = glob[i + 2];
      if (componentStart && following === '/') {
        items.push(rx.optional(rx.seq(rx.star(rx.anyChar()), rx.char('/'))));
        i += 3;
        lastWasSlash = false;
        continue;
      }
      if (following === undefined && lastWasSlash) {
        items.pop();
        items.push(rx.optional(rx.seq(rx.char('/'), rx.star(rx.anyChar()))));
      } else {
        items.push(rx.star(rx.anyChar()));
      }
      i += 2;
      lastWasSlash = false;
      continue;
    }
    const ch = glob[i]!;
    items.push(ch === '*' ? rx.star(rx.anyCharExcept('/')) : rx.char(ch));
    lastWasSlash = ch === '/';
    i++;
  }
  items.push(rx.end());
  return rx.seq(...items);
}

const globMemo = new Map<string, SafeMatcher>();

function compileGlob(glob: string): SafeMatcher {
  return memoized(globMemo, glob, () => {
    const reason = checkDatasetGlob(glob);
    if (reason !== null) throw new Error(`invalid dataset glob: ${reason}`);
    return compileRegexNode(globToNode(glob));
  });
}

/** Whether `glob` matches the whole dataset path (relative to the pool, '' for the root). */
export function datasetGlobMatches(glob: string, path: string): boolean {
  return compileGlob(glob).test(path);
}

/**
 * A dataset is selected when it matches an include glob (or there are none) and no exclude glob.
 * Throws on an invalid glob: policies are validated before they are stored.
 */
export function datasetSelected(path: string, selection: { include: readonly string[]; exclude: readonly string[] }): boolean {
  const included = selection.include.length === 0 || selection.include.some((g) => datasetGlobMatches(g, path));
  return included && !selection.exclude.some((g) => datasetGlobMatches(g, path));
}
