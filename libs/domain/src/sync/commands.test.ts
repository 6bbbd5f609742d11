import test from 'ava';
import { execFileSync } from 'node:child_process';
import {
  buildRemedyPlan,
  buildSshCommand,
  buildTransferCommand,
  buildTransferPlan,
  isDestructiveStrategy,
  isPlausibleResumeToken,
  PlanError,
  sshCommandPrefix,
  wouldDestroy,
  planCommands,
  planSteps,
  type PlanCommandFields,
  type RemedyStrategy,
  type TransferSpec,
} from './commands.js';
import { absent, byDataset, host, member, NOW, policy, series, snap, type HostOptions, type SnapSpec } from './test-fixtures.js';
import { planGroupLinks, type PlannedLink } from './topology.js';
import type { HostDatasetView, MemberConnection, SyncGroupPolicy } from './types.js';

/** The words a POSIX shell makes of a command line (run for real through /bin/sh). */
function shellWords(commandLine: string): string[] {
  const out = execFileSync('/bin/sh', ['-c', `printf '%s\\0' ${commandLine}`]).toString();
  return out.split('\0').slice(0, -1);
}

/**
 * What the remote side of an ssh command runs: ssh joins the arguments after the destination
 * with spaces and hands them to the remote shell, which splits them again.
 */
function remoteWords(sshCommandLine: string): { local: string[]; remote: string[] } {
  const local = shellWords(sshCommandLine);
  const destinationAt = local[1] === '-p' ? 3 : 1;
  return { local, remote: shellWords(local.slice(destinationAt + 1).join(' ')) };
}

/** Every word a pipeline runs, locally and (through ssh) remotely. */
function everyWord(pipeline: string): string[] {
  return pipeline.split(' | ').flatMap((part) => {
    if (!part.startsWith('ssh ')) return shellWords(part);
    const { local, remote } = remoteWords(part);
    return [...local, ...remote];
  });
}

const [a, b, c] = series('auto-', 3);
const members = [member('S', 'src.example.net'), member('T', 'dst.example.net', 'backup', 2222)];

/** The link S → T for one dataset, through the real planner (hub S). */
function link(source: HostDatasetView, target: HostDatasetView, overrides: Partial<SyncGroupPolicy> = {}): PlannedLink {
  const p = policy({ directional: true, hubSystemId: 'S', ...overrides });
  const links = planGroupLinks({ policy: p, members, datasetViews: byDataset(source, target), now: NOW });
  if (links.length !== 1) throw new Error(`expected one link, got ${links.length}`);
  return links[0]!;
}

function plan(source: HostDatasetView, target: HostDatasetView, overrides: Partial<SyncGroupPolicy> = {}) {
  const p = policy({ directional: true, hubSystemId: 'S', ...overrides });
  return buildTransferPlan(link(source, target, overrides), { policy: p, members });
}

const S = (snaps: SnapSpec[], opts: HostOptions = {}) => host('S', snaps, opts);
const T = (snaps: SnapSpec[], opts: HostOptions = {}) => host('T', snaps, { pool: 'backup', ...opts });

test('push: incremental -I, runs on the source, receive over ssh with user and port', (t) => {
  const p = plan(S([a!, b!, c!]), T([a!]))!;
  t.is(p.executorSystemId, 'S');
  t.deepEqual(p.commands, [
    "zfs send -c -I tank/data@auto-0 tank/data@auto-2 | ssh -p 2222 backup@dst.example.net 'zfs receive -s backup/data'",
  ]);
  t.is(p.startingSnapshot, 'auto-0');
  t.is(p.endingSnapshot, 'auto-2');
  t.true(p.isIncremental);
  t.is(p.snapshotCount, 2);
  t.is(p.pool, 'tank');
  t.is(p.targetPool, 'backup');
  t.is(p.startingGuid, link(S([a!, b!, c!]), T([a!])).verdict.base!.guid);
  t.is(p.targetSshHostname, 'dst.example.net');
});

test('pull: runs on the target, send over ssh from the source', (t) => {
  const p = plan(S([a!, b!, c!]), T([a!]), { transferMode: 'pull' })!;
  t.is(p.executorSystemId, 'T');
  t.deepEqual(p.commands, ["ssh src.example.net 'zfs send -c -I tank/data@auto-0 tank/data@auto-2' | zfs receive -s backup/data"]);
});

