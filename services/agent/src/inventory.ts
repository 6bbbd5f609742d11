/**
 * The host's inventory as `zfs list` shows it, streamed through a spool file so memory stays flat
 * however many snapshots the host holds: the listing is checked line by line (the domain's
 * parseZfsListLine) and written to disk, then read back chunk by chunk when it is sent.
 *
 * With OpenZFS ≥ 2.2, `snapshots_changed` tells which datasets' snapshot lists changed since the
 * last listing; the others are copied from the previous listing (the local cache) instead of
 * being listed again. A dataset changed within the second of the last listing counts as changed
 * (the property has one-second resolution), and a full listing is made at least every
 * listing_cache_max_age_seconds (bookmarks and renames do not move snapshots_changed).
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { datasetSelected, isPlausibleResumeToken, parseZfsListLine, parseZfsName, TsvLineError, type ZfsListLine } from '@zfs-sync/domain';
import type { AgentConfig } from './config.js';
import { writePrivateFile } from './credentials.js';
import { AgentError, EXIT } from './exit-codes.js';
import { readLines } from './lines.js';
import type { Logger } from './log.js';
import { relieveMemory } from './memory.js';
import { ZfsCommandError, zfsLines } from './zfs-process.js';

export const SNAPSHOT_COLUMNS = 'name,guid,createtxg,creation,used,referenced';

export interface DatasetInfo {
  name: string;
  pool: string;
  /** Relative to the pool ('' for the pool's root dataset). */
  path: string;
  /** A sane receive_resume_token, else null. */
  token: string | null;
  /** snapshots_changed in Unix seconds; null when unknown (`-`) or unsupported. */
  changed: number | null;
}

export interface Listing {
  datasets: DatasetInfo[];
  /** Spool file: the checked `zfs list -Hp` lines of every snapshot and bookmark. */
  spool: string;
  lines: number;
  /** full: one zfs list of everything; cached: unchanged datasets from the last listing; partial: only some datasets. */
  mode: 'full' | 'cached' | 'partial';
  supportsChanged: boolean;
  /** Unix seconds when the listing started. */
  listedAt: number;
}

/** The servers's inventory schema accepts tokens of letters, digits and dashes up to 8 KiB. */
const TOKEN_SHAPE = /^[A-Za-z0-9-]{1,8192}$/;
const CACHE_DIR = 'listing';
const CACHE_SPOOL = 'listing.tsv';
const CACHE_INDEX = 'index.json';

interface CacheIndex {
  version: 1;
  listedAt: number;
  datasets: Record<string, number | null>;
}

function selected(config: AgentConfig, path: string): boolean {
  return datasetSelected(path, config.datasets);
}

/** `zfs list -t filesystem,volume` with each dataset's resume token (and snapshots_changed when known). */
export async function listDatasets(config: AgentConfig, log: Logger): Promise<{ datasets: DatasetInfo[]; supportsChanged: boolean }> {
  const run = async (withChanged: boolean) => {
    const out: DatasetInfo[] = [];
    const columns = withChanged ? 'name,receive_resume_token,snapshots_changed' : 'name,receive_resume_token';
    await zfsLines(config.zfsPath, ['list', '-Hp', '-t', 'filesystem,volume', '-o', columns], (line, lineNo) => {
      if (line.trim() === '') return;
      const [name = '', tokenText = '-', changedText = '-'] = line.split('\t');
      const parsed = parseZfsName(name);
      if (!parsed.ok || parsed.value.kind !== 'filesystem') {
        log.warn('skipping a dataset whose name the witness would refuse', { line: lineNo, name, reason: parsed.ok ? 'not a dataset' : parsed.reason });
        return;
      }
      const { pool, dataset: path } = parsed.value;
      if (!selected(config, path)) return;
      let token: string | null = tokenText === '-' || tokenText === '' ? null : tokenText;
      if (token !== null && !(isPlausibleResumeToken(token) && TOKEN_SHAPE.test(token))) {
        log.warn('ignoring a receive_resume_token that does not look like one', { dataset: name });
        token = null;
      }
      const changed = /^\d+$/.test(changedText) ? Number(changedText) : null;
      out.push({ name, pool, path, token, changed: withChanged ? changed : null });
    });
    return out;
  };
  try {
    return { datasets: await run(true), supportsChanged: true };
  } catch (err) {
    // OpenZFS before 2.2 does not know the property: list without it (and without the cache).
    if (err instanceof ZfsCommandError && /snapshots_changed/.test(err.stderr)) {
      log.debug('this zfs has no snapshots_changed property; listing everything each time');
      return { datasets: await run(false), supportsChanged: false };
    }
    throw asAgentError(err);
  }
}

function asAgentError(err: unknown): unknown {
  if (err instanceof ZfsCommandError) return new AgentError(err.message, EXIT.OS, 'check that zfs works for the agent\'s user (zfs list)');
  if (err instanceof TsvLineError) return new AgentError(`zfs list printed a line the agent cannot read: ${err.message}; nothing was reported`, EXIT.DATA);
  return err;
}

