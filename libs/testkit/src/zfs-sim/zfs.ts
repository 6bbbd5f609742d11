/**
 * The simulated `zfs` command: the subcommands and flags a replication agent uses, with ZFS's
 * output formats (`-H` tab-separated, `-p` exact numbers) and ZFS's refusals, word for word where
 * the wording is known. Everything runs against the host's state directory (state.ts).
 */
import type { Readable, Writable } from 'node:stream';
import { parseZfsName } from '@zfs-sync/domain';
import { getopt } from './getopt.js';
import {
  ZfsError,
  descendants,
  findSnapshot,
  getDataset,
  journal,
  markSnapshotsChanged,
  newDataset,
  newGuid,
  nextTxg,
  nowSeconds,
  parentOf,
  poolOf,
  readState,
  splitName,
  withState,
  type SimDataset,
  type SimSnapshot,
  type SimState,
} from './state.js';
import {
  STREAM_MAGIC,
  StreamReader,
  StreamWriter,
  decodeResumeToken,
  encodeResumeToken,
  payloadBytes,
  writeEnd,
  writeHeader,
  writeRecord,
  type StreamHeader,
  type StreamRecord,
} from './stream.js';

export interface Io {
  stdin: Readable;
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable;
  /** The host's state directory. */
  dir: string;
}

const say = (io: Io, text: string) => io.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
const print = (io: Io, text: string) => io.stdout.write(text);

// ---------------------------------------------------------------------------------------------
// Formatting

/** zfs's nicenum: three significant digits and a unit (`1.50K`, `15.0M`, `512B`). */
export function humanSize(n: number): string {
  const units = ['B', 'K', 'M', 'G', 'T', 'P', 'E'];
  if (n < 1024) return `${n}B`;
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  const digits = v < 10 ? 2 : v < 100 ? 1 : 0;
  return `${v.toFixed(digits)}${units[u]}`;
}

function humanDate(seconds: number, withSeconds = false): string {
  const d = new Date(seconds * 1000);
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getDay()];
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getMonth()];
  const hh = String(d.getHours()).padStart(2, ' ');
  const mm = String(d.getMinutes()).padStart(2, '0');
  const ss = withSeconds ? `:${String(d.getSeconds()).padStart(2, '0')}` : '';
  return `${day} ${mon} ${String(d.getDate()).padStart(2, ' ')} ${hh}:${mm}${ss} ${d.getFullYear()}`;
}

// ---------------------------------------------------------------------------------------------
// Items and properties (what list and get show)

type ItemKind = 'filesystem' | 'volume' | 'snapshot' | 'bookmark';
interface Item {
  kind: ItemKind;
  name: string;
  dataset: string;
  ds: SimDataset;
  snap?: SimSnapshot;
  bookmark?: { name: string; guid: string; createtxg: string; creation: number };
}

const NUMERIC = new Set(['guid', 'createtxg', 'creation', 'used', 'referenced', 'refer', 'available', 'avail', 'written', 'userrefs', 'snapshots_changed']);
const KNOWN = new Set([...NUMERIC, 'name', 'type', 'receive_resume_token', 'mounted', 'mountpoint', 'encryption']);

function checkProps(state: SimState, props: string[]): void {
  for (const p of props) {
    if (!KNOWN.has(p) || (p === 'snapshots_changed' && !state.settings.snapshotsChanged)) {
      throw new ZfsError(`bad property list: invalid property '${p}'\nusage:\n\tlist [-Hp] [-r|-d max] [-o property[,...]] [-s property]...\n\t    [-S property]... [-t type[,...]] [filesystem|volume|snapshot] ...`, 2);
    }
  }
}

export function resumeTokenOf(ds: SimDataset): string | null {
  const p = ds.partial;
  if (!p) return null;
  return encodeResumeToken({ fromGuid: p.fromGuid, toGuid: p.toGuid, toName: p.sourceName, bytes: p.receivedBytes, compressed: p.compressed, raw: p.raw });
}

/** A property's value: exact (`-p`) or for people; null is shown as `-`. */
function propValue(item: Item, prop: string, exact: boolean): string {
  const { ds, snap, bookmark } = item;
  const size = (n: number) => (exact ? String(n) : humanSize(n));
  const date = (s: number, sec = false) => (exact ? String(s) : humanDate(s, sec));
  const fs = item.kind === 'filesystem' || item.kind === 'volume';
  switch (prop) {
    case 'name':
      return item.name;
    case 'type':
      return item.kind;
    case 'guid':
      return (snap ?? bookmark ?? ds).guid;
    case 'createtxg':
      return (snap ?? bookmark ?? ds).createtxg;
    case 'creation':
      return date((snap ?? bookmark ?? ds).creation);
    case 'used':
      if (bookmark) return '-';
      return size(snap ? snap.used : ds.referenced + ds.written + ds.snapshots.reduce((a, s) => a + s.used, 0));
    case 'referenced':
    case 'refer':
      if (bookmark) return '-';
      return size(snap ? snap.referenced : ds.referenced + ds.written);
    case 'available':
    case 'avail':
      return fs ? size(1_099_511_627_776) : '-';
    case 'written':
      if (bookmark) return '-';
      return size(snap ? snap.written : ds.written);
    case 'userrefs':
      return snap ? String(snap.holds.length) : '-';
    case 'receive_resume_token':
      return fs ? resumeTokenOf(ds) ?? '-' : '-';
    case 'snapshots_changed':
      return fs && ds.snapshotsChanged !== null ? date(ds.snapshotsChanged, true) : '-';
    case 'mounted':
      return item.kind === 'filesystem' ? (ds.mounted ? 'yes' : 'no') : '-';
    case 'mountpoint':
      return item.kind === 'filesystem' ? `/${item.dataset}` : '-';
    case 'encryption':
      return ds.encrypted ? 'aes-256-gcm' : 'off';
    default:
      return '-';
  }
}

function itemsOf(state: SimState, dataset: string, types: Set<ItemKind>): Item[] {
  const ds = state.datasets[dataset]!;
  const out: Item[] = [];
  if (types.has(ds.type)) out.push({ kind: ds.type, name: dataset, dataset, ds });
  if (types.has('snapshot')) for (const s of ds.snapshots) out.push({ kind: 'snapshot', name: `${dataset}@${s.name}`, dataset, ds, snap: s });
  if (types.has('bookmark')) for (const b of ds.bookmarks) out.push({ kind: 'bookmark', name: `${dataset}#${b.name}`, dataset, ds, bookmark: b });
  return out;
}