test('full send when the target is not seeded (into target_pools, else the source pool)', (t) => {
  const p = plan(S([a!, b!]), absent('T'), { targetPools: { T: 'vault' } })!;
  t.false(p.isIncremental);
  t.is(p.startingSnapshot, null);
  t.is(p.snapshotCount, 1);
  t.deepEqual(p.commands, ["zfs send -c tank/data@auto-1 | ssh -p 2222 backup@dst.example.net 'zfs receive -s vault/data'"]);
  const q = plan(S([a!, b!]), absent('T'))!;
  t.regex(q.commands[0]!, /'zfs receive -s tank\/data'$/);
});

test('a bookmark base uses -i pool/ds#bookmark', (t) => {
  const p = plan(S([a!, c!], { bookmarks: [b!] }), T([a!, b!]))!;
  t.is(p.startingKind, 'bookmark');
  t.is(p.snapshotCount, 1);
  t.is(p.commands[0], "zfs send -c -i 'tank/data#auto-1' tank/data@auto-2 | ssh -p 2222 backup@dst.example.net 'zfs receive -s backup/data'");
});

test('a resume token on the target resumes with zfs send -t', (t) => {
  const token = '1-e604ea4bf-e0-789c636064000310a500c4ec50360710e72765a5269740';
  const p = plan(S([a!, b!]), T([a!], { receiveResumeToken: token }))!;
  t.is(p.resumeToken, token);
  t.is(p.commands[0], `zfs send -t ${token} | ssh -p 2222 backup@dst.example.net 'zfs receive -s backup/data'`);
});

test('a malformed resume token is not used (it is untrusted host input)', (t) => {
  const p = plan(S([a!, b!]), T([a!], { receiveResumeToken: "1-abc'; reboot; '" }))!;
  t.is(p.resumeToken, null);
  t.notRegex(p.commands[0]!, /-t/);
  t.false(isPlausibleResumeToken('$(id)'));
  t.false(isPlausibleResumeToken(''));
  t.true(isPlausibleResumeToken('1-abc-0-789c'));
});

test('send and receive options: -w -c, -s, -u', (t) => {
  const p = plan(S([a!, b!]), T([a!]), {
    sendOptions: { compressed: true, raw: true },
    receiveOptions: { resumable: true, unmounted: true },
  })!;
  t.regex(p.commands[0]!, /^zfs send -w -c -I /);
  t.regex(p.commands[0]!, /'zfs receive -s -u backup\/data'$/);
  const q = plan(S([a!, b!]), T([a!]), { sendOptions: { compressed: false, raw: false }, receiveOptions: { resumable: false, unmounted: false } })!;
  t.regex(q.commands[0]!, /^zfs send -I /);
  t.regex(q.commands[0]!, /'zfs receive backup\/data'$/);
});

test('nested datasets keep their pool; the pool root is just the pool', (t) => {
  const p = plan(S([a!, b!], { dataset: 'home/alice/docs' }), T([a!], { dataset: 'home/alice/docs' }))!;
  t.is(p.commands[0], "zfs send -c -I tank/home/alice/docs@auto-0 tank/home/alice/docs@auto-1 | ssh -p 2222 backup@dst.example.net 'zfs receive -s backup/home/alice/docs'");
  const root = plan(S([a!, b!], { dataset: '' }), T([a!], { dataset: '' }))!;
  t.is(root.commands[0], "zfs send -c -I tank@auto-0 tank@auto-1 | ssh -p 2222 backup@dst.example.net 'zfs receive -s backup'");
});

test('names with spaces survive both shells (local and remote) as single words', (t) => {
  const snaps = [snap('daily 2024-01-01', 7200), snap('daily 2024-01-02 %1', 0)];
  const spacey = { dataset: 'my data/sub dir' };
  const push = plan(S(snaps, spacey), T(snaps.slice(0, 1), spacey))!;
  const [sendPart, sshPart] = push.commands[0]!.split(' | ');
  t.deepEqual(shellWords(sendPart!), ['zfs', 'send', '-c', '-I', 'tank/my data/sub dir@daily 2024-01-01', 'tank/my data/sub dir@daily 2024-01-02 %1']);
  const ssh = remoteWords(sshPart!);
  t.deepEqual(ssh.local.slice(0, 4), ['ssh', '-p', '2222', 'backup@dst.example.net']);
  t.deepEqual(ssh.remote, ['zfs', 'receive', '-s', 'backup/my data/sub dir']);

  const pull = plan(S(snaps, spacey), T(snaps.slice(0, 1), spacey), { transferMode: 'pull' })!;
  const [pullSsh, pullReceive] = pull.commands[0]!.split(' | ');
  t.deepEqual(remoteWords(pullSsh!).remote, ['zfs', 'send', '-c', '-I', 'tank/my data/sub dir@daily 2024-01-01', 'tank/my data/sub dir@daily 2024-01-02 %1']);
  t.deepEqual(shellWords(pullReceive!), ['zfs', 'receive', '-s', 'backup/my data/sub dir']);
});

