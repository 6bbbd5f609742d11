import test from 'ava';
import { instructionCommandFieldsToJson } from '@zfs-sync/contracts';
import { planCommands, planSteps, type PlanCommandFields } from '@zfs-sync/domain';
import { verifyInstruction } from './instructions.js';

const HUB = '11111111-1111-4111-8111-111111111111';
const SPOKE = '22222222-2222-4222-8222-222222222222';
const ID = '33333333-3333-4333-8333-333333333333';

const fields: PlanCommandFields = {
  transferMode: 'push',
  sourceSystemId: HUB,
  targetSystemId: SPOKE,
  pool: 'tank',
  dataset: 'home',
  targetPool: 'backup',
  targetDataset: 'home',
  startingSnapshot: 'auto-1',
  startingKind: 'snapshot',
  initialSnapshot: null,
  endingSnapshot: 'auto-3',
  resumeToken: null,
  sourceSshHostname: 'hub.example',
  sourceSshUser: null,
  sourceSshPort: 22,
  targetSshHostname: 'spoke.example',
  targetSshUser: 'zsync',
  targetSshPort: 2222,
  sendOptions: { compressed: true, raw: false },
  receiveOptions: { resumable: true, unmounted: false },
  remedy: null,
};

/** An instruction as the witness sends it (instructionToJson's command fields plus the rest). */
function wire(f: PlanCommandFields, extra: Record<string, unknown> = {}) {
  const commands = 'commands' in extra ? extra.commands : planCommands(f);
  return JSON.parse(JSON.stringify({ instruction_id: ID, kind: f.remedy ? 'remedy' : 'transfer', ...(f.remedy ? { strategy: f.remedy.strategy } : {}), status: 'offered', ...instructionCommandFieldsToJson(f), ...extra, commands }));
}
const config = { allowRemedies: true, datasets: { include: [], exclude: [] } };

test('an instruction whose commands are what its fields build is accepted; the rebuilt argv is what runs', (t) => {
  const v = verifyInstruction(wire(fields), HUB, config);
  if (!v.ok) return t.fail(v.reason);
  t.deepEqual(v.plan.steps, planSteps(fields));
  t.deepEqual(v.plan.commands, ["zfs send -c -I tank/home@auto-1 tank/home@auto-3 | ssh -p 2222 zsync@spoke.example 'zfs receive -s backup/home'"]);
  t.like(v.plan, { instructionId: ID, kind: 'transfer', label: 'tank/home → backup/home', localChanges: [] });
  const pull = verifyInstruction(wire({ ...fields, transferMode: 'pull' }), SPOKE, config);
  t.true(pull.ok);
  if (pull.ok) t.deepEqual(pull.plan.localChanges, ['backup/home'], 'a pull changes the local target: re-reported afterwards');
});

test('a command that differs from its fields is refused, whatever the difference', (t) => {
  const original = planCommands(fields)[0]!;
  const tampered = [
    original.replace("'zfs receive -s", "'zfs receive -s -F"),
    `${original}; rm -rf /`,
    original.replace('backup/home', 'backup/other'),
    original.replace('zsync@spoke.example', 'evil.example'),
  ];
  for (const command of tampered) {
    const v = verifyInstruction(wire(fields, { commands: [command] }), HUB, config);
    t.false(v.ok, command);
    if (!v.ok) t.regex(v.reason, /its command differs from what its fields build, so it was not run/);
  }
  const extra = verifyInstruction(wire(fields, { commands: [original, 'zfs destroy -r backup'] }), HUB, config);
  t.false(extra.ok, 'an extra command is refused too');
});

test('fields that would build something unsafe or foreign are refused before anything runs', (t) => {
  const refused: Array<[unknown, string, RegExp]> = [
    [wire(fields), SPOKE, /in push mode it runs on system 1111/],
    [wire({ ...fields, targetSshHostname: '-oProxyCommand=id' }, { commands: ["zfs send … | ssh -oProxyCommand=id 'zfs receive'"] }), HUB, /no safe command can be built/],
    [{ ...wire(fields), target_ssh_port: 'x' }, HUB, /target_ssh_port/],
    [{ ...wire(fields), instruction_id: 'nope' }, HUB, /no valid instruction_id/],
    [{ ...wire(fields), kind: 'surprise' }, HUB, /unknown kind/],
    [{ ...wire(fields), remedy: { strategy: 'force_receive', abort_resumable_receive: false, rollback_to: null, destroy_target_snapshots: false, rename_suffix: null } }, HUB, /a transfer that carries remedy steps/],
  ];
  for (const [json, me, reason] of refused) {
    const v = verifyInstruction(json, me, config);
    t.false(v.ok);
    if (!v.ok) t.regex(v.reason, reason);
  }
});

test('local policy: excluded datasets and (when disabled) remedies are refused', (t) => {
  const excluded = verifyInstruction(wire(fields), HUB, { allowRemedies: true, datasets: { include: [], exclude: ['home'] } });
  t.false(excluded.ok);
  if (!excluded.ok) t.regex(excluded.reason, /tank\/home is excluded by this host's datasets setting/);
  const remedy: PlanCommandFields = { ...fields, remedy: { strategy: 'rollback_target', abortResumableReceive: false, rollbackTo: 'auto-1', destroyTargetSnapshots: false, renameSuffix: null } };
  t.true(verifyInstruction(wire(remedy, { would_destroy: ['local'] }), HUB, config).ok);
  const off = verifyInstruction(wire(remedy), HUB, { allowRemedies: false, datasets: { include: [], exclude: [] } });
  t.false(off.ok);
  if (!off.ok) t.regex(off.reason, /remedies are disabled on this host \(allow_remedies: false\)/);
  const mislabelled = verifyInstruction(wire(remedy, { strategy: 'full_resend' }), HUB, config);
  t.false(mislabelled.ok, 'a remedy whose steps do not match its strategy');
});
