/** Running `zfs` (read-only listings) with its output streamed line by line. */
import { spawn } from 'node:child_process';
import { AgentError, EXIT } from './exit-codes.js';
import { readLines } from './lines.js';

/** `zfs …` exited non-zero; `stderr` holds what it said. */
export class ZfsCommandError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly code: number,
    readonly stderr: string,
  ) {
    super(`zfs ${args.join(' ')} exited ${code}: ${stderr.trim().split('\n').slice(-3).join(' / ')}`);
    this.name = 'ZfsCommandError';
  }
}

/** Keep the last `max` characters of a growing text (a tail for error messages). */
export class TextTail {
  #text = '';
  constructor(private readonly max = 4000) {}
  push(chunk: string | Buffer): void {
    this.#text = (this.#text + chunk.toString()).slice(-this.max);
  }
  get text(): string {
    return this.#text;
  }
}

/**
 * Run `zfs args…` and hand each stdout line to `onLine` as it arrives (never holding the whole
 * output). Throws ZfsCommandError on a non-zero exit, AgentError when zfs cannot be started.
 */
export async function zfsLines(zfsPath: string, args: readonly string[], onLine: (line: string, lineNo: number) => void | Promise<void>): Promise<void> {
  const child = spawn(zfsPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr = new TextTail();
  child.stderr.on('data', (c: Buffer) => stderr.push(c));
  const spawned = new Promise<never>((_, reject) =>
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(new AgentError(`cannot run ${zfsPath}: ${err.code === 'ENOENT' ? 'not found' : err.message}`, EXIT.OS, 'install ZFS or set zfs_path in the agent config')),
    ),
  );
  spawned.catch(() => {});
  const exited = new Promise<number>((resolve) => child.once('close', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
  let n = 0;
  try {
    await Promise.race([
      (async () => {
        for await (const line of readLines(child.stdout)) await onLine(line, ++n);
      })(),
      spawned,
    ]);
  } catch (err) {
    child.kill('SIGTERM');
    throw err;
  }
  const code = await Promise.race([exited, spawned]);
  if (code !== 0) throw new ZfsCommandError(args, code, stderr.text);
}
