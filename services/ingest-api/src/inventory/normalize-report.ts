import {
  UINT64_MAX,
  checkDatasetPath,
  checkPoolName,
  snapshotLocationNormalizer,
  parseZfsName,
  joinDatasetPath,
  type ZfsListDataset,
} from '@zfs-sync/domain';
import type { BookmarkRow, InventoryReportBody, OriginalSnapshotItem, ReconcileDataset, SnapshotRow } from '@zfs-sync/contracts';
import type { FieldError } from '@zfs-sync/contracts';

/** A semantic error found after the schema passed; names the item by JSON pointer. */
export class ReportFieldError extends Error {
  constructor(readonly error: FieldError) {
    super(error.detail);
  }
}

const fail = (pointer: string, detail: string): never => {
  const field = pointer
    .split('/')
    .slice(1)
    .map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`))
    .join('');
  throw new ReportFieldError({ pointer, field, detail: `${field} ${detail}` });
};

const MAX_UINT64_STRING = UINT64_MAX.toString();

/** uint64 as a canonical decimal string; the schema already shaped it, this checks the range. */
function uint64(value: string | number | undefined, pointer: string): string | null {
  if (value === undefined) return null;
  if (typeof value === 'number') return String(value);
  if (value.length === 20 && value > MAX_UINT64_STRING) fail(pointer, 'is larger than 2^64 − 1');
  return value;
}

function unixSeconds(value: number | string, pointer: string): number {
  if (typeof value === 'number') return value;
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) fail(pointer, 'is not a valid date-time');
  return Math.floor(ms / 1000);
}

function checkLocation(pool: string, dataset: string, pointer: string): void {
  const poolReason = checkPoolName(pool);
  if (poolReason) fail(`${pointer}/pool`, `is not a valid ZFS pool name: ${poolReason}`);
  const pathReason = checkDatasetPath(dataset);
  if (pathReason) fail(`${pointer}/dataset`, `is not a valid dataset path: ${pathReason}`);
  const full = parseZfsName(joinDatasetPath(pool, dataset));
  if (!full.ok) fail(`${pointer}/dataset`, `is not a valid dataset: ${full.reason}`);
}

/**
 * Turn a validated inventory body into the compact job rows, checking what a schema cannot:
 * ZFS name rules, full-name length, uint64 range, duplicates. Throws ReportFieldError naming
 * the first offending item.
 */
export function normalizeInventory(body: InventoryReportBody): { datasets: ReconcileDataset[]; snapshots: number; bookmarks: number } {
  const seen = new Set<string>();
  let snapshots = 0;
  let bookmarks = 0;
  const datasets = body.datasets.map((d, di): ReconcileDataset => {
    const p = `/datasets/${di}`;
    checkLocation(d.pool, d.dataset, p);
    const key = `${d.pool}\u0000${d.dataset}`;
    if (seen.has(key)) fail(`${p}/dataset`, `lists ${joinDatasetPath(d.pool, d.dataset)} a second time in one report`);
    seen.add(key);
    // The schema already limited short names to printable ASCII ZFS characters, so a name's
    // length is its byte length and only the rules a pattern cannot express are left to check.
    const prefixBytes = Buffer.byteLength(joinDatasetPath(d.pool, d.dataset)) + 1;
    const checkName = (name: string, pointer: string, kind: 'snapshot' | 'bookmark', seen: Set<string>) => {
      if (name === '.' || name === '..') fail(pointer, `is not a valid ${kind} name: '${name}' is reserved`);
      if (prefixBytes + name.length > 255) fail(pointer, `makes the full ${kind} name longer than 255 bytes`);
      if (seen.has(name)) fail(pointer, `repeats ${kind} ${name} in the same dataset`);
      seen.add(name);
    };
    const inSnaps = d.snapshots ?? [];
    const snaps: SnapshotRow[] = new Array(inSnaps.length);
    const snapNames = new Set<string>();
    for (let si = 0; si < inSnaps.length; si++) {
      const s = inSnaps[si]!;
      const sp = `${p}/snapshots/${si}`;
      checkName(s.name, `${sp}/name`, 'snapshot', snapNames);
      snaps[si] = [s.name, uint64(s.guid, `${sp}/guid`), uint64(s.createtxg, `${sp}/createtxg`), unixSeconds(s.creation, `${sp}/creation`), uint64(s.used, `${sp}/used`), uint64(s.referenced, `${sp}/referenced`), s.userrefs ?? null];
    }
    const inBms = d.bookmarks ?? [];
    const bms: BookmarkRow[] = new Array(inBms.length);
    const bmNames = new Set<string>();
    for (let bi = 0; bi < inBms.length; bi++) {
      const b = inBms[bi]!;
      const bp = `${p}/bookmarks/${bi}`;
      checkName(b.name, `${bp}/name`, 'bookmark', bmNames);
      bms[bi] = [b.name, uint64(b.guid, `${bp}/guid`), uint64(b.createtxg, `${bp}/createtxg`), unixSeconds(b.creation, `${bp}/creation`)];
    }
    snapshots += snaps.length;
    bookmarks += bms.length;
    const out: ReconcileDataset = { pool: d.pool, dataset: d.dataset, snapshots: snaps, bookmarks: bms };
    // Only a key that is present changes the stored token (null clears it).
    if (d.receive_resume_token !== undefined) out.receive_resume_token = d.receive_resume_token;
    return out;
  });
  return { datasets, snapshots, bookmarks };
}

/** The parsed `zfs list` TSV (already validated line by line) in job form. */
export function fromZfsList(datasets: ZfsListDataset[]): { datasets: ReconcileDataset[]; snapshots: number; bookmarks: number } {
  let snapshots = 0;
  let bookmarks = 0;
  const out = datasets.map((d): ReconcileDataset => {
    snapshots += d.snapshots.length;
    bookmarks += d.bookmarks.length;
    return {
      pool: d.pool,
      dataset: d.dataset,
      snapshots: d.snapshots.map((s) => [s.name, s.guid, s.createtxg, Math.floor(Date.parse(s.creation) / 1000), s.used, s.referenced, null]),
      bookmarks: d.bookmarks.map((b) => [b.name, b.guid, b.createtxg, Math.floor(Date.parse(b.creation) / 1000)]),
    };
  });
  return { datasets: out, snapshots, bookmarks };
}

/** One item of the original forms as it will be stored: where (normalised) and its row. */
export interface OriginalItemRow {
  pool: string;
  dataset: string;
  row: SnapshotRow;
}

/**
 * The original client's snapshots, grouped per system and dataset. `name` may be a full
 * `pool/ds@snap` and `dataset` may carry the pool prefix: both are normalised. `size` is the
 * original's name for `used`. `items` holds each item's normalised form, in the request's order
 * (the answer echoes every item, also a repeated one).
 */
export function normalizeOriginalSnapshots(items: OriginalSnapshotItem[], pointerOf: (index: number) => string): { perSystem: Map<string, ReconcileDataset[]>; items: OriginalItemRow[] } {
  const perSystem = new Map<string, Map<string, ReconcileDataset>>();
  const rowIndex = new Map<ReconcileDataset, Map<string, number>>();
  const normalizeLocation = snapshotLocationNormalizer();
  const out: OriginalItemRow[] = new Array(items.length);
  items.forEach((item, i) => {
    const p = pointerOf(i);
    const loc = normalizeLocation({ name: item.name, pool: item.pool, dataset: item.dataset });
    if (!loc.ok) fail(`${p}/${loc.field}`, loc.reason);
    const { pool, dataset, name } = (loc as { ok: true; value: { pool: string; dataset: string; name: string } }).value;
    const used = uint64(item.used ?? item.size, `${p}/${item.used !== undefined ? 'used' : 'size'}`);
    const row: SnapshotRow = [name, uint64(item.guid, `${p}/guid`), uint64(item.createtxg, `${p}/createtxg`), unixSeconds(item.timestamp, `${p}/timestamp`), used, uint64(item.referenced, `${p}/referenced`), null];
    out[i] = { pool, dataset, row };
    let datasets = perSystem.get(item.system_id);
    if (!datasets) perSystem.set(item.system_id, (datasets = new Map()));
    const key = `${pool}\u0000${dataset}`;
    let ds = datasets.get(key);
    if (!ds) {
      datasets.set(key, (ds = { pool, dataset, snapshots: [], bookmarks: [] }));
      rowIndex.set(ds, new Map());
    }
    // The same snapshot twice in one batch: the later item wins (an upsert), as the original did.
    const index = rowIndex.get(ds)!;
    const existing = index.get(name);
    if (existing !== undefined) ds.snapshots[existing] = row;
    else index.set(name, ds.snapshots.push(row) - 1);
  });
  return { perSystem: new Map([...perSystem].map(([sid, m]) => [sid, [...m.values()]])), items: out };
}
