import type { PlanCommandFields, RemedyStrategy } from '@zfs-sync/domain';
import { compile, type Validation } from '../validator.js';
import { uuidString } from './common.schema.js';

/**
 * The fields of an instruction (`GET /sync/instructions/{system_id}`, each `datasets[]` entry)
 * that its commands are made of. The witness writes them next to `commands`; the agent reads
 * them back, rebuilds the commands with the domain's `planCommands` and runs only what it
 * rebuilt — a `commands` text that differs is refused. Names and hosts are checked by the
 * domain's rules when the commands are built; the schema fixes the shape.
 */

const name = { type: 'string', minLength: 1, maxLength: 255 } as const;
const nullableName = { anyOf: [name, { type: 'null' }] } as const;
const port = { type: 'integer', minimum: 1, maximum: 65_535 } as const;
const nullableHost = { anyOf: [{ type: 'string', minLength: 1, maxLength: 253 }, { type: 'null' }] } as const;
const nullableUser = { anyOf: [{ type: 'string', minLength: 1, maxLength: 32 }, { type: 'null' }] } as const;

export const instructionCommandFieldsSchema = {
  $id: 'InstructionCommandFields',
  type: 'object',
  // An instruction carries more (ids, status, leases): only these fields are checked here.
  additionalProperties: true,
  required: [
    'transfer_mode', 'source_system_id', 'target_system_id', 'pool', 'dataset_path', 'target_pool', 'target_dataset_path',
    'starting_snapshot', 'starting_kind', 'initial_snapshot', 'ending_snapshot', 'resume_token',
    'source_ssh_hostname', 'source_ssh_user', 'source_ssh_port', 'target_ssh_hostname', 'target_ssh_user', 'target_ssh_port',
    'send_options', 'receive_options', 'remedy', 'commands',
  ],
  properties: {
    transfer_mode: { enum: ['push', 'pull'] },
    source_system_id: uuidString,
    target_system_id: uuidString,
    pool: name,
    dataset_path: { type: 'string', maxLength: 255 },
    target_pool: name,
    target_dataset_path: { type: 'string', maxLength: 255 },
    starting_snapshot: nullableName,
    starting_kind: { enum: ['snapshot', 'bookmark', null] },
    initial_snapshot: nullableName,
    ending_snapshot: nullableName,
    resume_token: { anyOf: [{ type: 'string', minLength: 1, maxLength: 8192 }, { type: 'null' }] },
    source_ssh_hostname: nullableHost,
    source_ssh_user: nullableUser,
    source_ssh_port: port,
    target_ssh_hostname: nullableHost,
    target_ssh_user: nullableUser,
    target_ssh_port: port,
    send_options: {
      type: 'object',
      additionalProperties: false,
      required: ['compressed', 'raw'],
      properties: { compressed: { type: 'boolean' }, raw: { type: 'boolean' } },
    },
    receive_options: {
      type: 'object',
      additionalProperties: false,
      required: ['resumable', 'unmounted'],
      properties: { resumable: { type: 'boolean' }, unmounted: { type: 'boolean' } },
    },
    remedy: {
      anyOf: [
        { type: 'null' },
        {
          type: 'object',
          additionalProperties: false,
          required: ['strategy', 'abort_resumable_receive', 'rollback_to', 'destroy_target_snapshots', 'rename_suffix'],
          properties: {
            strategy: { enum: ['rollback_target', 'force_receive', 'full_resend', 'rename_target'] },
            abort_resumable_receive: { type: 'boolean' },
            rollback_to: nullableName,
            destroy_target_snapshots: { type: 'boolean' },
            rename_suffix: { anyOf: [{ type: 'string', minLength: 1, maxLength: 64 }, { type: 'null' }] },
          },
        },
      ],
    },
    commands: { type: 'array', maxItems: 16, items: { type: 'string', maxLength: 65_536 } },
  },
} as const;