test('remote commands with quotes and shell metacharacters arrive intact', (t) => {
  const hostile = ["it's", 'a "b"', '$(reboot)', '`id`', 'x;y|z&', "''", 'two  spaces'];
  const line = buildSshCommand(member('T', 'dst.example.net', 'root', 2200), ['echo', ...hostile]);
  const { local, remote } = remoteWords(line);
  t.deepEqual(local.slice(0, 4), ['ssh', '-p', '2200', 'root@dst.example.net']);
  t.is(local.length, 5, 'the remote command is ONE ssh argument');
  t.deepEqual(remote, ['echo', ...hostile]);
});

test('names ZFS would refuse (quotes, shell characters) never reach a command line', (t) => {
  const spec: TransferSpec = {
    mode: 'push',
    source: { pool: 'tank', dataset: 'data', connection: member('S') },
    target: { pool: 'backup', dataset: 'data', connection: member('T') },
    base: null,
    endName: "x'; rm -rf / #",
    sendOptions: { compressed: true, raw: false },
    receiveOptions: { resumable: true, unmounted: false },
  };
  t.throws(() => buildTransferCommand(spec), { instanceOf: PlanError });
  t.throws(() => buildTransferCommand({ ...spec, endName: 'ok', target: { ...spec.target, dataset: 'a/../b' } }), { instanceOf: PlanError });
});

test('ssh details are validated', (t) => {
  const ok: MemberConnection = member('T', 'dst.example.net');
  t.deepEqual(sshCommandPrefix(ok), ['ssh', 'dst.example.net']);
  t.deepEqual(sshCommandPrefix({ ...ok, sshHostname: '[2001:db8::1]', sshUser: 'zfs' }), ['ssh', 'zfs@2001:db8::1']);
  t.throws(() => sshCommandPrefix({ ...ok, sshHostname: null }), { instanceOf: PlanError, message: /no ssh_hostname/ });
  t.throws(() => sshCommandPrefix({ ...ok, sshHostname: '-oProxyCommand=id' }), { instanceOf: PlanError });
  t.throws(() => sshCommandPrefix({ ...ok, sshUser: '-oX' }), { instanceOf: PlanError });
  t.throws(() => sshCommandPrefix({ ...ok, sshPort: 0 }), { instanceOf: PlanError });
  t.throws(() => sshCommandPrefix({ ...ok, sshPort: 70000 }), { instanceOf: PlanError });
});

test('no plan when there is nothing to send or an operator is needed', (t) => {
  t.is(plan(S([a!, b!]), T([a!, b!])), null, 'in sync');
  t.is(plan(S([a!, b!]), T([a!, snap('local', 5)])), null, 'diverged');
  t.is(plan(S([a!]), T([snap('x', 5)])), null, 'no common base');
  t.is(plan(S([snap('young', 5)]), absent('T'), { minSnapshotAgeSeconds: 60 }), null, 'nothing eligible');
});

test('a normal plan never contains -F', (t) => {
  const cases = [
    plan(S([a!, b!, c!]), T([a!])),
    plan(S([a!, b!, c!]), absent('T')),
    plan(S([a!, c!], { bookmarks: [b!] }), T([a!, b!])),
    plan(S([a!, b!, c!]), T([a!]), { transferMode: 'pull' }),
    plan(S([a!, b!]), T([a!], { receiveResumeToken: '1-ab-cd' })),
  ];
  for (const p of cases) {
    t.truthy(p);
    for (const command of p!.commands) t.false(everyWord(command).includes('-F'), command);
  }
});

// ---------------------------------------------------------------------------------------------
// Remedies

