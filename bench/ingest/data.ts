/**
 * Synthetic but realistic inventories: sanoid-style snapshot names, increasing createtxg and
 * creation, and guids that are uniformly random uint64 (so about half are above 2^63), sent as
 * decimal strings. Systems 2k and 2k+1 are a replication pair: the same dataset paths carry the
 * same guids, as a replicated snapshot does. Everything is derived from the indices, so two runs
 * send byte-identical bodies.
 */

export interface BenchDatasetShape {
  datasets: number;
  snapshotsPerDataset: number;
}

const BASE_CREATION = 1_735_689_600; // 2025-01-01T00:00:00Z
const HOUR = 3600;

/** A 32-bit mix (murmur3 finaliser) of a 32-bit input. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** A deterministic uint64 for (a, b, c) as a decimal string. */
export function guidOf(a: number, b: number, c: number): string {
  const hi = mix32(mix32(a * 0x9e3779b1 + 1) ^ mix32(b + 0x51ed270b) ^ mix32(c * 2 + 0x2f));
  const lo = mix32(hi ^ mix32(c * 2 + 0x30) ^ mix32(b * 7 + a));
  return ((BigInt(hi) << 32n) | BigInt(lo)).toString();
}

export function poolOf(system: number): string {
  return system % 2 === 0 ? 'tank' : 'backup';
}

/** Dataset 0 is the pool's root (`""`), the others nested paths. */
export function datasetPathOf(d: number): string {
  if (d === 0) return '';
  const groups = ['home', 'srv', 'vm', 'db'];
  return `${groups[d % groups.length]}/set-${String(d).padStart(3, '0')}`;
}

function snapshotName(creation: number): string {
  const iso = new Date(creation * 1000).toISOString(); // 2025-01-01T00:00:00.000Z
  return `autosnap_${iso.slice(0, 10)}_${iso.slice(11, 19)}_hourly`;
}

export interface SnapshotRowIn {
  name: string;
  guid: string;
  createtxg: string;
  creation: number;
  used: string;
  referenced: string;
  userrefs: number;
}

export function snapshotsOf(system: number, d: number, count: number): SnapshotRowIn[] {
  const pair = system >> 1;
  const out: SnapshotRowIn[] = new Array(count);
  for (let n = 0; n < count; n++) {
    const creation = BASE_CREATION + n * HOUR + d * 7;
    const size = mix32(pair * 131 + d * 7919 + n);
    out[n] = {
      name: snapshotName(creation),
      guid: guidOf(pair, d, n),
      createtxg: String(2_000_000 + n * 241 + d),
      creation,
      used: String((size % 50_000_000) + 4096),
      referenced: String(((size >>> 3) % 5_000_000_000) + 1_048_576),
      // The newest snapshots of a dataset carry a hold, as a pending replication would.
      userrefs: n >= count - 2 ? 1 : 0,
    };
  }
  return out;
}

/** The `datasets` array of a full inventory, serialised once (the report header is added per post). */
export function inventoryDatasetsJson(system: number, shape: BenchDatasetShape): string {
  const datasets = [];
  for (let d = 0; d < shape.datasets; d++) {
    datasets.push({ pool: poolOf(system), dataset: datasetPathOf(d), snapshots: snapshotsOf(system, d, shape.snapshotsPerDataset), bookmarks: [] });
  }
  return JSON.stringify(datasets);
}

export function inventoryBody(reportId: string, generation: number, datasetsJson: string): string {
  return `{"report_id":${JSON.stringify(reportId)},"generation":${generation},"complete":true,"datasets":${datasetsJson}}`;
}

/**
 * What the original host script sends to POST /snapshots/batch: one item per snapshot from
 * `zfs list -t snapshot -Hp -o name,creation,used,referenced`, `size` = used (a JSON number),
 * ISO timestamps, no guid; cut into sequential requests of `chunk` items.
 */
export function batchChunks(system: number, systemId: string, rows: number, datasets: number, chunk: number): string[] {
  const perDataset = Math.ceil(rows / datasets);
  const items: Array<{ name: string; pool: string; dataset: string; timestamp: string; size: number; system_id: string }> = [];
  for (let d = 0; d < datasets && items.length < rows; d++) {
    for (const s of snapshotsOf(system, d, Math.min(perDataset, rows - items.length))) {
      items.push({ name: s.name, pool: poolOf(system), dataset: datasetPathOf(d), timestamp: new Date(s.creation * 1000).toISOString().replace('.000Z', 'Z'), size: Number(s.used), system_id: systemId });
    }
  }
  const out: string[] = [];
  for (let i = 0; i < items.length; i += chunk) out.push(JSON.stringify(items.slice(i, i + chunk)));
  return out;
}
