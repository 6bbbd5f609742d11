/**
 * Builders for the sync engine's unit tests (not a test file itself).
 *
 * A snapshot replicated to several hosts keeps its guid and creation, so fixtures derive the guid
 * from the name by default: the same name on two hosts is the same snapshot unless a test says
 * otherwise. createtxg is assigned per host from a host-specific base, like real receivers do.
 */
import { defaultSyncPolicy } from './policy.js';
import type { HostDatasetView, MemberConnection, SnapshotRef, SyncGroupPolicy } from './types.js';

/** A fixed "now" (2024-06-01T00:00:00Z) so tests do not depend on the clock. */
export const NOW = 1_717_200_000;
export const HOUR = 3600;
export const DAY = 86_400;

/** Deterministic 64-bit guid (FNV-1a) as a decimal string. */
export function guidOf(name: string): string {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < name.length; i++) {
    h ^= BigInt(name.charCodeAt(i));
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString();
}

export interface SnapSpec {
  name: string;
  creation: number;
  /** undefined: derived from the name; null: the client reported none. */
  guid?: string | null;
}

/** A snapshot taken `ageSeconds` before NOW. */
export function snap(name: string, ageSeconds: number, guid?: string | null): SnapSpec {
  return guid === undefined ? { name, creation: NOW - ageSeconds } : { name, creation: NOW - ageSeconds, guid };
}

/** `count` snapshots `<prefix><i>`, oldest first, one `stepSeconds` apart, the newest `newestAge` old. */
export function series(prefix: string, count: number, stepSeconds = HOUR, newestAge = 0): SnapSpec[] {
  return Array.from({ length: count }, (_, i) => snap(`${prefix}${i}`, newestAge + (count - 1 - i) * stepSeconds));
}

export interface HostOptions {
  pool?: string;
  dataset?: string;
  /** First createtxg on this host; each host gets its own numbering. */
  txgBase?: number;
  bookmarks?: SnapSpec[];
  present?: boolean;
  receiveResumeToken?: string | null;
  /** Report no guids at all (the original shell client). */
  noGuids?: boolean;
  /** Report no createtxg. */
  noTxg?: boolean;
}

function toRef(spec: SnapSpec, txg: number, opts: HostOptions): SnapshotRef {
  return {
    name: spec.name,
    guid: opts.noGuids ? null : spec.guid === undefined ? guidOf(spec.name) : spec.guid,
    createtxg: opts.noTxg ? null : String(txg),
    creation: spec.creation,
  };
}

/** One host's view; `snapshots` are given oldest first in THIS host's order. */
export function host(systemId: string, snapshots: SnapSpec[], opts: HostOptions = {}): HostDatasetView {
  const txgBase = opts.txgBase ?? 1000;
  const refs = snapshots.map((s, i) => toRef(s, txgBase + i * 10, opts));
  // A bookmark keeps its snapshot's createtxg: place it by the snapshot it was made from when
  // that is in the list, otherwise just before the first snapshot.
  const bookmarks = (opts.bookmarks ?? []).map((b) => {
    const at = snapshots.findIndex((s) => s.name === b.name);
    return toRef(b, at >= 0 ? txgBase + at * 10 : txgBase - 5, opts);
  });
  const view: HostDatasetView = {
    systemId,
    pool: opts.pool ?? 'tank',
    dataset: opts.dataset ?? 'data',
    present: opts.present ?? true,
    snapshots: refs,
    bookmarks,
  };
  if (opts.receiveResumeToken !== undefined) view.receiveResumeToken = opts.receiveResumeToken;
  return view;
}

/** A host that does not have the dataset. */
export function absent(systemId: string, opts: HostOptions = {}): HostDatasetView {
  return host(systemId, [], { ...opts, present: false });
}

export function policy(overrides: Partial<Omit<SyncGroupPolicy, 'id'>> = {}): SyncGroupPolicy {
  return defaultSyncPolicy('group-1', overrides);
}

export function member(systemId: string, sshHostname: string | null = `${systemId}.example.net`, sshUser: string | null = null, sshPort = 22): MemberConnection {
  return { systemId, sshHostname, sshUser, sshPort };
}

/** Views grouped by dataset, as planGroupLinks takes them. */
export function byDataset(...views: HostDatasetView[]): Map<string, HostDatasetView[]> {
  const map = new Map<string, HostDatasetView[]>();
  for (const v of views) map.set(v.dataset, [...(map.get(v.dataset) ?? []), v]);
  return map;
}
