/**
 * Runs one step of a verified plan: its stages as processes joined by pipes the agent holds in
 * between, never through a local shell. The agent's pipe counts the bytes (progress) and, when a
 * bandwidth limit is set, paces them. Only `zfs` and `ssh` can be run, from the configured paths;
 * local ssh options are added to every ssh, the remote command line stays exactly the plan's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Transform, type TransformCallback } from 'node:stream';
import type { PlanStep } from '@zfs-sync/domain';
import type { AgentConfig } from './config.js';
import { TextTail } from './zfs-process.js';

export interface StepResult {
  ok: boolean;
  /** What went wrong, from the exit codes and the stderr tails (null when ok). */
  error: string | null;
  bytes: number;
}

/** Counts what flows through and, with a limit, holds it back to `bytesPerSecond`. */
class Meter extends Transform {
  bytes = 0;
  readonly #started = Date.now();
  constructor(
    private readonly bytesPerSecond: number | null,
    private readonly onBytes: (total: number) => void,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    this.onBytes(this.bytes);
    if (!this.bytesPerSecond) return done(null, chunk);
    const wait = this.#started + (this.bytes / this.bytesPerSecond) * 1000 - Date.now();
    if (wait > 0) setTimeout(() => done(null, chunk), wait);
    else done(null, chunk);
  }
}

function programFor(argv: string[], config: AgentConfig): { command: string; args: string[] } {
  const [name, ...rest] = argv;
  if (name === 'zfs') return { command: config.zfsPath, args: rest };
  if (name === 'ssh') return { command: config.sshPath, args: [...config.sshOptions, ...rest] };
  // planSteps only ever builds zfs and ssh stages; anything else is a bug worth stopping for.
  throw new Error(`refusing to run ${JSON.stringify(name)}: only zfs and ssh are run`);
}

/** `zfs send`, `ssh dst`: a short name of a stage for messages. */
function stageName(argv: string[]): string {
  if (argv[0] === 'ssh') return `ssh ${argv.filter((a) => !a.startsWith('-') && !/^\d+$/.test(a))[1] ?? ''}`.trim();
  return `${argv[0]} ${argv[1] ?? ''}`.trim();
}

export async function runStep(step: PlanStep, opts: { config: AgentConfig; onBytes?: (total: number) => void; signal?: AbortSignal }): Promise<StepResult> {
  const { config } = opts;
  const children: ChildProcess[] = [];
  const tails: TextTail[] = [];
  const meters: Meter[] = [];
  const spawnErrors: string[] = [];
  for (let i = 0; i < step.length; i++) {
    const { command, args } = programFor(step[i]!, config);
    const child = spawn(command, args, { stdio: [i === 0 ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const tail = new TextTail(2000);
    child.stderr!.on('data', (c: Buffer) => tail.push(c));
    child.on('error', (err: NodeJS.ErrnoException) => spawnErrors.push(`cannot run ${command}: ${err.code === 'ENOENT' ? 'not found' : err.message}`));
    children.push(child);
    tails.push(tail);
  }
  for (let i = 0; i + 1 < children.length; i++) {
    const from = children[i]!.stdout!;
    const to = children[i + 1]!.stdin!;
    // Only the first pipe carries the stream being transferred: count and pace it there.
    const meter = new Meter(i === 0 ? config.bandwidthLimit : null, i === 0 ? opts.onBytes ?? (() => {}) : () => {});
    meters.push(meter);
    from.pipe(meter).pipe(to);
    // The reader went away (it failed): stop feeding it, so the writer gets its broken pipe.
    to.on('error', () => {
      meter.unpipe(to);
      from.unpipe(meter);
      from.destroy();
    });
    from.on('error', () => {});
  }
  // The last stage's output (e.g. `zfs receive -v`) is drained and kept for the error message.
  const lastOut = new TextTail(1000);
  children.at(-1)!.stdout!.on('data', (c: Buffer) => lastOut.push(c));

  const abort = () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  };
  opts.signal?.addEventListener('abort', abort, { once: true });
  const codes = await Promise.all(
    children.map((c) => new Promise<number>((resolve) => c.once('close', (code, signal) => resolve(code ?? (signal === 'SIGTERM' ? 143 : 128))))),
  );
  opts.signal?.removeEventListener('abort', abort);
  const bytes = meters[0]?.bytes ?? 0;
  if (spawnErrors.length === 0 && codes.every((c) => c === 0)) return { ok: true, error: null, bytes };

  const parts = step.map((argv, i) => {
    if (codes[i] === 0) return null;
    const said = tails[i]!.text.trim().split('\n').slice(-6).join(' / ');
    return `${stageName(argv)} exited ${codes[i]}${said ? `: ${said}` : ''}`;
  });
  const error = [...spawnErrors, ...parts.filter((p): p is string => p !== null), ...(opts.signal?.aborted ? ['stopped: the agent is shutting down'] : [])].join('; ');
  return { ok: false, error: error.slice(-3900), bytes };
}
