/**
 * `sync`: fetch this host's instructions, refuse what cannot be verified (and tell the witness),
 * run the rest — at most max_parallel_transfers at once, a dataset's parent before the dataset,
 * never a transfer another local run already runs — and report started / progress / succeeded /
 * failed with bytes and the stderr tail. Datasets this host received into are re-reported at
 * the end, so the witness sees the result without waiting for the next full report.
 */
import type { AgentContext } from './report.js';
import { reportDatasets } from './report.js';
import { runStep } from './executor.js';
import { verifyInstruction, type Verification, type VerifiedPlan } from './instructions.js';
import { lockTransfer } from './locks.js';
import { formatBytes } from './log.js';
import { WitnessRefusal } from './witness.js';

export interface SyncOutcome {
  offered: number;
  succeeded: number;
  failed: number;
  refused: number;
  /** Already running in another local run, or no longer current at the witness. */
  skipped: number;
}

/** Whether `a` is an ancestor dataset of `b` (`tank/x` of `tank/x/y`). */
const isAncestor = (a: string, b: string) => b.startsWith(`${a}/`);

/** Order plans so that a dataset's parent is received first (a receive needs its parent to exist). */
function byDepth(plans: VerifiedPlan[]): VerifiedPlan[] {
  return [...plans].sort((x, y) => x.target.split('/').length - y.target.split('/').length || x.target.localeCompare(y.target));
}

export interface SyncOptions {
  dryRun?: boolean;
  /** Print the commands (dry run) here. */
  print?: (line: string) => void;
  signal?: AbortSignal;
}

