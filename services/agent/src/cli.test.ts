import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { SimFleet, run } from '@zfs-sync/testkit';
import { EXIT } from './exit-codes.js';
import { agentBundle } from './testing/agent-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'agent-cli-'));
const agent = async (args: string[], env: Record<string, string> = {}) => run(process.execPath, [await agentBundle(), ...args], { env: { PATH: process.env.PATH ?? '', ...env } });

test('usage, help and version', async (t) => {
  const none = await agent([]);
  t.is(none.code, EXIT.USAGE);
  t.regex(none.stdout, /^zfs-sync-agent \d+\.\d+\.\d+ — /);
  t.is((await agent(['--help'])).code, 0);
  t.regex((await agent(['version'])).stdout, /^zfs-sync-agent \d+\.\d+\.\d+\n$/);
  const unknown = await agent(['teleport']);
  t.is(unknown.code, EXIT.USAGE);
  t.regex(unknown.stderr, /ERROR unknown command "teleport" — see zfs-sync-agent --help/);
  const flag = await agent(['sync', '--sideways']);
  t.is(flag.code, EXIT.USAGE);
  t.regex(flag.stderr, /Unknown option '--sideways'/);
});

test('configuration and credential problems exit 78 with what to do', async (t) => {
  const missing = await agent(['report', '--config', join(dir, 'nope.yaml')]);
  t.is(missing.code, EXIT.CONFIG);
  t.regex(missing.stderr, /config: file .*nope\.yaml does not exist/);
  writeFileSync(join(dir, 'a.yaml'), `witness_url: http://127.0.0.1:9\nstate_dir: ${join(dir, 'state')}\n`);
  const noCreds = await agent(['report', '--config', join(dir, 'a.yaml')]);
  t.is(noCreds.code, EXIT.CONFIG);
  t.regex(noCreds.stderr, /no credentials: .*credentials\.json does not exist .* — register the host once with an enrollment token/);
});

test('daemon: backs off while the witness is unreachable and stops cleanly on SIGTERM', async (t) => {
  const fleet = await SimFleet.create();
  const host = fleet.addHost('lonely', { pools: { tank: 10 } });
  writeFileSync(
    join(dir, 'd.yaml'),
    [`witness_url: http://127.0.0.1:9`, `state_dir: ${join(dir, 'dstate')}`, `zfs_path: ${host.zfsPath}`, 'system_id: 11111111-1111-4111-8111-111111111111', 'api_key: zs_host_unused-0000000000000000', 'http_retries: 0', 'log_format: json'].join('\n'),
  );
  const child = spawn(process.execPath, [await agentBundle(), '--config', join(dir, 'd.yaml'), 'daemon', '--interval', '10s'], { env: host.env(), stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const waitFor = async (re: RegExp) => {
    const end = Date.now() + 30_000;
    while (!re.test(err) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    return re.test(err);
  };
  t.true(await waitFor(/the witness is unreachable \(1 run\(s\) in a row\); next try in (2\d|3\d)s/), err);
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => child.on('close', r));
  t.is(code, 0, err);
  t.regex(err, /daemon stopped/);
  await fleet.cleanup();
});
