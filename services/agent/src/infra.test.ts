/** The files in infra/agent/ stay true to the agent: the example config, the install script, the units. */
import { existsSync, mkdtempSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { run } from '@zfs-sync/testkit';
import { AGENT_KEYS, loadAgentConfig } from './config.js';
import { agentBundle } from './testing/agent-harness.js';

const infra = new URL('../../../infra/agent/', import.meta.url).pathname;

test('the example config documents every key and loads as is', (t) => {
  const text = readFileSync(join(infra, 'agent.yaml.example'), 'utf8');
  for (const spec of AGENT_KEYS) {
    const key = spec.key.startsWith('datasets_') ? spec.key.replace('datasets_', '') : spec.key;
    t.regex(text, new RegExp(`^#? ?\\s*${key}:`, 'm'), `${spec.key} is documented`);
  }
  const c = loadAgentConfig({ file: join(infra, 'agent.yaml.example'), env: {} });
  t.like(c, { witnessUrl: 'https://witness.example.com/api/v1', maxParallelTransfers: 2, reportChunkSize: 5000 });
});

test('install.sh puts the bundle, the command, a 0600 config and the systemd units in place', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'agent-install-'));
  mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
  const r = await run('/bin/sh', [join(infra, 'install.sh'), await agentBundle()], { env: { PATH: process.env.PATH ?? '', DESTDIR: root, PREFIX: '/usr/local', CONFDIR: '/etc/zfs-sync' } });
  t.is(r.code, 0, r.stderr);
  t.true(existsSync(join(root, 'usr/local/lib/zfs-sync-agent/zfs-sync-agent.mjs')));
  t.is(statSync(join(root, 'etc/zfs-sync/agent.yaml')).mode & 0o777, 0o600);
  const wrapper = readFileSync(join(root, 'usr/local/bin/zfs-sync-agent'), 'utf8');
  t.regex(wrapper, /exec \S*node \/usr\/local\/lib\/zfs-sync-agent\/zfs-sync-agent\.mjs "\$@"/);
  const unit = readFileSync(join(root, 'etc/systemd/system/zfs-sync-agent.service'), 'utf8');
  t.regex(unit, /^ExecStart=\S*node \/usr\/local\/lib\/zfs-sync-agent\/zfs-sync-agent\.mjs --config \/etc\/zfs-sync\/agent\.yaml run$/m);
  t.true(existsSync(join(root, 'etc/systemd/system/zfs-sync-agent.timer')));
  // The installed command runs the bundle.
  const version = await run(process.execPath, [join(root, 'usr/local/lib/zfs-sync-agent/zfs-sync-agent.mjs'), 'version']);
  t.regex(version.stdout, /^zfs-sync-agent \d+\.\d+\.\d+/);
});