class SpoolWriter {
  lines = 0;
  readonly #out: WriteStream;
  constructor(readonly path: string) {
    this.#out = createWriteStream(path, { mode: 0o600 });
  }
  async write(line: string): Promise<void> {
    if (++this.lines % 20_000 === 0) relieveMemory();
    if (!this.#out.write(`${line}\n`)) await once(this.#out, 'drain');
  }
  async close(): Promise<void> {
    this.#out.end();
    await once(this.#out, 'finish');
  }
}

/** Read a spool back line by line (checked again: a cache file may be from an older agent). */
export async function* readSpool(path: string): AsyncGenerator<ZfsListLine> {
  let n = 0;
  for await (const line of readLines(createReadStream(path))) {
    const row = parseZfsListLine(line, ++n);
    if (row) yield row;
  }
}

function loadCache(dir: string): CacheIndex | null {
  try {
    const index = JSON.parse(readFileSync(join(dir, CACHE_INDEX), 'utf8')) as CacheIndex;
    return index.version === 1 && existsSync(join(dir, CACHE_SPOOL)) ? index : null;
  } catch {
    return null;
  }
}

/**
 * List the inventory into a spool file. `only`: just these datasets (a re-report after
 * transfers; never cached). Otherwise everything, reusing the cache where snapshots_changed allows.
 */
export async function listInventory(config: AgentConfig, log: Logger, only?: ReadonlySet<string>): Promise<Listing> {
  const listedAt = Math.floor(Date.now() / 1000);
  const { datasets: all, supportsChanged } = await listDatasets(config, log);
  const datasets = only ? all.filter((d) => only.has(d.name)) : all;
  const names = new Set(datasets.map((d) => d.name));
  const cacheDir = join(config.stateDir, CACHE_DIR);
  mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
  const spool = new SpoolWriter(join(cacheDir, `spool-${process.pid}-${Date.now()}.tsv`));
  const keep = async (line: string, lineNo: number) => {
    const row = parseZfsListLine(line, lineNo);
    if (row && names.has(row.fullName.slice(0, row.fullName.length - row.name.length - 1))) await spool.write(line);
  };

  let mode: Listing['mode'] = only ? 'partial' : 'full';
  let toList: string[] | null = only ? [...names] : null;
  const cache = !only && supportsChanged && config.listingCacheMaxAgeSeconds > 0 ? loadCache(cacheDir) : null;
  if (cache && listedAt - cache.listedAt < config.listingCacheMaxAgeSeconds) {
    const changed = datasets.filter((d) => !(d.name in cache.datasets) || cache.datasets[d.name] !== d.changed || (d.changed !== null && d.changed >= cache.listedAt));
    // Many changes: one listing of everything costs less than many small ones.
    if (changed.length <= Math.max(50, datasets.length / 4)) {
      mode = 'cached';
      toList = changed.map((d) => d.name);
      const changedNames = new Set(toList);
      const unchanged = new Set(datasets.filter((d) => !changedNames.has(d.name)).map((d) => d.name));
      let n = 0;
      for await (const line of readLines(createReadStream(join(cacheDir, CACHE_SPOOL)))) {
        const row = parseZfsListLine(line, ++n);
        if (row && unchanged.has(row.fullName.slice(0, row.fullName.length - row.name.length - 1))) await spool.write(line);
      }
      log.debug('listing only the datasets whose snapshots changed', { changed: changed.length, unchanged: unchanged.size });
    }
  }

  try {
    if (toList === null) {
      await zfsLines(config.zfsPath, ['list', '-Hp', '-t', 'snapshot,bookmark', '-o', SNAPSHOT_COLUMNS, '-s', 'createtxg'], keep);
    } else {
      // Bounded argument lists; `-d 1` is one dataset's own snapshots and bookmarks.
      for (let i = 0; i < toList.length; i += 100) {
        await zfsLines(config.zfsPath, ['list', '-Hp', '-t', 'snapshot,bookmark', '-o', SNAPSHOT_COLUMNS, '-s', 'createtxg', '-d', '1', ...toList.slice(i, i + 100)], keep);
      }
    }
  } catch (err) {
    await spool.close();
    rmSync(spool.path, { force: true });
    throw asAgentError(err);
  }
  await spool.close();
  return { datasets, spool: spool.path, lines: spool.lines, mode, supportsChanged, listedAt };
}

/** Keep a complete listing as the cache for the next run (only when snapshots_changed exists). */
export function keepAsCache(config: AgentConfig, listing: Listing): void {
  const dir = join(config.stateDir, CACHE_DIR);
  if (listing.mode === 'partial' || !listing.supportsChanged) {
    rmSync(listing.spool, { force: true });
    return;
  }
  renameSync(listing.spool, join(dir, CACHE_SPOOL));
  const index: CacheIndex = { version: 1, listedAt: listing.listedAt, datasets: Object.fromEntries(listing.datasets.map((d) => [d.name, d.changed])) };
  writePrivateFile(join(dir, CACHE_INDEX), JSON.stringify(index));
}

export function discard(listing: Listing): void {
  rmSync(listing.spool, { force: true });
}
