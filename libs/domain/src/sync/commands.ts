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

/** One process of a pipeline: its argv. */
export type CommandStage = string[];
/** One command a host runs: a pipeline of one or more stages (`a | b`). */
export type PlanStep = CommandStage[];

/** The ssh stage `ssh [-p P] [user@]host 'remote command line'` (the remote words quoted into one argument). */
function sshStage(member: MemberConnection, remoteArgs: readonly string[]): CommandStage {
  return [...sshCommandPrefix(member), shellJoin(remoteArgs)];
}

/**
 * The stages of a transfer, as run by the executor.
 *   push (on the source): zfs send … | ssh [-p P] [user@]target 'zfs receive …'
 *   pull (on the target): ssh [-p P] [user@]source 'zfs send …' | zfs receive …
 */
export function transferPipeline(spec: TransferSpec): PlanStep {
  const send = buildSendArgs(spec);
  const receive = buildReceiveArgs(spec);
  if (spec.mode === 'push') return [send, sshStage(spec.target.connection, receive)];
  return [sshStage(spec.source.connection, send), receive];
}

/** A step as the one command line a POSIX shell would run (every word quoted). */
export function stepCommandLine(step: PlanStep): string {
  return step.map((stage) => shellJoin(stage)).join(' | ');
}

/** The whole pipeline as one command line. */
export function buildTransferCommand(spec: TransferSpec): string {
  return stepCommandLine(transferPipeline(spec));
}

// ---------------------------------------------------------------------------------------------
// Instruction fields → commands: the one rule, used by the witness to write a plan's commands
// and by the agent to rebuild them (it runs what it rebuilt, never the witness's text, and
// refuses a plan whose text differs).

export type RemedyStrategy = 'rollback_target' | 'force_receive' | 'full_resend' | 'rename_target';

/** The steps a confirmed remedy runs on the target before (or instead of) its transfer. */
export interface RemedyFields {
  strategy: RemedyStrategy;
  /** `zfs receive -A` first: a pending resumable receive blocks every other receive. */
  abortResumableReceive: boolean;
  /** rollback_target: the target's snapshot (short name, as named on the target) to roll back to. */
  rollbackTo: string | null;
  /** full_resend: destroy every snapshot of the target dataset (`@%`) before the full send. */
  destroyTargetSnapshots: boolean;
  /** rename_target: the target moves aside to `<target dataset>-diverged-<suffix>`. */
  renameSuffix: string | null;
}

/** Everything a plan's commands are made of, and nothing else. */
export interface PlanCommandFields {
  transferMode: TransferMode;
  sourceSystemId: string;
  targetSystemId: string;
  /** Source pool and dataset path relative to it ('' for the pool's root dataset). */
  pool: string;
  dataset: string;
  targetPool: string;
  targetDataset: string;
  /** null for a full send. */
  startingSnapshot: string | null;
  startingKind: 'snapshot' | 'bookmark' | null;
  /**
   * initial_replication "all": the oldest eligible snapshot, sent in full first; the plan then
   * sends `-I` from it to the end. null otherwise.
   */
  initialSnapshot: string | null;
  /** null only for a remedy that transfers nothing (a rollback with nothing newer to send). */
  endingSnapshot: string | null;
  /** `zfs send -t TOKEN` resumes an interrupted receive instead of the send above. */
  resumeToken: string | null;
  sourceSshHostname: string | null;
  sourceSshUser: string | null;
  sourceSshPort: number;
  targetSshHostname: string | null;
  targetSshUser: string | null;
  targetSshPort: number;
  sendOptions: SyncGroupPolicy['sendOptions'];
  receiveOptions: SyncGroupPolicy['receiveOptions'];
  /** Set exactly for an operator-confirmed remedy. */
  remedy: RemedyFields | null;
}

const SUFFIX = /^[A-Za-z0-9_.:-]{1,64}$/;

function connectionOf(f: PlanCommandFields, side: 'source' | 'target'): MemberConnection {
  return side === 'source'
    ? { systemId: f.sourceSystemId, sshHostname: f.sourceSshHostname, sshUser: f.sourceSshUser, sshPort: f.sourceSshPort }
    : { systemId: f.targetSystemId, sshHostname: f.targetSshHostname, sshUser: f.targetSshUser, sshPort: f.targetSshPort };
}

/** Strategies whose receive overwrites the target (`zfs receive -F`). */
const FORCED: ReadonlySet<RemedyStrategy> = new Set(['force_receive', 'full_resend']);