const divergedSource = S([a!, b!, c!]);
const divergedTarget = T([a!, b!, snap('local-1', 30), snap('local 2', 20)]);

function remedy(strategy: RemedyStrategy, mode: 'push' | 'pull' = 'push', target = divergedTarget, source = divergedSource) {
  const p = policy({ directional: true, hubSystemId: 'S', transferMode: mode });
  return buildRemedyPlan({ link: link(source, target, { transferMode: mode }), targetView: target, strategy, policy: p, members, renameSuffix: '20240601' });
}

test('wouldDestroy lists exactly the target snapshots a strategy destroys', (t) => {
  const v = link(divergedSource, divergedTarget).verdict;
  t.is(v.verdict, 'diverged');
  t.deepEqual(wouldDestroy(divergedTarget, v, 'rollback_target'), ['local-1', 'local 2']);
  t.deepEqual(wouldDestroy(divergedTarget, v, 'force_receive'), ['local-1', 'local 2']);
  t.deepEqual(wouldDestroy(divergedTarget, v, 'full_resend'), ['auto-0', 'auto-1', 'local-1', 'local 2']);
  t.deepEqual(wouldDestroy(divergedTarget, v, 'rename_target'), []);
  t.true(isDestructiveStrategy('rollback_target'));
  t.false(isDestructiveStrategy('rename_target'));
});

test('wouldDestroy uses the target name of a renamed base and refuses without a base', (t) => {
  const target = T([a!, { ...b!, name: 'kept', guid: link(divergedSource, divergedTarget).verdict.base!.guid }, snap('x', 5)]);
  const v = link(divergedSource, target).verdict;
  t.deepEqual(wouldDestroy(target, v, 'rollback_target'), ['x']);
  const none = link(S([a!]), T([snap('other', 5)])).verdict;
  t.throws(() => wouldDestroy(T([snap('other', 5)]), none, 'rollback_target'), { instanceOf: PlanError });
  t.deepEqual(wouldDestroy(T([snap('other', 5)]), none, 'full_resend'), ['other']);
});

test('rollback_target (push): rollback on the target over ssh, then the incremental', (t) => {
  const r = remedy('rollback_target');
  t.is(r.executorSystemId, 'S');
  t.deepEqual(r.commands, [
    "ssh -p 2222 backup@dst.example.net 'zfs rollback -r backup/data@auto-1'",
    "zfs send -c -I tank/data@auto-1 tank/data@auto-2 | ssh -p 2222 backup@dst.example.net 'zfs receive -s backup/data'",
  ]);
  t.deepEqual(r.wouldDestroy, ['local-1', 'local 2']);
});

test('rollback_target (pull): the target runs the rollback locally', (t) => {
  const r = remedy('rollback_target', 'pull');
  t.is(r.executorSystemId, 'T');
  t.deepEqual(r.commands, [
    'zfs rollback -r backup/data@auto-1',
    "ssh src.example.net 'zfs send -c -I tank/data@auto-1 tank/data@auto-2' | zfs receive -s backup/data",
  ]);
});

test('force_receive: the incremental with receive -F', (t) => {
  const r = remedy('force_receive');
  t.true(everyWord(r.commands[0]!).includes('-F'), 'the -F check sees through the ssh quoting');
  t.deepEqual(r.commands, ["zfs send -c -I tank/data@auto-1 tank/data@auto-2 | ssh -p 2222 backup@dst.example.net 'zfs receive -s -F backup/data'"]);
});

test('full_resend: destroy the target snapshots, then a full send with -F', (t) => {
  const target = T([snap('x', 50), snap('y', 40)]);
  const r = remedy('full_resend', 'push', target);
  t.deepEqual(r.commands, [
    "ssh -p 2222 backup@dst.example.net 'zfs destroy backup/data@%'",
    "zfs send -c tank/data@auto-2 | ssh -p 2222 backup@dst.example.net 'zfs receive -s -F backup/data'",
  ]);
  t.deepEqual(r.wouldDestroy, ['x', 'y']);
  t.false(r.isIncremental);
});