export async function sync(ctx: AgentContext, opts: SyncOptions = {}): Promise<SyncOutcome> {
  const { config, log, witness } = ctx;
  const me = witness.systemId;
  const answer = await witness.instructions({ lease: !opts.dryRun });
  const verified: Verification[] = (answer.datasets ?? []).map((j) => verifyInstruction(j, me, config));
  const outcome: SyncOutcome = { offered: verified.length, succeeded: 0, failed: 0, refused: 0, skipped: 0 };

  if (opts.dryRun) {
    const print = opts.print ?? ((l: string) => process.stdout.write(`${l}\n`));
    if (verified.length === 0) print('nothing to run: the witness has no transfer for this host now');
    for (const v of verified) {
      if (!v.ok) {
        outcome.refused++;
        print(`# REFUSED ${v.label} (instruction ${v.instructionId ?? '?'}): ${v.reason}`);
        continue;
      }
      const p = v.plan;
      print(`# ${p.kind === 'remedy' ? `remedy ${p.fields.remedy!.strategy}` : 'transfer'} ${p.label} (instruction ${p.instructionId})${p.wouldDestroy.length ? ` — destroys ${p.wouldDestroy.map((n) => `@${n}`).join(', ')} on the target` : ''}`);
      for (const c of p.commands) print(c);
    }
    return outcome;
  }

  for (const v of verified) {
    if (v.ok) continue;
    outcome.refused++;
    log.error(`refused instruction ${v.instructionId ?? '(no id)'} for ${v.label}: ${v.reason}`);
    if (v.instructionId) await tell(ctx, v.instructionId, { status: 'failed', error: `refused by the agent on ${config.hostname}: ${v.reason}` });
  }

  const queue = byDepth(verified.filter((v): v is { ok: true; plan: VerifiedPlan } => v.ok).map((v) => v.plan));
  const running = new Set<VerifiedPlan>();
  const localChanges = new Set<string>();
  const progress = new Map<VerifiedPlan, number>();
  const draw = () => {
    if (running.size === 0) return log.clearProgress();
    log.progress([...running].map((p) => `${p.label} ${formatBytes(progress.get(p) ?? 0)}`).join(' | '));
  };

  const next = (): VerifiedPlan | undefined => {
    for (let i = 0; i < queue.length; i++) {
      const p = queue[i]!;
      const blocked = [...running, ...queue.slice(0, i)].some((o) => o.fields.targetSystemId === p.fields.targetSystemId && isAncestor(o.target, p.target));
      if (!blocked) return queue.splice(i, 1)[0];
    }
    return undefined;
  };

  const runOne = async (plan: VerifiedPlan): Promise<void> => {
    const lock = lockTransfer(config.stateDir, plan.lockKey, { instruction_id: plan.instructionId });
    if (!lock.acquired) {
      outcome.skipped++;
      log.info(`skipping ${plan.label}: another agent run (pid ${lock.heldBy}) is running this transfer`, { instruction: plan.instructionId });
      return;
    }
    try {
      const started = await tell(ctx, plan.instructionId, { status: 'started' });
      if (started === 'gone') {
        outcome.skipped++;
        return;
      }
      log.info(`${plan.kind === 'remedy' ? `remedy ${plan.fields.remedy!.strategy}` : 'transfer'} ${plan.label} started`, { instruction: plan.instructionId });
      running.add(plan);
      let bytes = 0;
      let lastSent = 0;
      const timer = setInterval(() => {
        if (bytes === lastSent) return;
        lastSent = bytes;
        void tell(ctx, plan.instructionId, { status: 'progress', bytes_transferred: String(bytes) });
      }, config.progressIntervalSeconds * 1000);
      let error: string | null = null;
      const startedAt = Date.now();
      try {
        for (const step of plan.steps) {
          const before = bytes;
          const result = await runStep(step, {
            config,
            ...(opts.signal ? { signal: opts.signal } : {}),
            onBytes: (n) => {
              bytes = before + n;
              progress.set(plan, bytes);
              draw();
            },
          });
          if (!result.ok) {
            error = result.error;
            break;
          }
        }
      } finally {
        clearInterval(timer);
        running.delete(plan);
        draw();
      }
      for (const d of plan.localChanges) localChanges.add(d);
      const secs = Math.max(0.001, (Date.now() - startedAt) / 1000);
      if (error === null) {
        outcome.succeeded++;
        log.info(`${plan.label} succeeded`, { instruction: plan.instructionId, bytes, rate: `${formatBytes(bytes / secs)}/s` });
        await tell(ctx, plan.instructionId, { status: 'succeeded', bytes_transferred: String(bytes) });
      } else {
        outcome.failed++;
        log.error(`${plan.label} failed: ${error}`, { instruction: plan.instructionId, bytes });
        await tell(ctx, plan.instructionId, { status: 'failed', bytes_transferred: String(bytes), error });
      }
    } finally {
      lock.release();
    }
  };

  const workers = Array.from({ length: Math.min(config.maxParallelTransfers, queue.length) }, async () => {
    for (;;) {
      if (opts.signal?.aborted) return;
      const plan = next();
      if (!plan) {
        if (queue.length === 0) return;
        // Everything left waits for a parent that is still being received.
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      await runOne(plan);
    }
  });
  await Promise.all(workers);
  log.clearProgress();

  if (localChanges.size > 0) {
    try {
      await reportDatasets(ctx, localChanges);
    } catch (err) {
      log.warn(`could not re-report the received datasets (the next report will): ${(err as Error).message}`);
    }
  }
  return outcome;
}

/**
 * Report an instruction's status. 'gone' when the witness no longer wants it (404: not ours or
 * deleted, 409: superseded or finished); other failures are logged, not fatal: the lease runs
 * out and the witness offers the plan again.
 */
async function tell(ctx: AgentContext, instructionId: string, body: { status: string; bytes_transferred?: string; error?: string }): Promise<'ok' | 'gone' | 'error'> {
  try {
    await ctx.witness.instructionStatus(instructionId, body);
    return 'ok';
  } catch (err) {
    if (err instanceof WitnessRefusal && (err.status === 404 || err.status === 409)) {
      ctx.log.info(`instruction ${instructionId} is no longer current at the witness (${err.detail}); not reporting '${body.status}'`);
      return 'gone';
    }
    ctx.log.warn(`could not report '${body.status}' for instruction ${instructionId}: ${(err as Error).message}`);
    return 'error';
  }
}
