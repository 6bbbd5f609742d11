/**
 * The simulated host's ZFS state: pools, datasets, snapshots, bookmarks, holds and partial
 * receives, kept as one JSON file in the host's state directory. Every command reads and writes
 * it under a lock file, so concurrent `zfs` processes on one host (parallel transfers, a listing
 * during a receive) see a consistent state, as they would on a real pool.
 *
 * Facts kept faithful to ZFS (../shared/notes/zfs.md): guids are random 64-bit values carried as
 * decimal strings; createtxg counts per pool (a receiver stamps received snapshots with its own
 * txg); `creation` is in whole seconds and is preserved by receive, as is the guid.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';

export interface SimSnapshot {
  name: string;
  guid: string;
  createtxg: string;
  creation: number;
  /** Bytes written to the dataset between the previous snapshot and this one (the stream payload). */
  written: number;
  used: number;
  referenced: number;
  holds: string[];
}

export interface SimBookmark {
  name: string;
  guid: string;
  createtxg: string;
  creation: number;
}

/** An interrupted `zfs receive -s`: what the resume token describes. */
export interface SimPartial {
  fromGuid: string | null;
  toGuid: string;
  toName: string;
  /** The sender's full snapshot name (the token carries it). */
  sourceName: string;
  creation: number;
  written: number;
  referenced: number;
  totalBytes: number;
  receivedBytes: number;
  compressed: boolean;
  raw: boolean;
}

export interface SimDataset {
  guid: string;
  createtxg: string;
  creation: number;
  type: 'filesystem' | 'volume';
  snapshots: SimSnapshot[];
  bookmarks: SimBookmark[];
  /** Bytes written since the newest snapshot; > 0 means "modified since most recent snapshot". */
  written: number;
  referenced: number;
  /** Unix seconds of the last snapshot created or destroyed (OpenZFS 2.2 `snapshots_changed`). */
  snapshotsChanged: number | null;
  mounted: boolean;
  encrypted: boolean;
  partial: SimPartial | null;
  /** Created by a resumable full receive that never completed (`zfs receive -A` removes it). */
  inconsistent: boolean;
}

export interface SimPool {
  txg: string;
}

export interface SimSettings {
  /** false: behave like OpenZFS < 2.2 (`snapshots_changed` is an unknown property). */
  snapshotsChanged: boolean;
  /** Throttle sends to this many bytes per second (null: as fast as possible). */
  sendBytesPerSecond: number | null;
}

export interface SimState {
  version: 1;
  settings: SimSettings;
  pools: Record<string, SimPool>;
  /** Full dataset name → dataset. A pool's root dataset is the pool name. */
  datasets: Record<string, SimDataset>;
}

/** A ZFS-style failure: the message goes to stderr as is, the process exits with `exitCode`. */
export class ZfsError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

export const STATE_FILE = 'state.json';
const LOCK_FILE = 'state.lock';
const JOURNAL_FILE = 'journal.log';

/** A random non-zero 64-bit guid as a decimal string (never a JS number: most guids exceed 2^53). */
export function newGuid(): string {
  for (;;) {
    const v = randomBytes(8).readBigUInt64BE();
    if (v !== 0n) return v.toString();
  }
}

export function nowSeconds(): number {
  const fixed = process.env.ZFS_SIM_NOW;
  return fixed ? Number(fixed) : Math.floor(Date.now() / 1000);
}

export function emptyState(): SimState {
  return { version: 1, settings: { snapshotsChanged: true, sendBytesPerSecond: null }, pools: {}, datasets: {} };
}

export function newDataset(state: SimState, pool: string, type: SimDataset['type'] = 'filesystem'): SimDataset {
  return {
    guid: newGuid(),
    createtxg: nextTxg(state, pool),
    creation: nowSeconds(),
    type,
    snapshots: [],
    bookmarks: [],
    written: 0,
    referenced: 24_576,
    snapshotsChanged: null,
    mounted: type === 'filesystem',
    encrypted: false,
    partial: null,
    inconsistent: false,
  };
}