/** Whether the fields of a remedy are a combination its strategy produces (throws PlanError). */
function checkRemedy(f: PlanCommandFields, r: RemedyFields): void {
  const fail = (why: string): never => {
    throw new PlanError(`${r.strategy}: ${why}`);
  };
  if (f.resumeToken !== null) fail('a remedy never resumes an earlier receive');
  const incremental = f.startingSnapshot !== null;
  if (r.strategy !== 'rollback_target' && r.rollbackTo !== null) fail('only rollback_target rolls back');
  if (r.strategy !== 'full_resend' && r.destroyTargetSnapshots) fail('only full_resend destroys the target snapshots');
  if (r.strategy !== 'rename_target' && r.renameSuffix !== null) fail('only rename_target renames the target');
  switch (r.strategy) {
    case 'rollback_target':
      if (r.rollbackTo === null) fail('needs the snapshot to roll back to');
      if (f.endingSnapshot !== null && !incremental) fail('sends incrementally from the rolled-back base');
      break;
    case 'force_receive':
      if (!incremental || f.endingSnapshot === null) fail('needs an incremental transfer from the common base');
      break;
    case 'full_resend':
    case 'rename_target':
      if (incremental || f.endingSnapshot === null) fail('needs a full send');
      if (r.strategy === 'rename_target' && (r.renameSuffix === null || !SUFFIX.test(r.renameSuffix))) fail('needs a suffix of letters, digits, - _ . :');
      if (r.strategy === 'rename_target' && f.targetDataset === '') fail("a pool's root dataset cannot be renamed");
      break;
    default:
      fail('is not a known strategy');
  }
}

/**
 * The steps a plan runs, in order, each a pipeline of argv arrays. Every name is validated by
 * the OpenZFS rules and every ssh detail by the host rules (throws PlanError otherwise). Steps
 * on the target run locally in pull mode and through ssh in push mode. `-F` appears only for
 * the remedies that overwrite the target (force_receive, full_resend).
 */
export function planSteps(f: PlanCommandFields): PlanStep[] {
  if (f.transferMode !== 'push' && f.transferMode !== 'pull') throw new PlanError('transfer_mode must be push or pull');
  if ((f.startingSnapshot === null) !== (f.startingKind === null)) throw new PlanError('a starting snapshot needs its kind (snapshot or bookmark), and only then');
  if (f.startingKind !== null && f.startingKind !== 'snapshot' && f.startingKind !== 'bookmark') throw new PlanError('starting_kind must be snapshot or bookmark');
  if (f.initialSnapshot !== null && (f.startingSnapshot !== null || f.resumeToken !== null || f.remedy !== null || f.endingSnapshot === null)) {
    throw new PlanError('an initial snapshot only starts a full seed: no base, no resume token, no remedy');
  }
  const steps: PlanStep[] = [];
  const targetFull = zfsName(f.targetPool, f.targetDataset);
  const onTarget = (argv: string[]): PlanStep => [f.transferMode === 'push' ? sshStage(connectionOf(f, 'target'), argv) : argv];
  const r = f.remedy;
  if (r !== null) {
    checkRemedy(f, r);
    if (r.abortResumableReceive) steps.push(onTarget(['zfs', 'receive', '-A', targetFull]));
    if (r.rollbackTo !== null) steps.push(onTarget(['zfs', 'rollback', '-r', zfsName(f.targetPool, f.targetDataset, `@${r.rollbackTo}`)]));
    // `@%` is the range from the oldest to the newest snapshot of this dataset only.
    if (r.destroyTargetSnapshots) steps.push(onTarget(['zfs', 'destroy', `${targetFull}@%`]));
    if (r.renameSuffix !== null) steps.push(onTarget(['zfs', 'rename', targetFull, zfsName(f.targetPool, `${f.targetDataset}-diverged-${r.renameSuffix}`)]));
  } else if (f.endingSnapshot === null) {
    throw new PlanError('a transfer needs an ending snapshot');
  }
  if (f.endingSnapshot !== null) {
    const spec: TransferSpec = {
      mode: f.transferMode,
      source: { pool: f.pool, dataset: f.dataset, connection: connectionOf(f, 'source') },
      target: { pool: f.targetPool, dataset: f.targetDataset, connection: connectionOf(f, 'target') },
      base: f.startingSnapshot === null ? null : { name: f.startingSnapshot, kind: f.startingKind! },
      endName: f.endingSnapshot,
      resumeToken: f.resumeToken,
      sendOptions: f.sendOptions,
      receiveOptions: f.receiveOptions,
      force: r !== null && FORCED.has(r.strategy),
    };
    // A seed of the whole history: the oldest snapshot in full, then -I from it to the end.
    if (f.initialSnapshot !== null) steps.push(transferPipeline({ ...spec, endName: f.initialSnapshot }), transferPipeline({ ...spec, base: { name: f.initialSnapshot, kind: 'snapshot' } }));
    else steps.push(transferPipeline(spec));
  }
  return steps;
}

/** The plan's commands as the command lines shown to people and compared by the agent. */
export function planCommands(f: PlanCommandFields): string[] {
  return planSteps(f).map(stepCommandLine);
}

// ---------------------------------------------------------------------------------------------
// Plans for links

