import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { simFleetPerFile, type SimHost } from '@zfs-sync/testkit';
import { loadAgentConfig, type AgentConfig } from './config.js';
import { AgentError, EXIT } from './exit-codes.js';
import { keepAsCache, listInventory, type Listing } from './inventory.js';
import { createLogger } from './log.js';

let n = 0;
const log = createLogger({ level: 'error', format: 'json' });
const fleet = simFleetPerFile(test);

function configFor(zfsPath: string, extra: Record<string, string> = {}): AgentConfig {
  const dir = mkdtempSync(join(tmpdir(), 'agent-inv-'));
  writeFileSync(join(dir, 'agent.yaml'), '');
  return loadAgentConfig({ file: join(dir, 'agent.yaml'), env: { ZFS_SYNC_AGENT_WITNESS_URL: 'http://witness.invalid', ZFS_SYNC_AGENT_ZFS_PATH: zfsPath, ZFS_SYNC_AGENT_STATE_DIR: join(dir, 'state'), ...extra } });
}

async function host(): Promise<SimHost> {
  const h = fleet().addHost(`inv${++n}`, { pools: { tank: 10 } });
  for (const ds of ['tank/a', 'tank/b', 'tank/skip']) {
    await h.zfsOk('create', ds);
    await h.snapshot(`${ds}@1`);
  }
  await h.zfsOk('bookmark', 'tank/a@1', 'tank/a#1');
  return h;
}

const lines = (l: Listing) => readFileSync(l.spool, 'utf8').split('\n').filter(Boolean).sort();

test('a full listing checks every line into the spool; excluded datasets are left out', async (t) => {
  const h = await host();
  const config = configFor(h.zfsPath, { ZFS_SYNC_AGENT_DATASETS_EXCLUDE: 'skip' });
  const l = await listInventory(config, log);
  t.like(l, { mode: 'full', lines: 3, supportsChanged: true });
  t.deepEqual(l.datasets.map((d) => d.name), ['tank', 'tank/a', 'tank/b']);
  t.deepEqual(lines(l).map((x) => x.split('\t')[0]), ['tank/a#1', 'tank/a@1', 'tank/b@1']);
});

test('snapshots_changed: unchanged datasets come from the cache, changed ones are listed again', async (t) => {
  const h = await host();
  const config = configFor(h.zfsPath);
  const first = await listInventory(config, log);
  const firstLines = lines(first);
  keepAsCache(config, first);
  const again = await listInventory(config, log);
  t.is(again.mode, 'cached');
  t.deepEqual(lines(again), firstLines, 'the same inventory without listing it again');
  keepAsCache(config, again);
  await h.snapshot('tank/b@2');
  await h.zfsOk('destroy', 'tank/a@1');
  const changed = await listInventory(config, log);
  t.is(changed.mode, 'cached');
  t.deepEqual(lines(changed).map((x) => x.split('\t')[0]), ['tank/a#1', 'tank/b@1', 'tank/b@2', 'tank/skip@1']);
});

test('without snapshots_changed (OpenZFS < 2.2) every listing is full', async (t) => {
  const h = await host();
  h.settings({ snapshotsChanged: false });
  const config = configFor(h.zfsPath);
  const first = await listInventory(config, log);
  t.like(first, { mode: 'full', supportsChanged: false });
  keepAsCache(config, first);
  t.is((await listInventory(config, log)).mode, 'full');
});

test('a receive resume token is reported with its dataset; only the named datasets in a partial listing', async (t) => {
  const h = await host();
  const dst = fleet().addHost(`inv-dst${n}`, { pools: { backup: 10 } });
  await h.snapshot('tank/a@big', 400_000);
  fleet().cutNextConnection(dst.hostname, 50_000);
  const { run } = await import('@zfs-sync/testkit');
  await run('/bin/sh', ['-c', `zfs send tank/a@big | ssh ${dst.hostname} 'zfs receive -s backup/a'`], { env: h.env() });
  const l = await listInventory(configFor(dst.zfsPath), log, new Set(['backup/a']));
  t.is(l.mode, 'partial');
  t.deepEqual(l.datasets.map((d) => d.name), ['backup/a']);
  t.regex(l.datasets[0]!.token ?? '', /^1-[0-9a-f]+-[0-9a-f]+-[0-9a-f]+$/);
});

test('zfs output the agent cannot read stops the report (nothing partial is sent); a missing zfs says so', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'agent-badzfs-'));
  const fake = join(dir, 'zfs');
  writeFileSync(fake, `#!/bin/sh\nif [ "$5" = filesystem,volume ]; then printf 'tank\\t-\\t-\\n'; else printf 'tank@a\\tnot-a-guid\\t1\\t1700000000\\t0\\t0\\n'; fi\n`);
  chmodSync(fake, 0o755);
  const bad = await t.throwsAsync(listInventory(configFor(fake), log), { instanceOf: AgentError });
  t.is(bad!.exitCode, EXIT.DATA);
  t.regex(bad!.message, /zfs list printed a line the agent cannot read: line 1, column guid/);
  const missing = await t.throwsAsync(listInventory(configFor(join(dir, 'no-such-zfs')), log), { instanceOf: AgentError });
  t.is(missing!.exitCode, EXIT.OS);
  t.regex(missing!.message, /cannot run .*no-such-zfs: not found/);
});