function parseTypes(spec: string | undefined): Set<ItemKind> {
  if (spec === undefined) return new Set(['filesystem', 'volume']);
  const out = new Set<ItemKind>();
  for (const t of spec.split(',')) {
    const map: Record<string, ItemKind[]> = {
      filesystem: ['filesystem'],
      fs: ['filesystem'],
      volume: ['volume'],
      vol: ['volume'],
      snapshot: ['snapshot'],
      snap: ['snapshot'],
      bookmark: ['bookmark'],
      all: ['filesystem', 'volume', 'snapshot', 'bookmark'],
    };
    const kinds = map[t];
    if (!kinds) throw new ZfsError(`invalid type '${t}'\nusage:\n\tlist [-Hp] [-r|-d max] [-o property[,...]] [-t type[,...]] ...`, 2);
    for (const k of kinds) out.add(k);
  }
  return out;
}

/**
 * The items a listing covers, in zfs's default order: by dataset name, each dataset followed by
 * its snapshots (createtxg order) and bookmarks. `depth` null means neither -r nor -d.
 */
function collect(state: SimState, targets: string[], types: Set<ItemKind>, depth: number | null): Item[] {
  const names = Object.keys(state.datasets).sort();
  const result: Item[] = [];
  const own = (name: string, datasetLevel: boolean, childLevel: boolean) => {
    const ds = state.datasets[name]!;
    for (const item of itemsOf(state, name, types)) if (item.kind === ds.type ? datasetLevel : childLevel) result.push(item);
  };
  if (targets.length === 0) {
    for (const name of names) own(name, true, true);
    return result;
  }
  for (const target of targets) {
    const { dataset, sep, short } = splitName(target);
    const ds = state.datasets[dataset];
    if (!ds) throw new ZfsError(`cannot open '${target}': dataset does not exist`);
    if (sep === '@') {
      const snap = findSnapshot(ds, short!);
      if (!snap) throw new ZfsError(`cannot open '${target}': snapshot does not exist`);
      result.push({ kind: 'snapshot', name: target, dataset, ds, snap });
      continue;
    }
    if (sep === '#') {
      const bookmark = ds.bookmarks.find((b) => b.name === short);
      if (!bookmark) throw new ZfsError(`cannot open '${target}': bookmark does not exist`);
      result.push({ kind: 'bookmark', name: target, dataset, ds, bookmark });
      continue;
    }
    if (depth === null) {
      // `zfs list -t snapshot pool/ds` lists that dataset's snapshots (as `-d 1` does).
      if (types.has(ds.type)) own(dataset, true, false);
      else own(dataset, false, true);
      continue;
    }
    const level = dataset.split('/').length;
    for (const name of names) {
      if (name !== dataset && !name.startsWith(`${dataset}/`)) continue;
      const r = name.split('/').length - level;
      // A dataset's snapshots and bookmarks sit one level below it.
      if (r <= depth) own(name, true, r + 1 <= depth);
    }
  }
  return result;
}