export interface InstructionCommandFieldsJson {
  transfer_mode: 'push' | 'pull';
  source_system_id: string;
  target_system_id: string;
  pool: string;
  dataset_path: string;
  target_pool: string;
  target_dataset_path: string;
  starting_snapshot: string | null;
  starting_kind: 'snapshot' | 'bookmark' | null;
  initial_snapshot: string | null;
  ending_snapshot: string | null;
  resume_token: string | null;
  source_ssh_hostname: string | null;
  source_ssh_user: string | null;
  source_ssh_port: number;
  target_ssh_hostname: string | null;
  target_ssh_user: string | null;
  target_ssh_port: number;
  send_options: { compressed: boolean; raw: boolean };
  receive_options: { resumable: boolean; unmounted: boolean };
  remedy: {
    strategy: RemedyStrategy;
    abort_resumable_receive: boolean;
    rollback_to: string | null;
    destroy_target_snapshots: boolean;
    rename_suffix: string | null;
  } | null;
}

/** The wire form of a plan's command fields (what the witness adds to each instruction). */
export function instructionCommandFieldsToJson(f: PlanCommandFields): InstructionCommandFieldsJson {
  const r = f.remedy;
  return {
    transfer_mode: f.transferMode,
    source_system_id: f.sourceSystemId,
    target_system_id: f.targetSystemId,
    pool: f.pool,
    dataset_path: f.dataset,
    target_pool: f.targetPool,
    target_dataset_path: f.targetDataset,
    starting_snapshot: f.startingSnapshot,
    starting_kind: f.startingKind,
    initial_snapshot: f.initialSnapshot,
    ending_snapshot: f.endingSnapshot,
    resume_token: f.resumeToken,
    source_ssh_hostname: f.sourceSshHostname,
    source_ssh_user: f.sourceSshUser,
    source_ssh_port: f.sourceSshPort,
    target_ssh_hostname: f.targetSshHostname,
    target_ssh_user: f.targetSshUser,
    target_ssh_port: f.targetSshPort,
    send_options: { compressed: f.sendOptions.compressed, raw: f.sendOptions.raw },
    receive_options: { resumable: f.receiveOptions.resumable, unmounted: f.receiveOptions.unmounted },
    remedy: r && { strategy: r.strategy, abort_resumable_receive: r.abortResumableReceive, rollback_to: r.rollbackTo, destroy_target_snapshots: r.destroyTargetSnapshots, rename_suffix: r.renameSuffix },
  };
}

const validateCommandFields = compile<InstructionCommandFieldsJson & { commands: string[] }>(instructionCommandFieldsSchema);

/** Read an instruction's command fields back (the agent's side); the shape is checked, the rest is the domain's. */
export function instructionCommandFieldsFromJson(json: unknown): Validation<PlanCommandFields & { commands: string[] }> {
  const checked = validateCommandFields(json);
  if (!checked.ok) return checked;
  const j = checked.value;
  const r = j.remedy;
  return {
    ok: true,
    value: {
      transferMode: j.transfer_mode,
      sourceSystemId: j.source_system_id,
      targetSystemId: j.target_system_id,
      pool: j.pool,
      dataset: j.dataset_path,
      targetPool: j.target_pool,
      targetDataset: j.target_dataset_path,
      startingSnapshot: j.starting_snapshot,
      startingKind: j.starting_kind,
      initialSnapshot: j.initial_snapshot,
      endingSnapshot: j.ending_snapshot,
      resumeToken: j.resume_token,
      sourceSshHostname: j.source_ssh_hostname,
      sourceSshUser: j.source_ssh_user,
      sourceSshPort: j.source_ssh_port,
      targetSshHostname: j.target_ssh_hostname,
      targetSshUser: j.target_ssh_user,
      targetSshPort: j.target_ssh_port,
      sendOptions: { compressed: j.send_options.compressed, raw: j.send_options.raw },
      receiveOptions: { resumable: j.receive_options.resumable, unmounted: j.receive_options.unmounted },
      remedy: r && { strategy: r.strategy, abortResumableReceive: r.abort_resumable_receive, rollbackTo: r.rollback_to, destroyTargetSnapshots: r.destroy_target_snapshots, renameSuffix: r.rename_suffix },
      commands: j.commands,
    },
  };
}
