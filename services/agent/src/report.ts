/**
 * `report`: the host's complete inventory (every selected dataset with its resume token, every
 * snapshot and bookmark with guid, createtxg, creation, used, referenced) sent under a fresh
 * generation, in chunks, then a heartbeat with the agent's version. A complete report tells the
 * witness that whatever it does not list is gone.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentConfig } from './config.js';
import { writePrivateFile } from './credentials.js';
import { AgentError, EXIT } from './exit-codes.js';
import { discard, keepAsCache, listInventory, readSpool, type Listing } from './inventory.js';
import type { Logger } from './log.js';
import { relieveMemory } from './memory.js';
import { AGENT_VERSION } from './version.js';
import { WitnessRefusal, type WitnessClient } from './witness.js';

export interface AgentContext {
  config: AgentConfig;
  log: Logger;
  witness: WitnessClient;
}

export interface ReportOutcome {
  reportId: string;
  /** applied, superseded, failed, or queued when the witness had not applied it within report_wait_seconds. */
  status: string;
  datasets: number;
  items: number;
  chunks: number;
  mode: Listing['mode'];
}

/** A generation larger than every earlier one of this host (epoch milliseconds, kept in the state dir). */
export function nextGeneration(stateDir: string): number {
  const file = join(stateDir, 'generation');
  let last = 0;
  try {
    last = Number(readFileSync(file, 'utf8').trim()) || 0;
  } catch {
    /* first report */
  }
  const next = Math.max(Date.now(), last + 1);
  writePrivateFile(file, `${next}\n`);
  return next;
}

/**
 * One dataset of a chunk, kept as JSON text: a chunk's rows never become an object graph, which
 * keeps the garbage (and so the peak memory) of a 300,000-snapshot report small.
 */
type DatasetEntry = {
  head: string;
  snapshots: string[];
  bookmarks: string[];
};

const q = JSON.stringify;

/** Send a listing as one report (chunked); returns once the witness applied it or report_wait_seconds passed. */
export async function sendListing(ctx: AgentContext, listing: Listing, opts: { complete: boolean }): Promise<ReportOutcome> {
  const { config, log, witness } = ctx;
  const generation = nextGeneration(config.stateDir);
  const reportId = `agent-${generation}-${process.pid}`;
  const chunkCount = Math.max(1, Math.ceil(listing.lines / config.reportChunkSize));
  if (chunkCount > 10_000) throw new AgentError(`${listing.lines} snapshots need more than 10,000 chunks`, EXIT.CONFIG, 'raise report_chunk_size');

  let index = 0;
  let current = new Map<string, DatasetEntry>();
  let inChunk = 0;
  let superseded = false;
  const entry = (pool: string, dataset: string) => {
    const key = `${pool}/${dataset}`;
    let e = current.get(key);
    if (!e) current.set(key, (e = { head: `"pool":${q(pool)},"dataset":${q(dataset)}`, snapshots: [], bookmarks: [] }));
    return e;
  };
  // Every dataset (with its resume token, or null to clear one) goes in the first chunk, so
  // datasets without snapshots are reported too and each token is sent exactly once.
  for (const d of listing.datasets) entry(d.pool, d.path).head += `,"receive_resume_token":${q(d.token)}`;

  const post = async () => {
    const datasets = [...current.values()].map((e) => `{${e.head},"snapshots":[${e.snapshots.join(',')}],"bookmarks":[${e.bookmarks.join(',')}]}`);
    const body = `{"report_id":${q(reportId)},"generation":${generation},"complete":${opts.complete}${chunkCount > 1 ? `,"chunk":{"index":${index},"count":${chunkCount}}` : ''},"datasets":[${datasets.join(',')}]}`;
    let answer;
    try {
      answer = await witness.postInventory(body);
    } catch (err) {
      if (err instanceof WitnessRefusal) throw new AgentError(`the witness refused the inventory (chunk ${index + 1}/${chunkCount}): ${err.detail}`, EXIT.DATA);
      throw err;
    }
    if (answer.status === 'superseded') superseded = true;
    log.debug('inventory chunk sent', { report_id: reportId, chunk: `${index + 1}/${chunkCount}`, datasets: datasets.length, rss_mib: Math.round(process.memoryUsage.rss() / 1048576) });
    index++;
    current = new Map();
    inChunk = 0;
    relieveMemory();
  };

  for await (const row of readSpool(listing.spool)) {
    const e = entry(row.pool, row.dataset);
    // guid, createtxg and sizes stay decimal strings: uint64 never passes through a JS number.
    const common = `"name":${q(row.name)},"guid":"${row.guid}","createtxg":"${row.createtxg}","creation":${row.creation}`;
    if (row.kind === 'snapshot') e.snapshots.push(`{${common},"used":"${row.used}","referenced":"${row.referenced}"}`);
    else e.bookmarks.push(`{${common}}`);
    if (++inChunk === config.reportChunkSize && index < chunkCount - 1) {
      await post();
      if (superseded) break;
    }
  }
  if (!superseded) await post();
  if (superseded) {
    log.warn('the witness already holds a newer report from this host; this one changed nothing', { report_id: reportId });
    return { reportId, status: 'superseded', datasets: listing.datasets.length, items: listing.lines, chunks: index, mode: listing.mode };
  }
  const status = await waitForReport(ctx, reportId);
  return { reportId, status, datasets: listing.datasets.length, items: listing.lines, chunks: chunkCount, mode: listing.mode };
}

