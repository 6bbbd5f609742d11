/**
 * The shell commands a host runs for a transfer (issue 4, "Instructions": commands).
 *
 * Every argument goes through shellQuote, including host and user names that already passed
 * validation. The remote half of a pipeline is one ssh argument: its words are quoted, joined,
 * and the resulting command line is quoted once more, so the remote shell sees the same words.
 * A normal plan never contains `-F`: with it ZFS destroys every target snapshot newer than the
 * base. Only the remedies below, issued after an operator confirmed, destroy anything.
 */
import { isHostName, isPosixUserName } from '../net-names.js';
import { shellJoin } from '../shell-quote.js';
import { joinDatasetPath, parseZfsName } from '../zfs/zfs-name.js';
import { orderSnapshots } from './order.js';
import type { PlannedLink } from './topology.js';
import type { HostDatasetView, LinkVerdict, MemberConnection, SnapshotRef, SyncGroupPolicy, TransferMode } from './types.js';

/** A plan cannot be built from the given data (bad names, missing ssh details, wrong verdict). */
export class PlanError extends Error {
  override name = 'PlanError';
}

// ---------------------------------------------------------------------------------------------
// Validation of what goes into a command line

/**
 * receive_resume_token comes from the receiving host, so it is untrusted. Real tokens are a
 * version number and hex fields joined by dashes; anything else is refused.
 */
export function isPlausibleResumeToken(token: string): boolean {
  return typeof token === 'string' && token.length <= 65_536 && /^[0-9][0-9A-Za-z]*(?:-[0-9A-Za-z]+)+$/.test(token);
}

/** Full ZFS name, validated by OpenZFS rules (throws PlanError). */
function zfsName(pool: string, dataset: string, suffix = ''): string {
  const full = joinDatasetPath(pool, dataset) + suffix;
  const parsed = parseZfsName(full);
  if (!parsed.ok) throw new PlanError(`invalid ZFS name ${JSON.stringify(full)}: ${parsed.reason}`);
  return full;
}

/** `ssh [-p PORT] [user@]host` for a member, validated (throws PlanError). */
export function sshCommandPrefix(member: MemberConnection): string[] {
  const host = member.sshHostname;
  if (!host) throw new PlanError(`system ${member.systemId} has no ssh_hostname`);
  if (!isHostName(host)) throw new PlanError(`system ${member.systemId}: invalid ssh_hostname`);
  if (member.sshUser !== null && member.sshUser !== '' && !isPosixUserName(member.sshUser)) {
    throw new PlanError(`system ${member.systemId}: invalid ssh_user`);
  }
  if (!Number.isInteger(member.sshPort) || member.sshPort < 1 || member.sshPort > 65_535) {
    throw new PlanError(`system ${member.systemId}: invalid ssh_port`);
  }
  // ssh wants a bare IPv6 address, not the bracketed URL form.
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const destination = member.sshUser ? `${member.sshUser}@${bare}` : bare;
  return member.sshPort === 22 ? ['ssh', destination] : ['ssh', '-p', String(member.sshPort), destination];
}

/**
 * `ssh [-p PORT] [user@]host 'remote command'`. ssh hands its command argument to the remote
 * user's shell, so the remote words are quoted into one command line, and that line is quoted
 * again as the single ssh argument.
 */
export function buildSshCommand(member: MemberConnection, remoteArgs: readonly string[]): string {
  return shellJoin([...sshCommandPrefix(member), shellJoin(remoteArgs)]);
}

// ---------------------------------------------------------------------------------------------
// Building blocks

export interface DatasetRef {
  pool: string;
  /** Relative to the pool; '' for the root dataset. */
  dataset: string;
}

export interface TransferSpec {
  mode: TransferMode;
  source: DatasetRef & { connection: MemberConnection };
  target: DatasetRef & { connection: MemberConnection };
  /** null: full send. A bookmark base sends with `-i` (only the end snapshot). */
  base: { name: string; kind: 'snapshot' | 'bookmark' } | null;
  endName: string;
  /** When set, `zfs send -t TOKEN` resumes the interrupted receive instead. */
  resumeToken?: string | null;
  sendOptions: SyncGroupPolicy['sendOptions'];
  receiveOptions: SyncGroupPolicy['receiveOptions'];
  /** `zfs receive -F`: destructive, only for confirmed remedies. */
  force?: boolean;
}

