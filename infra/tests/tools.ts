import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const repoPath = (p: string) => new URL(`../../${p}`, import.meta.url);

/**
 * A command-line tool a check needs. In CI (CI=true) a missing tool is an error: the repository's
 * own infra/scripts/tools.sh installs it, so its absence means that step is broken. Elsewhere the
 * check is skipped with a loud message saying how to get the tool.
 */
export function tool(name: string, install: string): { available: boolean; why: string } {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).status === 0;
  if (found) return { available: true, why: '' };
  const why = `${name} is not installed (${install}; or run infra/scripts/tools.sh)`;
  if (process.env.CI) throw new Error(`CI: ${why}`);
  process.stderr.write(`\n*** SKIPPING checks that need ${name}: ${why} ***\n\n`);
  return { available: false, why };
}

export function run(cmd: string, args: string[], opts: { cwd?: string; input?: string } = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd: opts.cwd ?? repoRoot, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...(opts.input !== undefined ? { input: opts.input } : {}) });
}

export interface StartedProcess {
  pid: number;
  /** The first match of `ready` in what the process printed. */
  match: RegExpMatchArray;
  output: () => string;
  /** SIGTERM; resolves with the exit code. */
  stop: () => Promise<number | null>;
}

/**
 * `node --enable-source-maps <entry>` (niced) with only the given environment — no
 * npm_package_version, no dev tools: what `docker run` or a service manager gives it. Resolves once
 * its output (stdout and stderr) matches `ready`; rejects if it exits first or is not ready in 60 s.
 */
export function startNodeProcess(entry: string, opts: { cwd: string; env: Record<string, string>; ready: RegExp }): Promise<StartedProcess> {
  const child = spawn('nice', ['-n', '10', process.execPath, '--enable-source-maps', entry], {
    cwd: opts.cwd,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${entry} not ready within 60 s:\n${text}`)), 60_000);
    const onData = (b: Buffer) => {
      text += b.toString();
      const match = text.match(opts.ready);
      if (match) {
        clearTimeout(timer);
        resolve({ pid: child.pid!, match, output: () => text, stop: async () => (child.kill('SIGTERM'), exited) });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${entry} exited (${code}) before it was ready:\n${text}`));
    });
  });
}

/** One request on its own connection (no keep-alive socket left open for a shutdown to wait on). */
export function fetchOnce(url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    httpGet(url, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    }).on('error', reject);
  });
}