async function waitForReport(ctx: AgentContext, reportId: string): Promise<string> {
  const deadline = Date.now() + ctx.config.reportWaitSeconds * 1000;
  let delay = 200;
  for (;;) {
    if (Date.now() >= deadline) return 'queued';
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(2000, delay * 1.5);
    let answer;
    try {
      answer = await ctx.witness.reportStatus(reportId);
    } catch (err) {
      if (err instanceof WitnessRefusal && err.status === 404) continue; // not visible yet
      throw err;
    }
    if (answer.status === 'failed') throw new AgentError(`the witness could not apply report ${reportId}: ${answer.error ?? 'unknown error'}`, EXIT.UNAVAILABLE, 'see the witness logs; the next report retries');
    if (answer.status === 'applied' || answer.status === 'superseded') return answer.status;
  }
}

export function peakRssMiB(): number {
  return Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10;
}

/** CPU seconds this process used so far (user + system). */
function cpuSeconds(): number {
  const u = process.resourceUsage();
  return Math.round((u.userCPUTime + u.systemCPUTime) / 100_000) / 10;
}

export async function heartbeat(ctx: AgentContext, extra: Record<string, unknown> = {}): Promise<void> {
  await ctx.witness.heartbeat({ agent_version: AGENT_VERSION, metadata: { hostname: ctx.config.hostname, platform: ctx.config.platform, node: process.version, ...extra } });
}

/** The `report` command. */
export async function report(ctx: AgentContext): Promise<ReportOutcome> {
  const started = Date.now();
  const listing = await listInventory(ctx.config, ctx.log);
  const listedIn = (Date.now() - started) / 1000;
  ctx.log.debug('listed', { lines: listing.lines, mode: listing.mode, peak_rss_mib: peakRssMiB() });
  let outcome: ReportOutcome;
  try {
    outcome = await sendListing(ctx, listing, { complete: true });
  } finally {
    // The listing is right whatever the witness answered: keep it for the next run's cache.
    keepAsCache(ctx.config, listing);
  }
  await heartbeat(ctx, { last_report: { report_id: outcome.reportId, datasets: outcome.datasets, items: outcome.items, listing: outcome.mode } });
  ctx.log.info(`reported ${outcome.items} snapshots and bookmarks in ${outcome.datasets} datasets`, {
    report_id: outcome.reportId,
    status: outcome.status,
    chunks: outcome.chunks,
    listing: outcome.mode,
    listed_s: Math.round(listedIn * 10) / 10,
    total_s: Math.round((Date.now() - started) / 100) / 10,
    cpu_s: cpuSeconds(),
    peak_rss_mib: peakRssMiB(),
  });
  return outcome;
}

/** Report just these datasets (after transfers changed them): complete=false leaves the others alone. */
export async function reportDatasets(ctx: AgentContext, names: ReadonlySet<string>): Promise<ReportOutcome | null> {
  if (names.size === 0) return null;
  const listing = await listInventory(ctx.config, ctx.log, names);
  try {
    if (listing.datasets.length === 0) return null;
    const outcome = await sendListing(ctx, listing, { complete: false });
    ctx.log.info(`re-reported ${listing.datasets.length} dataset(s) after the transfers`, { report_id: outcome.reportId, status: outcome.status });
    return outcome;
  } finally {
    discard(listing);
  }
}