test('rename_target: move the diverged dataset aside, then a full send without -F', (t) => {
  const r = remedy('rename_target');
  t.deepEqual(r.commands, [
    "ssh -p 2222 backup@dst.example.net 'zfs rename backup/data backup/data-diverged-20240601'",
    "zfs send -c tank/data@auto-2 | ssh -p 2222 backup@dst.example.net 'zfs receive -s backup/data'",
  ]);
  t.deepEqual(r.wouldDestroy, []);
  const p = policy({ directional: true, hubSystemId: 'S' });
  const l = link(divergedSource, divergedTarget);
  t.throws(() => buildRemedyPlan({ link: l, targetView: divergedTarget, strategy: 'rename_target', policy: p, members, renameSuffix: 'a b' }), {
    instanceOf: PlanError,
  });
});

test('a pending resumable receive is aborted before a remedy', (t) => {
  const target = T([a!, b!, snap('local', 10)], { receiveResumeToken: '1-aa-bb' });
  const r = remedy('rollback_target', 'push', target);
  t.is(r.commands[0], "ssh -p 2222 backup@dst.example.net 'zfs receive -A backup/data'");
  t.notRegex(r.commands.join('\n'), /send -t/);
});

test('rollback without a base is refused', (t) => {
  const target = T([snap('other', 5)]);
  t.throws(() => remedy('rollback_target', 'push', target), { instanceOf: PlanError, message: /common base/ });
  t.throws(() => remedy('force_receive', 'push', target), { instanceOf: PlanError });
});

test('plans name their kind: full, incremental, resume', (t) => {
  t.is(plan(S([a!, b!]), absent('T'))!.kind, 'full');
  t.is(plan(S([a!, b!, c!]), T([a!]))!.kind, 'incremental');
  t.is(plan(S([a!, b!, c!]), T([a!], { receiveResumeToken: '1-abc-def-12' }))!.kind, 'resume');
});

test('initial_replication "all": the oldest eligible snapshot in full, then -I to the newest, in one plan', (t) => {
  const p = plan(S([a!, b!, c!]), absent('T'), { initialReplication: 'all' })!;
  t.is(p.kind, 'full');
  t.deepEqual(p.commands, [
    "zfs send -c tank/data@auto-0 | ssh -p 2222 backup@dst.example.net 'zfs receive -s tank/data'",
    "zfs send -c -I tank/data@auto-0 tank/data@auto-2 | ssh -p 2222 backup@dst.example.net 'zfs receive -s tank/data'",
  ]);
  t.like(p, { initialSnapshot: 'auto-0', endingSnapshot: 'auto-2', snapshotCount: 3, startingSnapshot: null });
  // The oldest *eligible* one: a snapshot the pattern refuses is not where the history starts.
  const q = plan(S([snap('manual-x', 3 * 3600), a!, b!, c!]), absent('T'), { initialReplication: 'all', snapshotPattern: '^auto-' })!;
  t.like(q, { initialSnapshot: 'auto-0', snapshotCount: 3 });
  // One eligible snapshot: just the full send. A seeded target: a normal incremental.
  t.deepEqual(plan(S([a!]), absent('T'), { initialReplication: 'all' })!.commands.length, 1);
  t.like(plan(S([a!, b!, c!]), T([a!]), { initialReplication: 'all' })!, { kind: 'incremental', initialSnapshot: null });
  // most_recent (the default): the newest only.
  t.like(plan(S([a!, b!, c!]), absent('T'))!, { initialSnapshot: null, endingSnapshot: 'auto-2', snapshotCount: 1 });
});

// ---------------------------------------------------------------------------------------------
// Instruction fields → commands (what the agent rebuilds and compares)

/** Only the command fields of a plan, as the agent receives them. */
function fieldsOf(p: PlanCommandFields): PlanCommandFields {
  const { transferMode, sourceSystemId, targetSystemId, pool, dataset, targetPool, targetDataset, startingSnapshot, startingKind, initialSnapshot, endingSnapshot, resumeToken } = p;
  const { sourceSshHostname, sourceSshUser, sourceSshPort, targetSshHostname, targetSshUser, targetSshPort, sendOptions, receiveOptions, remedy } = p;
  return JSON.parse(JSON.stringify({ transferMode, sourceSystemId, targetSystemId, pool, dataset, targetPool, targetDataset, startingSnapshot, startingKind, initialSnapshot, endingSnapshot, resumeToken, sourceSshHostname, sourceSshUser, sourceSshPort, targetSshHostname, targetSshUser, targetSshPort, sendOptions, receiveOptions, remedy }));
}

