import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { http, spawnApi, spawnService, startChaosEnv, type ChaosEnv } from '@zfs-sync/testkit/chaos';
import { repoRoot } from './tools.js';

const run = promisify(execFile);
let env: ChaosEnv;
test.before(async () => {
  env = await startChaosEnv();
});
test.after.always(async () => {
  await env?.teardown();
});

/** Everything a process wrote: its JSON log lines and anything else. */
const output = (p: { lines: unknown[]; raw: string[] }) => [...p.raw, ...p.lines.map((l) => JSON.stringify(l))].join('\n');

test.serial('row 17: a generated admin token is never printed or logged — written once to a file only the service user can read, its path printed; a documented command rotates it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zfs-sync-admin-token-'));
  const file = join(dir, 'state', 'admin-token');
  const base = env.env({ ZFS_SYNC_ADMIN_TOKEN_FILE: file });
  delete base.ZFS_SYNC_ADMIN_TOKEN;
  const api = await spawnApi(base);
  let token: string;
  try {
    token = readFileSync(file, 'utf8').trim();
    t.regex(token, /^zs_admin_[A-Za-z0-9_-]{43}$/);
    t.is(statSync(file).mode & 0o777, 0o600, 'readable by the service user only');
    t.false(output(api).includes(token), 'the token is in no output');
    t.true(output(api).includes(file), 'the path is printed');
    t.is((await http(api.baseUrl, 'GET', '/systems', { key: token })).status, 200, 'the token works');
  } finally {
    api.kill('SIGTERM');
    await api.exited;
  }
  // A later start reads the stored hash: the file is not written again.
  writeFileSync(file, 'untouched\n', { mode: 0o600 });
  const again = await spawnApi(base);
  t.is(readFileSync(file, 'utf8'), 'untouched\n');
  again.kill('SIGTERM');
  await again.exited;

  // Rotation: a new token in the file (path printed, token not), the old one refused.
  const rotated = await run(process.execPath, ['--import', 'tsx', 'services/ingest-api/src/auth/rotate-admin-token.cli.ts'], { cwd: repoRoot, env: { PATH: process.env.PATH, ...base } });
  const fresh = readFileSync(file, 'utf8').trim();
  t.not(fresh, token);
  t.regex(fresh, /^zs_admin_/);
  t.false(rotated.stdout.includes(fresh) || rotated.stderr.includes(fresh), 'the rotate command does not print the token');
  t.true(rotated.stdout.includes(file) || rotated.stderr.includes(file));
  t.is(statSync(file).mode & 0o777, 0o600);
  const after = await spawnApi(base);
  try {
    t.is((await http(after.baseUrl, 'GET', '/systems', { key: token })).status, 401, 'the old token is refused');
    t.is((await http(after.baseUrl, 'GET', '/systems', { key: fresh })).status, 200, 'the new one works');
    t.false(output(after).includes(fresh));
  } finally {
    after.kill('SIGTERM');
    await after.exited;
  }
});

test.serial('row 17: a configured admin token shorter than 32 characters — the process refuses to start and says why', async (t) => {
  const p = spawnService('api', env.env({ ZFS_SYNC_ADMIN_TOKEN: 'zs_admin_short', PORT: '0' }));
  const exit = await p.exited;
  t.not(exit.code, 0);
  t.regex(output(p), /admin_token.*32/);
  t.false(output(p).includes('zs_admin_short'), 'not even the refused token is printed');
});

test.serial('row 17: an unhandled rejection or uncaught exception is logged and ends the process non-zero', async (t) => {
  for (const fault of ['Promise.reject(new Error("boom-rejection"))', 'setTimeout(() => { throw new Error("boom-exception"); }, 0)']) {
    const script = `import { installCrashHandlers } from '@zfs-sync/runtime'; import { createLogger } from '@zfs-sync/logger';
      installCrashHandlers(createLogger('crash-test', { logLevel: 'info', logFormat: 'json' })); ${fault}; setTimeout(() => {}, 5000);`;
    const err = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: join(repoRoot, 'services/workers') }).then(
      () => null,
      (e: { code: number; stdout: string }) => e,
    );
    t.truthy(err, `${fault}: the process ended with an error`);
    t.is(err!.code, 70);
    t.regex(err!.stdout, /"level":60.*boom-/);
  }
});
