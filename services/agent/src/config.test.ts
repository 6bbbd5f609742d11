import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { loadAgentConfig, parseSize } from './config.js';
import { AgentError, EXIT } from './exit-codes.js';

const dir = mkdtempSync(join(tmpdir(), 'agent-config-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const env = (vars: Record<string, string> = {}) => ({ ZFS_SYNC_AGENT_WITNESS_URL: 'https://witness.example:8000', ...vars });

test('defaults: only the witness is needed; its URL gets /api/v1', (t) => {
  const c = loadAgentConfig({ file: file('empty.yaml', ''), env: env() });
  t.is(c.witnessUrl, 'https://witness.example:8000/api/v1');
  t.like(c, { zfsPath: 'zfs', sshPath: 'ssh', maxParallelTransfers: 2, bandwidthLimit: null, stateDir: '/var/lib/zfs-sync-agent', credentialsFile: '/var/lib/zfs-sync-agent/credentials.json', allowRemedies: true, sshPort: 22, reportChunkSize: 5000 });
  t.deepEqual(c.datasets, { include: [], exclude: [] });
  t.deepEqual(c.sshOptions, ['-o', 'BatchMode=yes']);
  t.is(loadAgentConfig({ file: file('e2.yaml', ''), env: env({ ZFS_SYNC_AGENT_WITNESS_URL: 'http://w/api/v1/' }) }).witnessUrl, 'http://w/api/v1');
});

test('the YAML file, then the environment; datasets as {include, exclude}', (t) => {
  const f = file('agent.yaml', ['witness_url: http://file.example', 'max_parallel_transfers: 4', 'datasets:', '  include: [home, "vm/**"]', '  exclude: [scratch]', 'bandwidth_limit: 50M', 'ssh_options: ["-i", "/root/.ssh/zfs-sync"]'].join('\n'));
  const c = loadAgentConfig({ file: f, env: { ZFS_SYNC_AGENT_MAX_PARALLEL_TRANSFERS: '6' } });
  t.is(c.configFile, f);
  t.is(c.witnessUrl, 'http://file.example/api/v1');
  t.is(c.maxParallelTransfers, 6, 'the environment wins over the file');
  t.deepEqual(c.datasets, { include: ['home', 'vm/**'], exclude: ['scratch'] });
  t.is(c.bandwidthLimit, 50 * 1024 * 1024);
  t.deepEqual(c.sshOptions, ['-i', '/root/.ssh/zfs-sync']);
  const fromEnv = loadAgentConfig({ file: f, env: { ZFS_SYNC_AGENT_DATASETS_EXCLUDE: 'a, b/**' } });
  t.deepEqual(fromEnv.datasets.exclude, ['a', 'b/**']);
});

test('a bad value stops the agent with one line naming the key, its source and the rule (exit 78)', (t) => {
  const cases: Array<[() => unknown, RegExp]> = [
    [() => loadAgentConfig({ file: file('x1.yaml', ''), env: env({ ZFS_SYNC_AGENT_SSH_PORT: '70000' }) }), /^config: ssh_port \(from env ZFS_SYNC_AGENT_SSH_PORT\) must be at most 65535$/],
    [() => loadAgentConfig({ file: file('x2.yaml', 'bandwidth_limit: fast'), env: env() }), /bandwidth_limit \(from .*x2\.yaml\) must be a size such as 50M/],
    [() => loadAgentConfig({ file: file('x3.yaml', 'colour: blue'), env: env() }), /colour \(from .*x3\.yaml\) is not a known key/],
    [() => loadAgentConfig({ file: file('x4.yaml', 'datasets: {include: ["a/***/b"]}'), env: env() }), /datasets_include/],
    [() => loadAgentConfig({ file: file('x5.yaml', 'ssh_user: "a;b"'), env: env() }), /ssh_user .* must be a POSIX user name/],
    [() => loadAgentConfig({ file: file('x6.yaml', 'system_id: 11111111-1111-4111-8111-111111111111'), env: env() }), /system_id and api_key go together/],
    [() => loadAgentConfig({ file: file('x7.yaml', 'log_level: loud'), env: env() }), /log_level .* must be one of error, warn, info, debug/],
    [() => loadAgentConfig({ file: file('x8.yaml', 'witness_url: [x'), env: {} }), /is not valid YAML/],
    [() => loadAgentConfig({ file: join(dir, 'missing.yaml'), env: env() }), /file .*missing\.yaml does not exist/],
    [() => loadAgentConfig({ file: file('x9.yaml', ''), env: {} }), /witness_url is required/],
    [() => loadAgentConfig({ file: file('x10.yaml', 'witness_url: ftp://x'), env: {} }), /witness_url .* must be an http:\/\/ or https:\/\/ URL/],
  ];
  for (const [load, message] of cases) {
    const err = t.throws(load, { instanceOf: AgentError });
    t.regex(err!.message, message);
    t.is(err!.exitCode, EXIT.CONFIG);
  }
});

test('sizes: 50M, 1.5G, 800k, plain bytes', (t) => {
  t.is(parseSize('50M'), 52_428_800);
  t.is(parseSize('1.5G'), 1_610_612_736);
  t.is(parseSize('800k'), 819_200);
  t.is(parseSize('800KiB/s'), 819_200);
  t.is(parseSize('1048576'), 1_048_576);
  t.is(parseSize('0'), null);
  t.is(parseSize('lots'), null);
});
