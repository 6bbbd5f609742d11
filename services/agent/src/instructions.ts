/**
 * Trust nothing the witness sends as text. Each instruction's command fields are checked (shape
 * by the contract's schema, names and hosts by the domain's rules), the commands are rebuilt from
 * them with the same function the witness uses (planSteps), and an instruction whose `commands`
 * differ from the rebuilt ones — tampered with on the wire, or from a witness that builds
 * something else — is refused. What runs is the rebuilt argv, never the received text.
 */
import { instructionCommandFieldsFromJson } from '@zfs-sync/contracts';
import { PlanError, datasetSelected, joinDatasetPath, planSteps, stepCommandLine, type PlanCommandFields, type PlanStep } from '@zfs-sync/domain';
import type { AgentConfig } from './config.js';

export interface VerifiedPlan {
  instructionId: string;
  kind: 'transfer' | 'remedy';
  fields: PlanCommandFields;
  steps: PlanStep[];
  commands: string[];
  source: string;
  target: string;
  /** "tank/home → backup/home" for log lines. */
  label: string;
  /** The same transfer, whatever instruction id carries it: the local lock's key. */
  lockKey: string;
  /** Datasets on this host the plan changes (pull mode: the target). */
  localChanges: string[];
  wouldDestroy: string[];
}

export type Verification = { ok: true; plan: VerifiedPlan } | { ok: false; instructionId: string | null; label: string; reason: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function verifyInstruction(json: unknown, systemId: string, config: Pick<AgentConfig, 'allowRemedies' | 'datasets'>): Verification {
  const raw = (json && typeof json === 'object' ? json : {}) as Record<string, unknown>;
  const instructionId = typeof raw.instruction_id === 'string' && UUID.test(raw.instruction_id) ? raw.instruction_id : null;
  const guessLabel = `${String(raw.dataset ?? '?')} → ${String(raw.target_dataset ?? '?')}`;
  const refuse = (reason: string, label = guessLabel): Verification => ({ ok: false, instructionId, label, reason });
  if (!instructionId) return refuse('it has no valid instruction_id');

  const parsed = instructionCommandFieldsFromJson(raw);
  if (!parsed.ok) return refuse(`its fields are not usable: ${parsed.error.detail}`);
  const { commands: received, ...fields } = parsed.value;
  const source = joinDatasetPath(fields.pool, fields.dataset);
  const target = joinDatasetPath(fields.targetPool, fields.targetDataset);
  const label = `${source} → ${target}`;

  const runsHere = fields.transferMode === 'push' ? fields.sourceSystemId === systemId : fields.targetSystemId === systemId;
  if (!runsHere) return refuse(`in ${fields.transferMode} mode it runs on system ${fields.transferMode === 'push' ? fields.sourceSystemId : fields.targetSystemId}, not on this one`, label);
  const kind = raw.kind;
  if (kind === 'transfer' && fields.remedy !== null) return refuse('a transfer that carries remedy steps', label);
  if (kind === 'remedy' && (fields.remedy === null || raw.strategy !== fields.remedy.strategy)) return refuse('a remedy whose steps do not match its strategy', label);
  if (kind !== 'transfer' && kind !== 'remedy') return refuse(`unknown kind ${JSON.stringify(kind)}`, label);
  if (fields.remedy && !config.allowRemedies) return refuse(`remedies are disabled on this host (allow_remedies: false); ${fields.remedy.strategy} not run`, label);
  const localPath = fields.transferMode === 'push' ? fields.dataset : fields.targetDataset;
  if (!datasetSelected(localPath, config.datasets)) return refuse(`dataset ${fields.transferMode === 'push' ? source : target} is excluded by this host's datasets setting`, label);

  let steps: PlanStep[];
  try {
    steps = planSteps(fields);
  } catch (err) {
    if (err instanceof PlanError) return refuse(`no safe command can be built from its fields: ${err.message}`, label);
    throw err;
  }
  const commands = steps.map(stepCommandLine);
  const same = commands.length === received.length && commands.every((c, i) => c === received[i]);
  if (!same) {
    const at = commands.findIndex((c, i) => c !== received[i]);
    const index = at < 0 ? commands.length : at;
    return refuse(
      `its command differs from what its fields build, so it was not run (command ${index + 1}: received ${JSON.stringify(received[index] ?? null)}, fields build ${JSON.stringify(commands[index] ?? null)})`,
      label,
    );
  }
  const wouldDestroy = Array.isArray(raw.would_destroy) ? raw.would_destroy.filter((x): x is string => typeof x === 'string') : [];
  return {
    ok: true,
    plan: {
      instructionId,
      kind,
      fields,
      steps,
      commands,
      source,
      target,
      label,
      lockKey: `${fields.sourceSystemId}>${fields.targetSystemId}:${target}`,
      localChanges: fields.transferMode === 'pull' ? [target] : [],
      wouldDestroy,
    },
  };
}