/** What a host is told to run for one link; fields mirror the instructions API. */
export interface TransferPlan extends PlanCommandFields {
  /** full: the target lacks the dataset; incremental: from the base; resume: `zfs send -t`. */
  kind: 'full' | 'incremental' | 'resume';
  executorSystemId: string;
  startingGuid: string | null;
  initialGuid: string | null;
  endingSnapshot: string;
  endingGuid: string | null;
  isIncremental: boolean;
  snapshotCount: number;
  /** Run in order; stop at the first failure. Always planCommands(this). */
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

/** The command fields of a link's transfer (before any override a remedy makes). */
function linkFields(link: PlannedLink, ctx: PlanContext): PlanCommandFields {
  const { verdict } = link;
  const source = memberOf(ctx.members, link.sourceSystemId);
  const target = memberOf(ctx.members, link.targetSystemId);
  return {
    transferMode: ctx.policy.transferMode,
    sourceSystemId: link.sourceSystemId,
    targetSystemId: link.targetSystemId,
    pool: link.sourcePool,
    dataset: link.dataset,
    targetPool: link.targetPool,
    targetDataset: link.dataset,
    startingSnapshot: verdict.base?.name ?? null,
    startingKind: verdict.base?.kind ?? null,
    initialSnapshot: null,
    endingSnapshot: verdict.end?.name ?? null,
    resumeToken: link.resumeToken,
    sourceSshHostname: source.sshHostname,
    sourceSshUser: source.sshUser,
    sourceSshPort: source.sshPort,
    targetSshHostname: target.sshHostname,
    targetSshUser: target.sshUser,
    targetSshPort: target.sshPort,
    sendOptions: ctx.policy.sendOptions,
    receiveOptions: ctx.policy.receiveOptions,
    remedy: null,
  };
}

/**
 * The plan around command fields: kind, ids, guids and counts from the link, commands from the
 * fields (`seed`: the initial snapshot of an initial_replication "all" plan).
 */
function planOf(link: PlannedLink, fields: PlanCommandFields, seed: SnapshotRef | null = null): Omit<TransferPlan, 'endingSnapshot'> & { endingSnapshot: string | null } {
  const { verdict } = link;
  const incremental = fields.startingSnapshot !== null;
  const transfers = fields.endingSnapshot !== null;
  return {
    kind: fields.resumeToken !== null ? 'resume' : incremental && transfers ? 'incremental' : 'full',
    ...fields,
    executorSystemId: link.executorSystemId,
    startingGuid: incremental ? verdict.base?.guid ?? null : null,
    initialGuid: seed?.guid ?? null,
    endingGuid: transfers ? verdict.end?.guid ?? null : null,
    isIncremental: incremental && transfers,
    snapshotCount: !transfers ? 0 : seed ? link.seedSnapshotCount : !incremental || fields.resumeToken !== null ? 1 : verdict.snapshotCount,
    commands: planCommands(fields),
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
  const fields = linkFields(link, ctx);
  const seed = fields.resumeToken === null && fields.startingSnapshot === null && link.seedFrom && !sameRef(link.seedFrom, verdict.end) ? link.seedFrom : null;
  return planOf(link, { ...fields, initialSnapshot: seed?.name ?? null }, seed) as TransferPlan;
}

function sameRef(a: SnapshotRef, b: SnapshotRef): boolean {
  return a.guid !== null && b.guid !== null ? a.guid === b.guid : a.name === b.name;
}

// ---------------------------------------------------------------------------------------------
// Destructive remedies (only after an operator's confirmation)

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

export interface RemedyPlan extends Omit<TransferPlan, 'endingSnapshot' | 'remedy'> {
  strategy: RemedyStrategy;
  endingSnapshot: string | null;
  remedy: RemedyFields;
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
 * A one-off plan for an operator's resolution, for the group's executor. A pending resumable
 * receive is aborted first (`zfs receive -A`), because ZFS refuses any other receive while it
 * exists.
 */
export function buildRemedyPlan(input: RemedyInput): RemedyPlan {
  const { link, targetView, strategy } = input;
  const { verdict } = link;
  if (!link.targetPresent) throw new PlanError('the target does not have the dataset: a normal full send seeds it');
  const fields = linkFields(link, input);
  const remedy: RemedyFields = { strategy, abortResumableReceive: !!targetView.receiveResumeToken, rollbackTo: null, destroyTargetSnapshots: false, renameSuffix: null };
  const full = { startingSnapshot: null, startingKind: null };
  let transfer: Partial<PlanCommandFields>;
  switch (strategy) {
    case 'rollback_target':
      if (!verdict.base) throw new PlanError('rollback_target needs a common base');
      remedy.rollbackTo = verdict.base.targetName;
      // Nothing newer on the source: the rollback alone resolves it.
      transfer = verdict.end ? {} : full;
      break;
    case 'force_receive':
      if (!verdict.base) throw new PlanError('force_receive needs a common base');
      transfer = {};
      break;
    case 'full_resend':
      // A full stream is only received over a dataset without snapshots, so destroy them first.
      remedy.destroyTargetSnapshots = targetView.snapshots.length > 0;
      transfer = full;
      break;
    case 'rename_target':
      remedy.renameSuffix = input.renameSuffix ?? '';
      transfer = full;
      break;
    default:
      throw new PlanError(`unknown strategy ${String(strategy)}`);
  }
  const plan = planOf(link, { ...fields, ...transfer, resumeToken: null, remedy });
  return { ...plan, strategy, remedy, wouldDestroy: wouldDestroy(targetView, verdict, strategy) };
}