/** Compare two property values; numeric ones are canonical decimals (or `-`), compared without BigInt. */
function compareValues(a: string, b: string, numeric: boolean): number {
  if (numeric) {
    if (a === b) return 0;
    if (a === '-') return -1;
    if (b === '-') return 1;
    if (a.length !== b.length) return a.length - b.length;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

function list(args: string[], io: Io): number {
  const o = getopt(args, 'Hprj', 'odtsS', 'usage:\n\tlist [-Hp] [-r|-d max] [-o property[,...]] [-s property]...\n\t    [-S property]... [-t type[,...]] [filesystem|volume|snapshot] ...');
  if (o.flags.has('j')) throw new ZfsError("invalid option 'j'\nusage:\n\tlist [-Hp] [-r|-d max] ...", 2);
  const state = readState(io.dir);
  const props = (o.values.get('o') ?? ['name,used,avail,refer,mountpoint']).join(',').split(',');
  checkProps(state, props);
  const snapshotTarget = o.operands.some((t) => t.includes('@'));
  const types = parseTypes(o.values.get('t')?.join(',') ?? (snapshotTarget ? 'filesystem,volume,snapshot' : undefined));
  const depthValue = o.values.get('d')?.at(-1);
  if (depthValue !== undefined && !/^\d+$/.test(depthValue)) throw new ZfsError(`invalid depth '${depthValue}'`, 2);
  const depth = depthValue !== undefined ? Number(depthValue) : o.flags.has('r') ? Infinity : null;
  let items = collect(state, o.operands, types, depth);
  const sorts: Array<{ prop: string; desc: boolean }> = [];
  for (const [flag, desc] of [['s', false], ['S', true]] as const) for (const p of o.values.get(flag) ?? []) sorts.push({ prop: p, desc });
  checkProps(state, sorts.map((s) => s.prop));
  if (sorts.length) {
    items = items
      .map((item, index) => ({ item, index, keys: sorts.map((s) => propValue(item, s.prop, true)) }))
      .sort((a, b) => {
        for (let i = 0; i < sorts.length; i++) {
          const c = compareValues(a.keys[i]!, b.keys[i]!, NUMERIC.has(sorts[i]!.prop));
          if (c !== 0) return sorts[i]!.desc ? -c : c;
        }
        return a.index - b.index;
      })
      .map((x) => x.item);
  }
  const exact = o.flags.has('p');
  const rows = items.map((item) => props.map((p) => propValue(item, p, exact)));
  if (o.flags.has('H')) {
    let buf = '';
    for (const row of rows) {
      buf += `${row.join('\t')}\n`;
      if (buf.length > 65_536) {
        print(io, buf);
        buf = '';
      }
    }
    print(io, buf);
  } else if (rows.length === 0) {
    say(io, 'no datasets available');
  } else {
    const header = props.map((p) => p.toUpperCase());
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (r: string[]) => `${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}\n`;
    print(io, [header, ...rows].map(line).join(''));
  }
  return 0;
}

function get(args: string[], io: Io): number {
  const o = getopt(args, 'Hprj', 'odts', 'usage:\n\tget [-rHp] [-d max] [-o "all" | field[,...]] [-t type[,...]] [-s source[,...]] <"all" | property[,...]> [filesystem|volume|snapshot|bookmark] ...');
  const [propList, ...targets] = o.operands;
  if (!propList) throw new ZfsError('missing property argument\nusage:\n\tget [-rHp] ... <"all" | property[,...]> ...', 2);
  const state = readState(io.dir);
  const props = propList.split(',');
  checkProps(state, props);
  const fields = (o.values.get('o') ?? ['name,property,value,source']).join(',').split(',');
  const all = new Set<ItemKind>(['filesystem', 'volume', 'snapshot', 'bookmark']);
  const items = collect(state, targets, all, o.flags.has('r') ? Infinity : 0).filter((i) => targets.length === 0 || targets.includes(i.name) || o.flags.has('r'));
  const exact = o.flags.has('p');
  const out: string[][] = [];
  for (const item of items) {
    for (const p of props) {
      const row: Record<string, string> = { name: item.name, property: p, value: propValue(item, p, exact), source: '-' };
      out.push(fields.map((f) => row[f] ?? '-'));
    }
  }
  print(io, out.map((r) => `${r.join(o.flags.has('H') ? '\t' : '  ')}\n`).join(''));
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Changes

function checkName(name: string, what: string): void {
  const r = parseZfsName(name);
  if (!r.ok) throw new ZfsError(`cannot ${what} '${name}': ${r.reason}`);
}

function create(args: string[], io: Io): number {
  const o = getopt(args, 'psnuv', 'oVb', 'usage:\n\tcreate [-Pnpuv] [-o property=value] ... <filesystem>');
  const [name] = o.operands;
  if (!name) throw new ZfsError('missing filesystem argument', 2);
  checkName(name, 'create');
  withState(io.dir, (state) => {
    if (state.datasets[name]) throw new ZfsError(`cannot create '${name}': dataset already exists`);
    const pool = poolOf(name);
    if (!state.pools[pool]) throw new ZfsError(`cannot create '${name}': no such pool '${pool}'`);
    const missing: string[] = [];
    for (let p = parentOf(name); p && !state.datasets[p]; p = parentOf(p)) missing.unshift(p);
    if (missing.length && !o.flags.has('p')) throw new ZfsError(`cannot create '${name}': parent does not exist`);
    const encrypted = (o.values.get('o') ?? []).some((kv) => /^encryption=(on|aes-)/.test(kv));
    for (const p of [...missing, name]) {
      const ds = newDataset(state, pool, p === name && o.values.has('V') ? 'volume' : 'filesystem');
      ds.encrypted = encrypted || !!state.datasets[parentOf(p) ?? '']?.encrypted;
      state.datasets[p] = ds;
    }
  });
  journal(io.dir, { cmd: 'create', name });
  return 0;
}

function snapshot(args: string[], io: Io): number {
  const o = getopt(args, 'r', 'o', 'usage:\n\tsnapshot [-r] [-o property=value] ... <filesystem|volume>@<snap> ...');
  if (o.operands.length === 0) throw new ZfsError('missing snapshot argument\nusage:\n\tsnapshot [-r] [-o property=value] ... <filesystem|volume>@<snap> ...', 2);
  const created: string[] = [];
  withState(io.dir, (state) => {
    const txgByPool = new Map<string, string>();
    const plan: Array<{ dataset: string; short: string }> = [];
    for (const target of o.operands) {
      checkName(target, 'create snapshot');
      const { dataset, sep, short } = splitName(target);
      if (sep !== '@') throw new ZfsError(`cannot create snapshot '${target}': not a snapshot name`, 2);
      getDataset(state, dataset);
      for (const d of [dataset, ...(o.flags.has('r') ? descendants(state, dataset).reverse() : [])]) {
        if (findSnapshot(state.datasets[d]!, short!)) throw new ZfsError(`cannot create snapshot '${d}@${short}': dataset already exists`);
        plan.push({ dataset: d, short: short! });
      }
    }
    // One command is one transaction group per pool: its snapshots share a createtxg.
    const now = nowSeconds();
    for (const { dataset, short } of plan) {
      const pool = poolOf(dataset);
      if (!txgByPool.has(pool)) txgByPool.set(pool, nextTxg(state, pool));
      const ds = state.datasets[dataset]!;
      const written = ds.written;
      ds.snapshots.push({ name: short, guid: newGuid(), createtxg: txgByPool.get(pool)!, creation: now, written, used: 0, referenced: ds.referenced + written, holds: [] });
      const prev = ds.snapshots.at(-2);
      if (prev) prev.used = Math.floor(prev.written / 4);
      ds.referenced += written;
      ds.written = 0;
      markSnapshotsChanged(ds);
      created.push(`${dataset}@${short}`);
    }
  });
  journal(io.dir, { cmd: 'snapshot', created });
  return 0;
}

function bookmark(args: string[], io: Io): number {
  const o = getopt(args, '', '', 'usage:\n\tbookmark <snapshot|bookmark> <bookmark>');
  const [from, to] = o.operands;
  if (!from || !to) throw new ZfsError('missing arguments\nusage:\n\tbookmark <snapshot|bookmark> <bookmark>', 2);
  withState(io.dir, (state) => {
    const src = splitName(from);
    const ds = getDataset(state, src.dataset);
    const origin = src.sep === '@' ? findSnapshot(ds, src.short!) : ds.bookmarks.find((b) => b.name === src.short);
    if (!origin) throw new ZfsError(`cannot create bookmark '${to}': ${src.sep === '@' ? 'snapshot' : 'bookmark'} does not exist`);
    const dst = splitName(to.startsWith('#') ? `${src.dataset}${to}` : to);
    if (dst.sep !== '#' || dst.dataset !== src.dataset) throw new ZfsError(`cannot create bookmark '${to}': must be in the same filesystem`);
    if (ds.bookmarks.some((b) => b.name === dst.short)) throw new ZfsError(`cannot create bookmark '${to}': bookmark exists`);
    ds.bookmarks.push({ name: dst.short!, guid: origin.guid, createtxg: origin.createtxg, creation: origin.creation });
    ds.bookmarks.sort((a, b) => compareValues(a.createtxg, b.createtxg, true));
  });
  journal(io.dir, { cmd: 'bookmark', from, to });
  return 0;
}

/** Resolve `ds@a,b%c,%` to snapshots of one dataset (ZFS's destroy syntax); missing names are skipped. */
function resolveSnapshotSpec(ds: SimDataset, spec: string): SimSnapshot[] {
  const picked = new Set<SimSnapshot>();
  for (const part of spec.split(',')) {
    const pct = part.indexOf('%');
    if (pct < 0) {
      const s = findSnapshot(ds, part);
      if (s) picked.add(s);
      continue;
    }
    const first = part.slice(0, pct);
    const last = part.slice(pct + 1);
    const from = first === '' ? 0 : ds.snapshots.findIndex((s) => s.name === first);
    const to = last === '' ? ds.snapshots.length - 1 : ds.snapshots.findIndex((s) => s.name === last);
    if (from < 0 || to < 0) continue;
    for (let i = from; i <= to; i++) picked.add(ds.snapshots[i]!);
  }
  return ds.snapshots.filter((s) => picked.has(s));
}

function destroy(args: string[], io: Io): number {
  const usage = 'usage:\n\tdestroy [-fnpRrv] <filesystem|volume>\n\tdestroy [-dnpRrv] <filesystem|volume>@<snap>[%<snap>][,...]\n\tdestroy <filesystem|volume>#<bookmark>';
  const o = getopt(args, 'fnpRrvd', '', usage);
  const [target] = o.operands;
  if (!target || o.operands.length > 1) throw new ZfsError(`${target ? 'too many arguments' : 'missing dataset argument'}\n${usage}`, 2);
  const dry = o.flags.has('n');
  const recursive = o.flags.has('r') || o.flags.has('R');
  const report = (what: string) => {
    if (o.flags.has('p')) print(io, `destroy\t${what}\n`);
    else if (o.flags.has('v') || dry) print(io, `${dry ? 'would' : 'will'} destroy ${what}\n`);
  };
  const destroyed: string[] = [];
  withState(
    io.dir,
    (state) => {
      const { dataset, sep, short } = splitName(target);
      if (sep === '#') {
        const ds = getDataset(state, dataset);
        const at = ds.bookmarks.findIndex((b) => b.name === short);
        if (at < 0) throw new ZfsError(`bookmark '${target}' does not exist`);
        if (!dry) ds.bookmarks.splice(at, 1);
        destroyed.push(target);
        return;
      }
      if (sep === '@') {
        getDataset(state, dataset);
        const scope = [dataset, ...(recursive ? descendants(state, dataset).reverse() : [])];
        const victims: Array<{ ds: SimDataset; name: string; snap: SimSnapshot }> = [];
        for (const d of scope) for (const s of resolveSnapshotSpec(state.datasets[d]!, short!)) victims.push({ ds: state.datasets[d]!, name: `${d}@${s.name}`, snap: s });
        if (victims.length === 0) throw new ZfsError('could not find any snapshots to destroy; check snapshot names.');
        const held = victims.find((v) => v.snap.holds.length > 0);
        if (held && !dry) throw new ZfsError(`cannot destroy snapshot ${held.name}: dataset is busy`);
        for (const v of victims) {
          report(v.name);
          destroyed.push(v.name);
          if (dry) continue;
          v.ds.snapshots = v.ds.snapshots.filter((s) => s !== v.snap);
          markSnapshotsChanged(v.ds);
        }
        return;
      }
      const ds = getDataset(state, dataset);
      if (!dataset.includes('/')) {
        throw new ZfsError(`cannot destroy '${dataset}': operation does not apply to pools\nuse 'zfs destroy -r ${dataset}' to destroy all datasets in the pool\nuse 'zpool destroy ${dataset}' to destroy the pool itself`);
      }
      const below = descendants(state, dataset);
      if (!recursive && (below.length > 0 || ds.snapshots.length > 0)) {
        const names = [...below.map((d) => d), ...ds.snapshots.map((s) => `${dataset}@${s.name}`)];
        throw new ZfsError(`cannot destroy '${dataset}': filesystem has children\nuse '-r' to destroy the following datasets:\n${names.join('\n')}`);
      }
      for (const d of [...below, dataset]) {
        const held = state.datasets[d]!.snapshots.find((s) => s.holds.length > 0);
        if (held && !dry) throw new ZfsError(`cannot destroy snapshot ${d}@${held.name}: dataset is busy`);
      }
      for (const d of [...below, dataset]) {
        for (const s of state.datasets[d]!.snapshots) report(`${d}@${s.name}`);
        report(d);
        destroyed.push(d);
        if (!dry) delete state.datasets[d];
      }
    },
    { write: !dry },
  );
  if (!dry) journal(io.dir, { cmd: 'destroy', target, destroyed });
  return 0;
}

function rollback(args: string[], io: Io): number {
  const usage = 'usage:\n\trollback [-rRf] <snapshot>';
  const o = getopt(args, 'rRf', '', usage);
  const [target] = o.operands;
  if (!target) throw new ZfsError(`missing dataset argument\n${usage}`, 2);
  const { dataset, sep, short } = splitName(target);
  if (sep !== '@') throw new ZfsError(`'${target}' is not a snapshot\n${usage}`, 2);
  const destroyed: string[] = [];
  withState(io.dir, (state) => {
    const ds = getDataset(state, dataset);
    const at = ds.snapshots.findIndex((s) => s.name === short);
    if (at < 0) throw new ZfsError(`cannot open '${target}': dataset does not exist`);
    const snap = ds.snapshots[at]!;
    const newer = ds.snapshots.slice(at + 1);
    const newerBookmarks = ds.bookmarks.filter((b) => BigInt(b.createtxg) > BigInt(snap.createtxg));
    if ((newer.length || newerBookmarks.length) && !o.flags.has('r') && !o.flags.has('R')) {
      const names = [...newer.map((s) => `${dataset}@${s.name}`), ...newerBookmarks.map((b) => `${dataset}#${b.name}`)];
      throw new ZfsError(`cannot rollback to '${target}': more recent snapshots or bookmarks exist\nuse '-r' to force deletion of the following snapshots and bookmarks:\n${names.join('\n')}`);
    }
    const held = newer.find((s) => s.holds.length > 0);
    if (held) throw new ZfsError(`cannot destroy '${dataset}@${held.name}': dataset is busy`);
    ds.snapshots = ds.snapshots.slice(0, at + 1);
    ds.bookmarks = ds.bookmarks.filter((b) => !newerBookmarks.includes(b));
    if (newer.length) markSnapshotsChanged(ds);
    destroyed.push(...newer.map((s) => `${dataset}@${s.name}`));
    ds.written = 0;
    ds.referenced = snap.referenced;
  });
  journal(io.dir, { cmd: 'rollback', target, destroyed });
  return 0;
}

function rename(args: string[], io: Io): number {
  const usage = 'usage:\n\trename [-f] <filesystem|volume|snapshot> <filesystem|volume|snapshot>\n\trename -p [-f] <filesystem|volume> <filesystem|volume>\n\trename -r <snapshot> <snapshot>';
  const o = getopt(args, 'fpru', '', usage);
  const [from, toArg] = o.operands;
  if (!from || !toArg) throw new ZfsError(`missing ${from ? 'target' : 'source'} dataset argument\n${usage}`, 2);
  withState(io.dir, (state) => {
    const src = splitName(from);
    if (src.sep === '@') {
      const to = toArg.startsWith('@') ? `${src.dataset}${toArg}` : toArg.includes('@') ? toArg : `${src.dataset}@${toArg}`;
      checkName(to, 'rename to');
      const dst = splitName(to);
      if (dst.dataset !== src.dataset) throw new ZfsError('snapshots must be part of same dataset');
      for (const d of [src.dataset, ...(o.flags.has('r') ? descendants(state, src.dataset) : [])]) {
        const ds = getDataset(state, d);
        const snap = findSnapshot(ds, src.short!);
        if (!snap) {
          if (d === src.dataset) throw new ZfsError(`cannot open '${from}': dataset does not exist`);
          continue;
        }
        if (findSnapshot(ds, dst.short!)) throw new ZfsError(`cannot rename to '${d}@${dst.short}': dataset already exists`);
        snap.name = dst.short!;
      }
      return;
    }
    checkName(toArg, 'rename to');
    getDataset(state, from);
    if (poolOf(from) !== poolOf(toArg)) throw new ZfsError(`cannot rename to '${toArg}': datasets must be within same pool`);
    if (!from.includes('/')) throw new ZfsError(`cannot rename to '${toArg}': operation does not apply to pools`);
    if (state.datasets[toArg]) throw new ZfsError(`cannot rename to '${toArg}': dataset already exists`);
    if (toArg.startsWith(`${from}/`)) throw new ZfsError(`cannot rename to '${toArg}': New dataset name cannot be a descendant of current dataset name`);
    const parent = parentOf(toArg);
    if (parent && !state.datasets[parent]) {
      if (!o.flags.has('p')) throw new ZfsError(`cannot rename to '${toArg}': parent does not exist`);
      for (let p: string | null = parent, chain: string[] = []; ; p = parentOf(p)) {
        if (p === null || state.datasets[p]) {
          for (const c of chain) state.datasets[c] = newDataset(state, poolOf(c));
          break;
        }
        chain.unshift(p);
      }
    }
    for (const name of [from, ...descendants(state, from)]) {
      const moved = toArg + name.slice(from.length);
      state.datasets[moved] = state.datasets[name]!;
      delete state.datasets[name];
    }
  });
  journal(io.dir, { cmd: 'rename', from, to: toArg });
  return 0;
}

function hold(args: string[], io: Io, release: boolean): number {
  const usage = release ? 'usage:\n\trelease [-r] <tag> <snapshot> ...' : 'usage:\n\thold [-r] <tag> <snapshot> ...';
  const o = getopt(args, 'r', '', usage);
  const [tag, ...targets] = o.operands;
  if (!tag || targets.length === 0) throw new ZfsError(`missing ${tag ? 'snapshot' : 'tag'} argument\n${usage}`, 2);
  withState(io.dir, (state) => {
    for (const target of targets) {
      const { dataset, sep, short } = splitName(target);
      if (sep !== '@') throw new ZfsError(`'${target}' is not a snapshot`, 2);
      for (const d of [dataset, ...(o.flags.has('r') ? descendants(state, dataset) : [])]) {
        const snap = findSnapshot(getDataset(state, d), short!);
        if (!snap) throw new ZfsError(`cannot ${release ? 'release hold from' : 'hold'} snapshot '${d}@${short}': dataset does not exist`);
        const has = snap.holds.includes(tag);
        if (release && !has) throw new ZfsError(`cannot release hold from snapshot '${d}@${short}': no such tag on this dataset`);
        if (!release && has) throw new ZfsError(`cannot hold snapshot '${d}@${short}': tag already exists on this dataset`);
        snap.holds = release ? snap.holds.filter((h) => h !== tag) : [...snap.holds, tag];
      }
    }
  });
  journal(io.dir, { cmd: release ? 'release' : 'hold', tag, targets });
  return 0;
}

function holds(args: string[], io: Io): number {
  const o = getopt(args, 'rHp', '', 'usage:\n\tholds [-rHp] <snapshot> ...');
  const state = readState(io.dir);
  const rows: string[][] = [];
  for (const target of o.operands) {
    const { dataset, short } = splitName(target);
    const snap = findSnapshot(getDataset(state, dataset), short ?? '');
    if (!snap) throw new ZfsError(`cannot open '${target}': dataset does not exist`);
    for (const tag of snap.holds) rows.push([target, tag, o.flags.has('p') ? String(snap.creation) : humanDate(snap.creation)]);
  }
  if (o.flags.has('H')) print(io, rows.map((r) => `${r.join('\t')}\n`).join(''));
  else print(io, ['NAME\tTAG\tTIMESTAMP', ...rows.map((r) => r.join('\t'))].map((l) => `${l}\n`).join(''));
  return 0;
}

// ---------------------------------------------------------------------------------------------
// send

function clock(): string {
  const d = new Date();
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

async function send(args: string[], io: Io): Promise<number> {
  const usage = 'usage:\n\tsend [-DLPbcehnpsVvw] [-i|-I snapshot] <snapshot>\n\tsend [-DnVvPe] -t <receive_resume_token>';
  const o = getopt(args, 'DLPbcehnpsVvwR', 'iIt', usage);
  if (o.flags.has('R') || o.flags.has('D')) throw new ZfsError(`zfs-sim: send -${o.flags.has('R') ? 'R' : 'D'} is not simulated`, 2);
  const verbose = o.flags.has('v');
  const parsable = o.flags.has('P');
  const token = o.values.get('t')?.at(-1);
  let header: StreamHeader;
  let records: StreamRecord[];
  let label: string;
  const state = readState(io.dir);

  if (token !== undefined) {
    if (o.operands.length) throw new ZfsError(`too many arguments\n${usage}`, 2);
    const t = decodeResumeToken(token);
    if (!t) throw new ZfsError('cannot resume send: kernel modules must be upgraded to receive this stream.\nresume token is corrupt or invalid');
    const { dataset, short } = splitName(t.toName);
    const ds = state.datasets[dataset];
    const snap = ds?.snapshots.find((s) => s.guid === t.toGuid);
    if (!ds || !snap) throw new ZfsError(`cannot resume send: '${t.toName}' used in the initial send no longer exists`);
    if (snap.name !== short) throw new ZfsError(`cannot resume send: '${t.toName}' is no longer the same snapshot used in the initial send`);
    if (t.fromGuid !== null && !ds.snapshots.some((s) => s.guid === t.fromGuid) && !ds.bookmarks.some((b) => b.guid === t.fromGuid)) {
      throw new ZfsError(`cannot resume send: incremental source 0x${BigInt(t.fromGuid).toString(16)} no longer exists`);
    }
    const total = payloadBytes(snap.written, t.compressed);
    records = [{ name: snap.name, guid: snap.guid, creation: snap.creation, written: snap.written, referenced: snap.referenced, fromGuid: t.fromGuid, total, bytes: Math.max(0, total - t.bytes), sourceName: t.toName }];
    header = { kind: 'resume', toName: t.toName, toGuid: snap.guid, fromGuid: t.fromGuid, compressed: t.compressed, raw: t.raw, records: 1, resumeOffset: t.bytes };
    label = t.toName;
    if (verbose || parsable) say(io, parsable ? `resume token contents:\nnvlist version: 0\n\tfromguid = 0x${BigInt(t.fromGuid ?? '0').toString(16)}\n\ttoguid = 0x${BigInt(t.toGuid).toString(16)}\n\ttoname = ${t.toName}\n\tbytes = ${t.bytes}` : `resume token contents: toname = ${t.toName}, bytes = ${t.bytes}`);
  } else {
    const [target] = o.operands;
    if (!target || o.operands.length > 1) throw new ZfsError(`${target ? 'too many arguments' : 'missing snapshot argument'}\n${usage}`, 2);
    const { dataset, sep, short } = splitName(target);
    if (sep !== '@') throw new ZfsError(`Error: Unsupported flag with filesystem or bookmark.\n${usage}`, 2);
    const ds = state.datasets[dataset];
    const to = ds && findSnapshot(ds, short!);
    if (!ds || !to) throw new ZfsError(`cannot open '${target}': dataset does not exist`);
    const compressed = o.flags.has('c') || o.flags.has('w');
    const raw = o.flags.has('w');
    const fromSpec = o.values.get('i')?.at(-1) ?? o.values.get('I')?.at(-1);
    const everyIntermediate = o.values.has('I');
    if (o.values.has('i') && o.values.has('I')) throw new ZfsError(`invalid option combination: -i and -I\n${usage}`, 2);
    let from: { guid: string; createtxg: string; name: string } | null = null;
    if (fromSpec !== undefined) {
      const full = fromSpec.startsWith('@') || fromSpec.startsWith('#') ? `${dataset}${fromSpec}` : fromSpec.includes('@') || fromSpec.includes('#') ? fromSpec : `${dataset}@${fromSpec}`;
      const f = splitName(full);
      if (f.dataset !== dataset) throw new ZfsError(`warning: cannot send '${target}': not an earlier snapshot from the same fs`);
      if (f.sep === '#') {
        if (everyIntermediate) throw new ZfsError(`cannot send '${target}': bookmarks cannot be used with -I (use -i)`);
        const b = ds.bookmarks.find((x) => x.name === f.short);
        if (!b) throw new ZfsError(`cannot open '${full}': bookmark does not exist`);
        from = b;
      } else {
        const s = findSnapshot(ds, f.short!);
        if (!s) throw new ZfsError(`cannot open '${full}': dataset does not exist`);
        from = s;
      }
      if (BigInt(from.createtxg) >= BigInt(to.createtxg)) throw new ZfsError(`warning: cannot send '${target}': not an earlier snapshot from the same fs`);
    }
    const chosen = from === null || !everyIntermediate ? [to] : ds.snapshots.filter((s) => BigInt(s.createtxg) > BigInt(from!.createtxg) && BigInt(s.createtxg) <= BigInt(to.createtxg));
    let prevGuid = from?.guid ?? null;
    records = chosen.map((s) => {
      const total = payloadBytes(s.written, compressed);
      const r: StreamRecord = { name: s.name, guid: s.guid, creation: s.creation, written: s.written, referenced: s.referenced, fromGuid: prevGuid, total, bytes: total, sourceName: `${dataset}@${s.name}` };
      prevGuid = s.guid;
      return r;
    });
    header = { kind: from ? 'incremental' : 'full', toName: target, toGuid: to.guid, fromGuid: from?.guid ?? null, compressed, raw, records: records.length };
    label = target;
    if (verbose || parsable) {
      let prevName = from ? `@${from.name}` : null;
      for (const r of records) {
        if (parsable) say(io, prevName ? `incremental\t${prevName.slice(1)}\t${r.sourceName}\t${r.bytes}` : `full\t${r.sourceName}\t${r.bytes}`);
        else say(io, prevName ? `send from ${prevName} to ${r.sourceName} estimated size is ${humanSize(r.bytes)}` : `full send of ${r.sourceName} estimated size is ${humanSize(r.bytes)}`);
        prevName = `@${r.name}`;
      }
    }
  }
  const totalBytes = records.reduce((a, r) => a + r.bytes, 0);
  if (verbose || parsable) say(io, parsable ? `size\t${totalBytes}` : `total estimated size is ${humanSize(totalBytes)}`);
  if (o.flags.has('n')) return 0;
  if (io.stdout.isTTY) throw new ZfsError('Error: Stream can not be written to a terminal.\nYou must redirect standard output.');

  journal(io.dir, { cmd: 'send', kind: header.kind, to: header.toName, toGuid: header.toGuid, fromGuid: header.fromGuid, records: records.length });
  let lastReport = Date.now();
  let current = label;
  if (verbose && !parsable) say(io, `TIME        SENT   SNAPSHOT ${label}`);
  const writer = new StreamWriter(io.stdout, Number(process.env.ZFS_SIM_SEND_BYTES_PER_SECOND) || state.settings.sendBytesPerSecond, (bytes) => {
    if ((verbose || parsable) && Date.now() - lastReport >= 1000) {
      lastReport = Date.now();
      say(io, parsable ? `${clock()}\t${bytes}\t${current}` : `${clock()}   ${humanSize(bytes).padStart(5)}   ${current}`);
    }
  });
  try {
    await writeHeader(writer, header);
    for (const r of records) {
      current = r.sourceName;
      await writeRecord(writer, r);
    }
    await writeEnd(writer);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ZfsError(`warning: cannot send '${current}': ${code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED' ? 'Broken pipe' : (err as Error).message}`);
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// receive

function abortReceive(target: string, io: Io): number {
  withState(io.dir, (state) => {
    const ds = state.datasets[target];
    if (!ds) throw new ZfsError(`cannot abort 'zfs receive -s' of '${target}': dataset does not exist`);
    if (!ds.partial) throw new ZfsError(`'${target}' does not have any resumable receive state to abort`);
    if (ds.inconsistent && ds.snapshots.length === 0) delete state.datasets[target];
    else ds.partial = null;
  });
  journal(io.dir, { cmd: 'receive-abort', target });
  return 0;
}

async function receive(args: string[], io: Io): Promise<number> {
  const usage = 'usage:\n\treceive [-vMnsFhu] [-o <property>=<value>] ... [-x <property>] ...\n\t    <filesystem|volume|snapshot>\n\treceive [-vMnsFhu] [-o <property>=<value>] ... [-x <property>] ... \n\t    [-d | -e] <filesystem>\n\treceive -A <filesystem|volume>';
  const o = getopt(args, 'vMnsFhuAdec', 'ox', usage);
  const [targetArg] = o.operands;
  if (!targetArg || o.operands.length > 1) throw new ZfsError(`${targetArg ? 'too many arguments' : 'missing snapshot argument'}\n${usage}`, 2);
  if (o.flags.has('A')) return abortReceive(targetArg, io);
  const force = o.flags.has('F');
  const resumable = o.flags.has('s');
  const verbose = o.flags.has('v');
  const started = Date.now();

  const reader = new StreamReader(io.stdin);
  const magic = await reader.line(256);
  if (magic !== STREAM_MAGIC) throw new ZfsError(magic === null ? 'cannot receive: failed to read from stream' : 'cannot receive: invalid stream (bad magic number)');
  const headerLine = await reader.line();
  if (headerLine === null) throw new ZfsError('cannot receive: failed to read from stream');
  const header = JSON.parse(headerLine) as StreamHeader;
  const kindWord = header.kind === 'full' ? 'new filesystem' : header.kind === 'resume' ? 'resume' : 'incremental';
  const refuse = (why: string): never => {
    throw new ZfsError(`cannot receive ${kindWord} stream: ${why}`);
  };

  // -d keeps the sent path below the pool, -e only its last component.
  const sentDataset = splitName(header.toName).dataset;
  let target = splitName(targetArg).dataset;
  if (o.flags.has('d')) target = `${targetArg}${sentDataset.includes('/') ? sentDataset.slice(sentDataset.indexOf('/')) : ''}`;
  if (o.flags.has('e')) target = `${targetArg}/${sentDataset.split('/').at(-1)}`;
  checkName(target, 'receive into');
  const newName = splitName(targetArg).sep === '@' && !o.flags.has('d') && !o.flags.has('e') ? splitName(targetArg).short : null;

  // Checks at the stream's begin record, as ZFS does before any data arrives.
  withState(io.dir, (state) => {
    const pool = poolOf(target);
    if (!state.pools[pool]) throw new ZfsError(`cannot open '${pool}': dataset does not exist`);
    const ds = state.datasets[target];
    if (header.kind === 'resume') {
      if (!ds?.partial) refuse(`destination ${target} does not contain a partially-complete state`);
      if (ds!.partial!.toGuid !== header.toGuid || ds!.partial!.receivedBytes !== header.resumeOffset) refuse(`the stream does not continue the partially-complete state of ${target}`);
      return;
    }
    if (ds?.partial) refuse(`destination ${target} contains partially-complete state from "zfs receive -s".`);
    if (header.kind === 'full') {
      if (ds) {
        if (!force) refuse(`destination '${target}' exists\nmust specify -F to overwrite it`);
        if (ds.snapshots.length) refuse(`destination has snapshots (eg. ${target}@${ds.snapshots[0]!.name})\nmust destroy them to overwrite it`);
        ds.guid = newGuid();
        ds.written = 0;
        return;
      }
      const parent = parentOf(target);
      if (parent && !state.datasets[parent]) throw new ZfsError(`cannot open '${parent}': dataset does not exist`);
      return;
    }
    if (!ds) refuse(`destination '${target}' does not exist`);
    const newest = ds!.snapshots.at(-1);
    if (newest?.guid !== header.fromGuid) {
      const base = ds!.snapshots.findIndex((s) => s.guid === header.fromGuid);
      if (!force || base < 0) refuse(`most recent snapshot of ${target} does not\nmatch incremental source`);
      // -F: roll the destination back to the stream's source, destroying every newer snapshot.
      const newer = ds!.snapshots.slice(base + 1);
      const held = newer.find((s) => s.holds.length > 0);
      if (held) refuse(`destination ${target}@${held.name} is held: dataset is busy`);
      ds!.snapshots = ds!.snapshots.slice(0, base + 1);
      markSnapshotsChanged(ds!);
      journal(io.dir, { cmd: 'receive-force-rollback', target, destroyed: newer.map((s) => `${target}@${s.name}`) });
    }
    if (ds!.written > 0) {
      if (!force) refuse(`destination ${target} has been modified\nsince most recent snapshot`);
      ds!.written = 0;
    }
  });
  journal(io.dir, { cmd: 'receive-begin', target, kind: header.kind, toGuid: header.toGuid, fromGuid: header.fromGuid, records: header.records });

  let received = 0;
  let partial: { record: StreamRecord; offset: number } | null = null;
  for (let i = 0; i < header.records; i++) {
    const line = await reader.line();
    if (line === null || !line.startsWith('SNAP ')) {
      if (line !== null) throw new ZfsError('cannot receive: invalid stream (unexpected record)');
      partial = null;
      break;
    }
    const record = JSON.parse(line.slice(5)) as StreamRecord;
    const offset = header.kind === 'resume' ? header.resumeOffset ?? 0 : 0;
    if (verbose) print(io, `receiving ${header.kind === 'full' ? 'full' : 'incremental'} stream of ${record.sourceName} into ${target}@${newName ?? record.name}\n`);
    const consumed = await reader.skip(record.bytes);
    const trailer = consumed === record.bytes ? await reader.line() : null;
    if (consumed < record.bytes || trailer !== '') {
      partial = { record, offset: offset + consumed };
      break;
    }
    received += record.bytes;
    withState(io.dir, (state) => {
      let ds = state.datasets[target];
      if (!ds) {
        ds = newDataset(state, poolOf(target));
        ds.encrypted = header.raw;
        state.datasets[target] = ds;
      }
      const name = newName ?? record.name;
      const existing = findSnapshot(ds, name);
      if (existing) throw new ZfsError(`cannot restore to ${target}@${name}: destination already exists`);
      if ((ds.snapshots.at(-1)?.guid ?? null) !== record.fromGuid && !(header.kind === 'resume' && ds.partial)) {
        throw new ZfsError(`cannot receive ${kindWord} stream: destination ${target} has been modified\nsince most recent snapshot`);
      }
      ds.snapshots.push({ name, guid: record.guid, createtxg: nextTxg(state, poolOf(target)), creation: record.creation, written: record.written, used: 0, referenced: record.referenced, holds: [] });
      ds.referenced = record.referenced;
      ds.written = 0;
      ds.partial = null;
      ds.inconsistent = false;
      ds.mounted = !o.flags.has('u') && ds.type === 'filesystem';
      markSnapshotsChanged(ds);
    });
    journal(io.dir, { cmd: 'receive-snapshot', target, name: newName ?? record.name, guid: record.guid });
  }

  if (partial === null && received === 0 && header.records > 0 && header.kind !== 'resume' && !readState(io.dir).datasets[target]?.snapshots.some((s) => s.guid === header.toGuid)) {
    // The stream ended before the first record's header: nothing of it arrived.
    partial = { record: { name: splitName(header.toName).short!, guid: header.toGuid, creation: 0, written: 0, referenced: 0, fromGuid: header.fromGuid, total: 0, bytes: 0, sourceName: header.toName }, offset: 0 };
  }
  if (partial) {
    const { record, offset } = partial;
    let token: string | null = null;
    if (resumable) {
      token = withState(io.dir, (state) => {
        let ds = state.datasets[target];
        if (!ds) {
          ds = newDataset(state, poolOf(target));
          ds.inconsistent = true;
          ds.encrypted = header.raw;
          state.datasets[target] = ds;
        }
        ds.partial = { fromGuid: record.fromGuid, toGuid: record.guid, toName: record.name, sourceName: record.sourceName, creation: record.creation, written: record.written, referenced: record.referenced, totalBytes: record.total, receivedBytes: offset, compressed: header.compressed, raw: header.raw };
        return resumeTokenOf(ds);
      });
    }
    journal(io.dir, { cmd: 'receive-interrupted', target, toGuid: record.guid, bytes: offset, saved: resumable });
    throw new ZfsError(
      resumable
        ? `cannot receive ${kindWord} stream: checksum mismatch or incomplete stream.\nPartially received snapshot is saved.\nA resuming stream can be generated on the sending system by running:\n    zfs send -t ${token}`
        : `cannot receive ${kindWord} stream: checksum mismatch or incomplete stream`,
    );
  }
  if (verbose) {
    const secs = Math.max(1, Math.round((Date.now() - started) / 1000));
    print(io, `received ${humanSize(received)} stream in ${secs} seconds (${humanSize(Math.round(received / secs))}/sec)\n`);
  }
  journal(io.dir, { cmd: 'receive-end', target, toGuid: header.toGuid, bytes: received });
  return 0;
}

// ---------------------------------------------------------------------------------------------

const USAGE = `usage: zfs command args ...
where 'command' is one of the following:

\tcreate [-p] [-o property=value] ... <filesystem>
\tdestroy [-fnpRrv] <filesystem|volume>
\tdestroy [-dnpRrv] <filesystem|volume>@<snap>[%<snap>][,...]
\tdestroy <filesystem|volume>#<bookmark>
\tsnapshot [-r] <filesystem|volume>@<snap> ...
\trollback [-rRf] <snapshot>
\trename [-fpr] <dataset> <dataset>
\tbookmark <snapshot|bookmark> <bookmark>
\tlist [-Hp] [-r|-d max] [-o property[,...]] [-s property]... [-S property]... [-t type[,...]] ...
\tget [-rHp] [-o field[,...]] <property[,...]> ...
\tsend [-DLPbcehnpsVvw] [-i|-I snapshot] <snapshot>
\tsend [-DnVvPe] -t <receive_resume_token>
\treceive [-vMnsFhu] [-d | -e] <filesystem|volume|snapshot>
\treceive -A <filesystem|volume>
\thold [-r] <tag> <snapshot> ...
\tholds [-rHp] <snapshot> ...
\trelease [-r] <tag> <snapshot> ...
`;

/** Run one `zfs` command line. Returns the exit code; errors are written to stderr as ZFS writes them. */
export async function runZfs(argv: string[], io: Io): Promise<number> {
  const [cmd, ...args] = argv;
  try {
    switch (cmd) {
      case 'list':
        return list(args, io);
      case 'get':
        return get(args, io);
      case 'create':
        return create(args, io);
      case 'snapshot':
      case 'snap':
        return snapshot(args, io);
      case 'bookmark':
        return bookmark(args, io);
      case 'destroy':
        return destroy(args, io);
      case 'rollback':
        return rollback(args, io);
      case 'rename':
        return rename(args, io);
      case 'hold':
        return hold(args, io, false);
      case 'release':
        return hold(args, io, true);
      case 'holds':
        return holds(args, io);
      case 'send':
        return await send(args, io);
      case 'receive':
      case 'recv':
        return await receive(args, io);
      case 'version':
      case '--version':
        print(io, 'zfs-2.2.99-sim\nzfs-kmod-2.2.99-sim\n');
        return 0;
      case undefined:
      case 'help':
      case '-?':
        say(io, USAGE);
        return cmd === undefined ? 2 : 0;
      default:
        say(io, `unrecognized command '${cmd}'\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof ZfsError) {
      say(io, err.message);
      return err.exitCode;
    }
    throw err;
  }
}