/** `zfs send …` as separate words. */
export function buildSendArgs(spec: TransferSpec): string[] {
  const token = spec.resumeToken ?? null;
  if (token !== null) {
    if (!isPlausibleResumeToken(token)) throw new PlanError('refusing a malformed receive_resume_token');
    return ['zfs', 'send', '-t', token]; // the token already carries the original send flags
  }
  const args = ['zfs', 'send'];
  if (spec.sendOptions.raw) args.push('-w');
  if (spec.sendOptions.compressed) args.push('-c');
  if (spec.base?.kind === 'snapshot') args.push('-I', zfsName(spec.source.pool, spec.source.dataset, `@${spec.base.name}`));
  if (spec.base?.kind === 'bookmark') args.push('-i', zfsName(spec.source.pool, spec.source.dataset, `#${spec.base.name}`));
  args.push(zfsName(spec.source.pool, spec.source.dataset, `@${spec.endName}`));
  return args;
}

/** `zfs receive -s [-u] [-F] tpool/tds` as separate words. */
export function buildReceiveArgs(spec: Pick<TransferSpec, 'target' | 'receiveOptions' | 'force'>): string[] {
  const args = ['zfs', 'receive'];
  if (spec.receiveOptions.resumable) args.push('-s');
  if (spec.receiveOptions.unmounted) args.push('-u');
  if (spec.force) args.push('-F');
  args.push(zfsName(spec.target.pool, spec.target.dataset));
  return args;
}

/**
 * The whole pipeline, as run by the executor.
 *   push (on the source): zfs send … | ssh [-p P] [user@]target 'zfs receive …'
 *   pull (on the target): ssh [-p P] [user@]source 'zfs send …' | zfs receive …
 */
export function buildTransferCommand(spec: TransferSpec): string {
  const send = buildSendArgs(spec);
  const receive = buildReceiveArgs(spec);
  if (spec.mode === 'push') return `${shellJoin(send)} | ${buildSshCommand(spec.target.connection, receive)}`;
  return `${buildSshCommand(spec.source.connection, send)} | ${shellJoin(receive)}`;
}

// ---------------------------------------------------------------------------------------------
// Plans for links

/** What a host is told to run for one link; fields mirror the instructions API. */
export interface TransferPlan {
  /** full: the target lacks the dataset; incremental: from the base; resume: `zfs send -t`. */
  kind: 'full' | 'incremental' | 'resume';
  executorSystemId: string;
  sourceSystemId: string;
  targetSystemId: string;
  pool: string;
  dataset: string;
  targetPool: string;
  targetDataset: string;
  /** null for a full send. */
  startingSnapshot: string | null;
  startingGuid: string | null;
  startingKind: 'snapshot' | 'bookmark' | null;
  /**
   * initial_replication "all": the oldest eligible snapshot, sent in full first; the plan then
   * sends `-I` from it to the end. null otherwise.
   */
  initialSnapshot: string | null;
  initialGuid: string | null;
  endingSnapshot: string;
  endingGuid: string | null;
  isIncremental: boolean;
  snapshotCount: number;
  resumeToken: string | null;
  sourceSshHostname: string | null;
  targetSshHostname: string | null;
  /** Run in order; stop at the first failure. */
  commands: string[];
}

export interface PlanContext {
  policy: Pick<SyncGroupPolicy, 'transferMode' | 'sendOptions' | 'receiveOptions'>;
  members: readonly MemberConnection[];
}

function memberOf(members: readonly MemberConnection[], systemId: string): MemberConnection {
  const member = members.find((m) => m.systemId === systemId);
  if (!member) throw new PlanError(`system ${systemId} is not a member of the group`);
  return member;
}