test('every plan is its fields run through planCommands (transfers and remedies, push and pull)', (t) => {
  const plans: PlanCommandFields[] = [
    plan(S([a!, b!, c!]), T([a!]))!,
    plan(S([a!, b!, c!]), T([a!]), { transferMode: 'pull' })!,
    plan(S([a!, b!]), absent('T'), { targetPools: { T: 'vault' } })!,
    plan(S([a!, c!], { bookmarks: [b!] }), T([a!, b!]))!,
    plan(S([a!, b!]), T([a!], { receiveResumeToken: '1-ab-cd' }))!,
    plan(S([a!, b!]), T([a!]), { sendOptions: { compressed: true, raw: true }, receiveOptions: { resumable: true, unmounted: true } })!,
    plan(S([a!, b!, c!]), absent('T'), { initialReplication: 'all' })!,
    plan(S([a!, b!, c!]), absent('T'), { initialReplication: 'all', transferMode: 'pull' })!,
    ...(['rollback_target', 'force_receive', 'full_resend', 'rename_target'] as const).flatMap((s) => [remedy(s), remedy(s, 'pull')]),
    remedy('rollback_target', 'push', T([a!, b!, snap('local', 10)], { receiveResumeToken: '1-aa-bb' })),
  ];
  for (const p of plans) t.deepEqual(planCommands(fieldsOf(p)), (p as unknown as { commands: string[] }).commands);
});

test('planSteps gives each stage as argv: the remote command is one ssh argument', (t) => {
  const p = plan(S([a!, b!, c!]), T([a!]))!;
  t.deepEqual(planSteps(fieldsOf(p)), [
    [
      ['zfs', 'send', '-c', '-I', 'tank/data@auto-0', 'tank/data@auto-2'],
      ['ssh', '-p', '2222', 'backup@dst.example.net', 'zfs receive -s backup/data'],
    ],
  ]);
});

test('fields that no plan of the witness would carry are refused, not built', (t) => {
  const base = fieldsOf(plan(S([a!, b!, c!]), T([a!]))!);
  const refused: Array<[string, Partial<PlanCommandFields>]> = [
    ['hostile host', { targetSshHostname: '-oProxyCommand=id' }],
    ['hostile user', { targetSshUser: 'a;b' }],
    ['port out of range', { targetSshPort: 0 }],
    ['hostile snapshot', { endingSnapshot: "x'; reboot; '" }],
    ['dataset escape', { targetDataset: 'data/../etc' }],
    ['kind without base', { startingSnapshot: null }],
    ['unknown kind', { startingKind: 'clone' as 'snapshot' }],
    ['unknown mode', { transferMode: 'teleport' as 'push' }],
    ['no end', { endingSnapshot: null }],
    ['hostile token', { resumeToken: '1-a; reboot' }],
    ['force on a normal transfer', { remedy: { strategy: 'force_receive', abortResumableReceive: false, rollbackTo: 'x', destroyTargetSnapshots: false, renameSuffix: null } }],
    ['destroy outside full_resend', { remedy: { strategy: 'rollback_target', abortResumableReceive: false, rollbackTo: 'auto-0', destroyTargetSnapshots: true, renameSuffix: null } }],
    ['full_resend from a base', { remedy: { strategy: 'full_resend', abortResumableReceive: false, rollbackTo: null, destroyTargetSnapshots: true, renameSuffix: null } }],
    ['rename with a hostile suffix', { startingSnapshot: null, startingKind: null, remedy: { strategy: 'rename_target', abortResumableReceive: false, rollbackTo: null, destroyTargetSnapshots: false, renameSuffix: 'x/../../y' } }],
    ['remedy with a token', { resumeToken: '1-ab-cd', remedy: { strategy: 'rollback_target', abortResumableReceive: false, rollbackTo: 'auto-0', destroyTargetSnapshots: false, renameSuffix: null } }],
    ['a seed from a base', { initialSnapshot: 'auto-0' }],
    ['unknown strategy', { remedy: { strategy: 'format_disk' as 'full_resend', abortResumableReceive: false, rollbackTo: null, destroyTargetSnapshots: false, renameSuffix: null } }],
  ];
  for (const [why, change] of refused) t.throws(() => planSteps({ ...base, ...change }), { instanceOf: PlanError }, why);
});
