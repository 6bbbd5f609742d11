import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { planSteps, type PlanCommandFields } from '@zfs-sync/domain';
import { simFleetPerFile, type SimHost } from '@zfs-sync/testkit';
import { loadAgentConfig, type AgentConfig } from './config.js';
import { runStep } from './executor.js';

let n = 0;
const fleet = simFleetPerFile(test);

function configFor(host: SimHost, extra: Record<string, string> = {}): AgentConfig {
  const file = join(mkdtempSync(join(tmpdir(), 'agent-exec-')), 'agent.yaml');
  writeFileSync(file, '');
  return loadAgentConfig({ file, env: { ZFS_SYNC_AGENT_WITNESS_URL: 'http://witness.invalid', ZFS_SYNC_AGENT_ZFS_PATH: host.zfsPath, ZFS_SYNC_AGENT_SSH_PATH: host.sshPath, ...extra } });
}

async function pair() {
  const id = ++n;
  const src = fleet().addHost(`xsrc${id}`, { pools: { tank: 10 } });
  const dst = fleet().addHost(`xdst${id}`, { pools: { backup: 10 }, sshPort: 2200 });
  await src.zfsOk('create', 'tank/data');
  await src.snapshot('tank/data@a', 1000);
  await src.snapshot('tank/data@b', 300 * 1024);
  const fields: PlanCommandFields = {
    transferMode: 'push',
    sourceSystemId: 'src',
    targetSystemId: 'dst',
    pool: 'tank',
    dataset: 'data',
    targetPool: 'backup',
    targetDataset: 'data',
    startingSnapshot: null,
    startingKind: null,
    initialSnapshot: null,
    endingSnapshot: 'a',
    resumeToken: null,
    sourceSshHostname: src.hostname,
    sourceSshUser: null,
    sourceSshPort: 22,
    targetSshHostname: dst.hostname,
    targetSshUser: null,
    targetSshPort: 2200,
    sendOptions: { compressed: false, raw: false },
    receiveOptions: { resumable: true, unmounted: false },
    remedy: null,
  };
  const [seed] = planSteps(fields);
  const ok = await runStep(seed!, { config: configFor(src) });
  if (!ok.ok) throw new Error(ok.error!);
  return { src, dst, incremental: planSteps({ ...fields, startingSnapshot: 'a', startingKind: 'snapshot', endingSnapshot: 'b' })[0]! };
}

test('a pipeline runs without a shell; the agent counts the bytes between its stages', async (t) => {
  const { src, dst, incremental } = await pair();
  let reported = 0;
  const r = await runStep(incremental, { config: configFor(src), onBytes: (b) => (reported = b) });
  t.true(r.ok, r.error ?? '');
  t.true(r.bytes >= 300 * 1024, `${r.bytes} bytes`);
  t.is(reported, r.bytes);
  t.deepEqual(dst.snapshots('backup/data').map((s) => s.guid), src.snapshots('tank/data').map((s) => s.guid));
});

test('a bandwidth limit paces the stream', async (t) => {
  const { src, incremental } = await pair();
  const started = Date.now();
  const r = await runStep(incremental, { config: configFor(src, { ZFS_SYNC_AGENT_BANDWIDTH_LIMIT: '512K' }) });
  t.true(r.ok, r.error ?? '');
  const seconds = (Date.now() - started) / 1000;
  t.true(seconds >= (r.bytes / (512 * 1024)) * 0.9, `${r.bytes} bytes in ${seconds}s`);
});

test('a failure names each stage that failed with the tail of what it said', async (t) => {
  const { src, dst, incremental } = await pair();
  dst.write('backup/data', 10);
  const r = await runStep(incremental, { config: configFor(src) });
  t.false(r.ok);
  t.regex(r.error!, /ssh xdst\d+ exited 1: cannot receive incremental stream: destination backup\/data has been modified \/ since most recent snapshot/);
});

test('only zfs and ssh are ever started', async (t) => {
  const { src } = await pair();
  await t.throwsAsync(runStep([['rm', '-rf', '/tmp/nothing']], { config: configFor(src) }), { message: /only zfs and ssh are run/ });
});
