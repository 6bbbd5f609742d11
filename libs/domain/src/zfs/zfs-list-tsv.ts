/**
 * Parser for the raw output of
 *   zfs list -Hp -t snapshot,bookmark -o name,guid,createtxg,creation,used,referenced
 *
 * One tab-separated line per snapshot or bookmark, no header, exact integers, `creation` in
 * Unix seconds, `-` where a value does not apply (the space columns of bookmarks). Names may
 * contain spaces but never tabs, so lines are split on tabs only and never trimmed.
 *
 * Hosts hold up to hundreds of thousands of snapshots, so the parser takes one line at a time
 * (`push`) and can sit behind a line stream; `parseZfsListTsv` is the whole-text convenience.
 * Any malformed line stops the parse with a `TsvLineError` naming the line and column: an
 * inventory that is silently partial would make the witness believe snapshots were destroyed.
 */
import { parseZfsName } from './zfs-name.js';
import { parseUint64 } from './uint64.js';

export const ZFS_LIST_COLUMNS = ['name', 'guid', 'createtxg', 'creation', 'used', 'referenced'] as const;
export type ZfsListColumn = (typeof ZFS_LIST_COLUMNS)[number];

export interface ZfsListSnapshot {
  /** Short name after `@`. */
  name: string;
  guid: string;
  createtxg: string;
  /** `YYYY-MM-DDTHH:MM:SSZ` (creation has one-second resolution; same format as the original client). */
  creation: string;
  used: string;
  referenced: string;
}

export interface ZfsListBookmark {
  /** Short name after `#`. */
  name: string;
  guid: string;
  createtxg: string;
  creation: string;
}

export interface ZfsListDataset {
  pool: string;
  /** Path relative to the pool; '' for the pool's root dataset. */
  dataset: string;
  /** In input order (zfs lists them by createtxg when asked with `-s createtxg`). */
  snapshots: ZfsListSnapshot[];
  bookmarks: ZfsListBookmark[];
}

/** A malformed input line. `field` is null when the line as a whole is wrong (column count). */
export class TsvLineError extends Error {
  override readonly name = 'TsvLineError';
  constructor(
    readonly line: number,
    readonly field: ZfsListColumn | null,
    readonly reason: string,
  ) {
    super(field === null ? `line ${line}: ${reason}` : `line ${line}, column ${field}: ${reason}`);
  }
}

/** 9999-12-31T23:59:59Z: later values would need ISO 8601 expanded years no consumer expects. */
const MAX_CREATION_SECONDS = 253402300799;

interface DatasetEntry {
  group: ZfsListDataset;
  /** Short name → line first seen, per namespace (a snapshot and a bookmark may share a name). */
  snapshotLines: Map<string, number>;
  bookmarkLines: Map<string, number>;
}

export class ZfsListTsvParser {
  // Map keeps insertion order, which gives datasets in first-seen order.
  readonly #datasets = new Map<string, DatasetEntry>();
  #lastLine = 0;
  #finished = false;