/** Advance the pool's txg and return the new value (each change is its own txg here). */
export function nextTxg(state: SimState, pool: string): string {
  const p = state.pools[pool];
  if (!p) throw new ZfsError(`cannot open '${pool}': no such pool`);
  p.txg = (BigInt(p.txg) + 1n).toString();
  return p.txg;
}

export const poolOf = (name: string): string => name.split(/[/@#]/)[0]!;
export const parentOf = (dataset: string): string | null => (dataset.includes('/') ? dataset.slice(0, dataset.lastIndexOf('/')) : null);

const sleepBuffer = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms: number): void {
  Atomics.wait(sleepBuffer, 0, 0, ms);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Take the host's state lock (a lock file holding the owner's pid; a dead owner's lock is broken). */
function acquireLock(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const fd = openSync(path, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          unlinkSync(path);
        } catch {
          /* already gone */
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let owner = NaN;
      try {
        owner = Number(readFileSync(path, 'utf8'));
      } catch {
        continue; // released between our open and read
      }
      if (Number.isInteger(owner) && owner > 0 && !processAlive(owner)) {
        try {
          unlinkSync(path);
        } catch {
          /* someone else broke it */
        }
        continue;
      }
      if (Date.now() > deadline) throw new ZfsError(`zfs-sim: state lock ${path} held by pid ${owner} for too long`);
      sleepSync(2 + Math.random() * 5);
    }
  }
}

export function readState(dir: string): SimState {
  const file = join(dir, STATE_FILE);
  if (!existsSync(file)) return emptyState();
  return JSON.parse(readFileSync(file, 'utf8')) as SimState;
}

function writeState(dir: string, state: SimState): void {
  const tmp = join(dir, `${STATE_FILE}.${process.pid}.tmp`);
  writeFileSync(tmp, JSON.stringify(state));
  renameSync(tmp, join(dir, STATE_FILE));
}

/** Read, change and write the state atomically with respect to other commands on this host. */
export function withState<T>(dir: string, fn: (state: SimState) => T, opts: { write?: boolean } = {}): T {
  mkdirSync(dir, { recursive: true });
  const release = acquireLock(dir);
  try {
    const state = readState(dir);
    const out = fn(state);
    if (opts.write !== false) writeState(dir, state);
    return out;
  } finally {
    release();
  }
}

/** Append one line to the host's journal (what ran, for tests that count transfers). */
export function journal(dir: string, entry: Record<string, unknown>): void {
  appendFileSync(join(dir, JOURNAL_FILE), `${JSON.stringify({ at: new Date().toISOString(), pid: process.pid, ...entry })}\n`);
}

export function readJournal(dir: string): Array<Record<string, any>> {
  const file = join(dir, JOURNAL_FILE);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

// ---- lookups shared by the commands ----

export function getDataset(state: SimState, name: string): SimDataset {
  const ds = state.datasets[name];
  if (!ds) throw new ZfsError(`cannot open '${name}': dataset does not exist`);
  return ds;
}

export function findSnapshot(ds: SimDataset, short: string): SimSnapshot | undefined {
  return ds.snapshots.find((s) => s.name === short);
}

/** Split `pool/ds@snap` or `pool/ds#bm` into dataset and short name. */
export function splitName(full: string): { dataset: string; sep: '@' | '#' | null; short: string | null } {
  const at = full.search(/[@#]/);
  if (at < 0) return { dataset: full, sep: null, short: null };
  return { dataset: full.slice(0, at), sep: full[at] as '@' | '#', short: full.slice(at + 1) };
}

/** Datasets below `name` (not itself), deepest first so they can be removed in order. */
export function descendants(state: SimState, name: string): string[] {
  return Object.keys(state.datasets)
    .filter((d) => d.startsWith(`${name}/`))
    .sort((a, b) => b.split('/').length - a.split('/').length || (a < b ? 1 : -1));
}

export function markSnapshotsChanged(ds: SimDataset): void {
  ds.snapshotsChanged = nowSeconds();
}