function specFor(link: PlannedLink, ctx: PlanContext, overrides: Partial<TransferSpec> = {}): TransferSpec {
  const { verdict } = link;
  if (!verdict.end) throw new PlanError('the source has no eligible snapshot to send');
  return {
    mode: ctx.policy.transferMode,
    source: { pool: link.sourcePool, dataset: link.dataset, connection: memberOf(ctx.members, link.sourceSystemId) },
    target: { pool: link.targetPool, dataset: link.dataset, connection: memberOf(ctx.members, link.targetSystemId) },
    base: verdict.base ? { name: verdict.base.name, kind: verdict.base.kind } : null,
    endName: verdict.end.name,
    resumeToken: link.resumeToken,
    sendOptions: ctx.policy.sendOptions,
    receiveOptions: ctx.policy.receiveOptions,
    ...overrides,
  };
}

/**
 * Every field of a plan but its commands and kind, from the link and the transfer it runs (null
 * for a remedy that transfers nothing). The one mapping from a link to the wire fields: normal
 * plans and remedies both use it.
 */
function planFields(link: PlannedLink, ctx: PlanContext, spec: TransferSpec | null, seed: SnapshotRef | null = null) {
  const { verdict } = link;
  const resumeToken = spec?.resumeToken ?? null;
  const base = spec?.base ?? null;
  return {
    executorSystemId: link.executorSystemId,
    sourceSystemId: link.sourceSystemId,
    targetSystemId: link.targetSystemId,
    pool: link.sourcePool,
    dataset: link.dataset,
    targetPool: link.targetPool,
    targetDataset: link.dataset,
    startingSnapshot: base?.name ?? null,
    startingGuid: base ? verdict.base?.guid ?? null : null,
    startingKind: base?.kind ?? null,
    initialSnapshot: seed?.name ?? null,
    initialGuid: seed?.guid ?? null,
    endingSnapshot: spec ? spec.endName : null,
    endingGuid: spec ? verdict.end?.guid ?? null : null,
    isIncremental: base !== null,
    snapshotCount: !spec ? 0 : seed ? link.seedSnapshotCount : base === null || resumeToken !== null ? 1 : verdict.snapshotCount,
    resumeToken,
    sourceSshHostname: memberOf(ctx.members, link.sourceSystemId).sshHostname,
    targetSshHostname: memberOf(ctx.members, link.targetSystemId).sshHostname,
  };
}

/**
 * The normal transfer for a link, or null when there is nothing to do (in sync, no eligible
 * snapshot) or the link needs an operator (diverged, no common base). Never contains `-F`.
 * A new replica under initial_replication "all" gets its oldest eligible snapshot in full and
 * then everything up to the end with `-I`, in one plan. Throws PlanError when names or ssh
 * details are invalid.
 */
export function buildTransferPlan(link: PlannedLink, ctx: PlanContext): TransferPlan | null {
  const { verdict } = link;
  if (!['behind', 'out_of_sync', 'not_seeded'].includes(verdict.verdict) || !verdict.end) return null;
  const spec = specFor(link, ctx, { force: false });
  const seed = spec.resumeToken == null && spec.base === null && link.seedFrom && !sameRef(link.seedFrom, verdict.end) ? link.seedFrom : null;
  const commands = seed
    ? [buildTransferCommand({ ...spec, endName: seed.name }), buildTransferCommand({ ...spec, base: { name: seed.name, kind: 'snapshot' } })]
    : [buildTransferCommand(spec)];
  const kind = spec.resumeToken ? 'resume' : spec.base ? 'incremental' : 'full';
  return { kind, ...planFields(link, ctx, spec, seed), endingSnapshot: spec.endName, commands };
}

function sameRef(a: SnapshotRef, b: SnapshotRef): boolean {
  return a.guid !== null && b.guid !== null ? a.guid === b.guid : a.name === b.name;
}

// ---------------------------------------------------------------------------------------------
// Destructive remedies (only after an operator's confirmation)

export type RemedyStrategy = 'rollback_target' | 'force_receive' | 'full_resend' | 'rename_target';

/** Whether a strategy can destroy snapshots (and so needs `confirm: true`). */
export function isDestructiveStrategy(strategy: RemedyStrategy): boolean {
  return strategy !== 'rename_target';
}

/**
 * Exactly the target snapshots (short names, target order) a strategy would destroy:
 * rollback_target / force_receive: every target snapshot newer than the base;
 * full_resend: all of them; rename_target: none (they are kept under the new name).
 */
