import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
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
