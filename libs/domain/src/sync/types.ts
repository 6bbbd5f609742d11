/**
 * Shapes the sync engine works on. Everything here is plain data: the engine is pure (no I/O,
 * no clock), so callers load these from the database and pass `now` explicitly.
 */

/**
 * One snapshot (or bookmark) as a host reported it.
 * guid and createtxg are unsigned 64-bit values and therefore decimal strings: a JS number would
 * round most guids and make different snapshots look equal.
 */
export interface SnapshotRef {
  /** Short name, after `@` (snapshot) or `#` (bookmark). */
  name: string;
  /** null when the reporting client does not send guids (the original shell client). */
  guid: string | null;
  /** The host's own transaction group number; orders snapshots within that host's pool only. */
  createtxg: string | null;
  /** Unix seconds, as stamped by the host that took the snapshot (preserved by `zfs receive`). */
  creation: number;
}

/** What one host knows about one dataset. */
export interface HostDatasetView {
  systemId: string;
  pool: string;
  /** Path relative to the pool; '' is the pool's root dataset. */
  dataset: string;
  /** False when the host does not have the dataset at all. */
  present: boolean;
  /** `receive_resume_token` of an interrupted `zfs receive -s`; untrusted host input. */
  receiveResumeToken?: string | null;
  snapshots: SnapshotRef[];
  bookmarks: SnapshotRef[];
}

export type TransferMode = 'push' | 'pull';

/** The replication policy of a sync group (issue 4, "Sync groups"). */
export interface SyncGroupPolicy {
  id: string;
  enabled: boolean;
  /** true: hub-and-spoke from `hubSystemId`; false: mesh, everyone ends up with everything. */
  directional: boolean;
  hubSystemId: string | null;
  /** push: the source runs the pipeline; pull: the target runs it. */
  transferMode: TransferMode;
  /** Regular expression on short names; only matching snapshots may end a transfer or count for lag. */
  snapshotPattern: string | null;
  minSnapshotAgeSeconds: number;
  /** Lag above this is out_of_sync; at or below, behind. */
  maxLagSeconds: number;
  sendOptions: { compressed: boolean; raw: boolean };
  receiveOptions: { resumable: boolean; unmounted: boolean };
  /** Pool to create the dataset in on a target that does not have it yet (default: the source's pool). */
  targetPools: Record<string, string>;
  /** Glob patterns on dataset paths relative to the pool; empty include means all. */
  datasets: { include: string[]; exclude: string[] };
  /**
   * How a new replica is seeded (zrepl's initial_replication): most_recent sends the newest
   * eligible snapshot in full; all sends the oldest eligible in full, then `-I` to the newest.
   */
  initialReplication: 'most_recent' | 'all';
}

/** How to reach a member over ssh. */
export interface MemberConnection {
  systemId: string;
  sshHostname: string | null;
  sshUser: string | null;
  sshPort: number;
}

export type LinkVerdictKind = 'in_sync' | 'behind' | 'out_of_sync' | 'diverged' | 'no_common_base' | 'not_seeded';

/** The common base of a link. */
export interface LinkBase {
  /** Name on the source: what `zfs send -I pool/ds@name` (or `-i pool/ds#name`) needs. */
  name: string;
  /** Name of the same snapshot on the target (differs when it was renamed): what a rollback needs. */
  targetName: string;
  guid: string | null;
  /** 'bookmark' when the source only keeps a bookmark of it: usable with `-i` only. */
  kind: 'snapshot' | 'bookmark';
}

/** A list of short names cut to a readable length, with the full count. */
export interface TruncatedNames {
  items: string[];
  count: number;
}

export interface LinkVerdict {
  verdict: LinkVerdictKind;
  /** 'name' when a side reported no guids: weaker, and the explanation says so. */
  matchedBy: 'guid' | 'name';
  base: LinkBase | null;
  /** The source's newest eligible snapshot newer than the base (null when there is none). */
  end: SnapshotRef | null;
  /** Snapshots a transfer would create on the target: `-I` counts intermediates; `-i` and full sends send one. */
  snapshotCount: number;
  /** Source snapshots newer than the base that the target lacks (all of them without a base). */
  sourceOnly: TruncatedNames;
  /** Target snapshots newer than the base that the source lacks (all of them without a base). */
  targetOnly: TruncatedNames;
  /** creation(end) − creation(base), both as stamped on the source; 0 when in sync; null without a base. */
  lagSeconds: number | null;
  /** Short names present on both sides with different guids: not the same snapshot. */
  nameCollisions: string[];
  /** One readable line for operators. */
  explanation: string;
}