export function wouldDestroy(target: HostDatasetView, verdict: Pick<LinkVerdict, 'base'>, strategy: RemedyStrategy): string[] {
  if (strategy === 'rename_target' || !target.present) return [];
  const ordered = orderSnapshots(target.snapshots, target.bookmarks);
  if (strategy === 'full_resend') return ordered.map((s) => s.name);
  const base = verdict.base;
  if (!base) throw new PlanError(`${strategy} needs a common base`);
  const at = ordered.findIndex((s) => s.name === base.targetName);
  if (at < 0) throw new PlanError(`the base @${base.targetName} is no longer on the target`);
  return ordered.slice(at + 1).map((s) => s.name);
}

export interface RemedyPlan extends Omit<TransferPlan, 'endingSnapshot' | 'endingGuid'> {
  strategy: RemedyStrategy;
  endingSnapshot: string | null;
  endingGuid: string | null;
  wouldDestroy: string[];
}

export interface RemedyInput extends PlanContext {
  link: PlannedLink;
  /** The target's current view (for would-destroy and the resume state). */
  targetView: HostDatasetView;
  strategy: RemedyStrategy;
  /** For rename_target: `tpool/tds` becomes `tpool/tds-diverged-<suffix>`. */
  renameSuffix?: string;
}

/**
 * A one-off plan for an operator's resolution, for the group's executor. Steps on the target run
 * locally in pull mode and through ssh in push mode. A pending resumable receive is aborted
 * first (`zfs receive -A`), because ZFS refuses any other receive while it exists.
 */
export function buildRemedyPlan(input: RemedyInput): RemedyPlan {
  const { link, targetView, strategy } = input;
  const { verdict } = link;
  if (!link.targetPresent) throw new PlanError('the target does not have the dataset: a normal full send seeds it');
  const targetConnection = memberOf(input.members, link.targetSystemId);
  const targetFull = zfsName(link.targetPool, link.dataset);
  const onTarget = (argv: string[]): string =>
    input.policy.transferMode === 'push' ? buildSshCommand(targetConnection, argv) : shellJoin(argv);

  const steps: string[] = [];
  if (targetView.receiveResumeToken) steps.push(onTarget(['zfs', 'receive', '-A', targetFull]));
  let spec: TransferSpec | null = null;

  switch (strategy) {
    case 'rollback_target': {
      if (!verdict.base) throw new PlanError('rollback_target needs a common base');
      steps.push(onTarget(['zfs', 'rollback', '-r', zfsName(link.targetPool, link.dataset, `@${verdict.base.targetName}`)]));
      if (verdict.end) spec = specFor(link, input, { resumeToken: null, force: false });
      break;
    }
    case 'force_receive': {
      if (!verdict.base) throw new PlanError('force_receive needs a common base');
      spec = specFor(link, input, { resumeToken: null, force: true });
      break;
    }
    case 'full_resend': {
      // A full stream is only received over a dataset without snapshots, so destroy them first
      // (`@%` is the range from the oldest to the newest snapshot of this dataset only).
      if (targetView.snapshots.length > 0) steps.push(onTarget(['zfs', 'destroy', `${targetFull}@%`]));
      spec = specFor(link, input, { base: null, resumeToken: null, force: true });
      break;
    }
    case 'rename_target': {
      const suffix = input.renameSuffix ?? '';
      if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(suffix)) throw new PlanError('rename_target needs a suffix of letters, digits, - _ . :');
      if (link.dataset === '') throw new PlanError("a pool's root dataset cannot be renamed");
      const renamed = zfsName(link.targetPool, `${link.dataset}-diverged-${suffix}`);
      steps.push(onTarget(['zfs', 'rename', targetFull, renamed]));
      spec = specFor(link, input, { base: null, resumeToken: null, force: false });
      break;
    }
  }
  if (spec) steps.push(buildTransferCommand(spec));

  return {
    strategy,
    kind: spec ? (spec.base ? 'incremental' : 'full') : 'full',
    ...planFields(link, input, spec),
    resumeToken: null,
    commands: steps,
    wouldDestroy: wouldDestroy(targetView, verdict, strategy),
  };
}