  /**
   * Parses one line (a trailing `\n` or `\r\n` is tolerated; blank lines are skipped).
   * `lineNo` is the 1-based line number used in errors; it defaults to the previous one + 1.
   * Throws TsvLineError on a malformed line.
   */
  push(line: string, lineNo: number = this.#lastLine + 1): void {
    if (this.#finished) throw new Error('ZfsListTsvParser: push() after finish()');
    this.#lastLine = lineNo;
    const row = parseZfsListLine(line, lineNo);
    if (row === null) return;
    const entry = this.#entry(row.pool, row.dataset);
    const creation = isoSeconds(row.creation);
    if (row.kind === 'snapshot') {
      rememberName(entry.snapshotLines, lineNo, row.fullName, row.name);
      entry.group.snapshots.push({ name: row.name, guid: row.guid, createtxg: row.createtxg, creation, used: row.used!, referenced: row.referenced! });
    } else {
      rememberName(entry.bookmarkLines, lineNo, row.fullName, row.name);
      entry.group.bookmarks.push({ name: row.name, guid: row.guid, createtxg: row.createtxg, creation });
    }
  }

  /** Ends the parse and returns datasets in first-seen order. The parser cannot be reused. */
  finish(): ZfsListDataset[] {
    this.#finished = true;
    return [...this.#datasets.values()].map((e) => e.group);
  }

  #entry(pool: string, dataset: string): DatasetEntry {
    // '/' cannot appear in a pool name, so pool/dataset is an unambiguous key.
    const key = `${pool}/${dataset}`;
    let entry = this.#datasets.get(key);
    if (entry === undefined) {
      entry = {
        group: { pool, dataset, snapshots: [], bookmarks: [] },
        snapshotLines: new Map(),
        bookmarkLines: new Map(),
      };
      this.#datasets.set(key, entry);
    }
    return entry;
  }
}

/** One validated line of the listing, without keeping anything (for streaming consumers). */
export interface ZfsListLine {
  pool: string;
  dataset: string;
  kind: 'snapshot' | 'bookmark';
  /** The name as listed, `pool/ds@snap` or `pool/ds#bookmark`. */
  fullName: string;
  /** Short name after `@` or `#`. */
  name: string;
  guid: string;
  createtxg: string;
  /** Unix seconds. */
  creation: number;
  /** null for bookmarks (zfs prints `-`). */
  used: string | null;
  referenced: string | null;
}

/**
 * Parse and check one line (null for a blank one); throws TsvLineError naming the line and column.
 * Holds nothing, so a listing of any size can stream through it; duplicate names are the
 * accumulating parser's check.
 */
export function parseZfsListLine(line: string, lineNo: number): ZfsListLine | null {
  if (line.endsWith('\n')) line = line.slice(0, -1);
  if (line.endsWith('\r')) line = line.slice(0, -1);
  // Blank means empty or spaces only; a line with tabs carries columns and is checked.
  if (/^ *$/.test(line)) return null;

  const cols = line.split('\t');
  if (cols.length !== ZFS_LIST_COLUMNS.length) {
    throw new TsvLineError(lineNo, null, `expected ${ZFS_LIST_COLUMNS.length} tab-separated columns (${ZFS_LIST_COLUMNS.join(', ')}), found ${cols.length}`);
  }
  const [fullName, guidText, txgText, creationText, usedText, referencedText] = cols as [string, string, string, string, string, string];

  const parsed = parseZfsName(fullName);
  if (!parsed.ok) throw new TsvLineError(lineNo, 'name', parsed.reason);
  const { pool, dataset, kind, snapshot: shortName } = parsed.value;
  if (kind === 'filesystem' || shortName === undefined) {
    throw new TsvLineError(lineNo, 'name', 'a filesystem or volume, expected a snapshot (@) or bookmark (#)');
  }
  const guid = requiredUint64(lineNo, 'guid', guidText);
  const createtxg = requiredUint64(lineNo, 'createtxg', txgText);
  const creation = creationSeconds(lineNo, creationText);
  if (kind === 'snapshot') {
    return { pool, dataset, kind, fullName, name: shortName, guid, createtxg, creation, used: requiredUint64(lineNo, 'used', usedText), referenced: requiredUint64(lineNo, 'referenced', referencedText) };
  }
  // Bookmarks have no space accounting: zfs prints `-`. A number is tolerated but must
  // still be well-formed, so a shifted or corrupted line does not pass unnoticed.
  optionalUint64(lineNo, 'used', usedText);
  optionalUint64(lineNo, 'referenced', referencedText);
  return { pool, dataset, kind, fullName, name: shortName, guid, createtxg, creation, used: null, referenced: null };
}

/** Parses a whole `zfs list` output (any mix of `\n` / `\r\n`, trailing newline allowed). */
export function parseZfsListTsv(text: string): ZfsListDataset[] {
  const parser = new ZfsListTsvParser();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) parser.push(lines[i]!, i + 1);
  return parser.finish();
}

/** zfs never lists a name twice; a repeat means concatenated or corrupted input. */
function rememberName(seen: Map<string, number>, lineNo: number, fullName: string, shortName: string): void {
  const first = seen.get(shortName);
  if (first !== undefined) throw new TsvLineError(lineNo, 'name', `duplicate ${fullName} (first on line ${first})`);
  seen.set(shortName, lineNo);
}

function requiredUint64(lineNo: number, field: ZfsListColumn, text: string): string {
  if (text === '-') throw new TsvLineError(lineNo, field, "missing value '-'");
  const r = parseUint64(text);
  if (!r.ok) throw new TsvLineError(lineNo, field, `not an unsigned 64-bit decimal: ${r.reason}`);
  return r.value;
}

function optionalUint64(lineNo: number, field: ZfsListColumn, text: string): void {
  if (text !== '-') requiredUint64(lineNo, field, text);
}

function creationSeconds(lineNo: number, text: string): number {
  const seconds = requiredUint64(lineNo, 'creation', text);
  // Comparing as a number is safe here: anything that rounds is far above the limit anyway.
  if (Number(seconds) > MAX_CREATION_SECONDS) {
    throw new TsvLineError(lineNo, 'creation', `${seconds} is after year 9999, not a plausible Unix time in seconds`);
  }
  return Number(seconds);
}

function isoSeconds(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}
