import test from 'ava';
import { planCommands, type PlanCommandFields } from '@zfs-sync/domain';
import { instructionCommandFieldsFromJson, instructionCommandFieldsToJson } from './instruction.schema.js';

const fields: PlanCommandFields = {
  transferMode: 'push',
  sourceSystemId: '11111111-1111-4111-8111-111111111111',
  targetSystemId: '22222222-2222-4222-8222-222222222222',
  pool: 'tank',
  dataset: 'home/alice',
  targetPool: 'backup',
  targetDataset: 'home/alice',
  startingSnapshot: 'daily 1',
  startingKind: 'snapshot',
  initialSnapshot: null,
  endingSnapshot: 'daily 2',
  resumeToken: null,
  sourceSshHostname: 'nas.example',
  sourceSshUser: null,
  sourceSshPort: 22,
  targetSshHostname: 'backup.example',
  targetSshUser: 'zsync',
  targetSshPort: 2222,
  sendOptions: { compressed: true, raw: false },
  receiveOptions: { resumable: true, unmounted: true },
  remedy: null,
};

test('command fields survive the wire unchanged, and rebuild the same commands', (t) => {
  const remedy: PlanCommandFields = { ...fields, remedy: { strategy: 'rollback_target', abortResumableReceive: true, rollbackTo: 'daily 1', destroyTargetSnapshots: false, renameSuffix: null } };
  const seed: PlanCommandFields = { ...fields, startingSnapshot: null, startingKind: null, initialSnapshot: 'daily 0' };
  for (const f of [fields, remedy, seed, { ...fields, transferMode: 'pull' as const }]) {
    const commands = planCommands(f);
    const wire = JSON.parse(JSON.stringify({ instruction_id: 'x', status: 'offered', ...instructionCommandFieldsToJson(f), commands }));
    const back = instructionCommandFieldsFromJson(wire);
    if (!back.ok) return t.fail(back.error.detail);
    const { commands: received, ...rest } = back.value;
    t.deepEqual(rest, f);
    t.deepEqual(planCommands(rest), received);
  }
});

test('a missing or mistyped field names itself', (t) => {
  const wire: Record<string, unknown> = { ...instructionCommandFieldsToJson(fields), commands: planCommands(fields) };
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ ...wire, transfer_mode: undefined }, 'transfer_mode'],
    [{ ...wire, target_ssh_port: '22' }, 'target_ssh_port'],
    [{ ...wire, send_options: { compressed: true, raw: false, extra: 1 } }, 'send_options.extra'],
    [{ ...wire, remedy: { strategy: 'format', abort_resumable_receive: false, rollback_to: null, destroy_target_snapshots: false, rename_suffix: null } }, 'remedy'],
    [{ ...wire, commands: 'zfs send x' }, 'commands'],
  ];
  for (const [body, field] of cases) {
    const r = instructionCommandFieldsFromJson(JSON.parse(JSON.stringify(body)));
    t.false(r.ok, field);
    if (!r.ok) t.true(r.error.field.startsWith(field), `${field}: ${r.error.detail}`);
  }
});
