/**
 * The simulator checked against the ZFS rules the witness depends on
 * (../shared/notes/zfs.md): identity and order, divergence and receive refusals, bookmarks,
 * holds, resumable receives, listing format, and ssh between hosts.
 */
import test from 'ava';
import { run, simFleetPerFile, type SimHost } from './fleet.js';

let n = 0;
const fleet = simFleetPerFile(test);

/** A fresh source and target pair (different pools and txg bases, as on real hosts). */
function pair(opts: { targetPort?: number; targetUsers?: string[] } = {}): { src: SimHost; dst: SimHost; id: number } {
  const id = ++n;
  const src = fleet().addHost(`src${id}`, { pools: { tank: 1000 } });
  const dst = fleet().addHost(`dst${id}`, { pools: { backup: 7 }, sshPort: opts.targetPort ?? 22, sshUsers: opts.targetUsers ?? null });
  return { src, dst, id };
}

/** Run a pipeline with a POSIX shell on `host` (its zfs and ssh first on PATH). */
const sh = (host: SimHost, line: string) => run('/bin/sh', ['-c', line], { env: host.env() });

async function seeded(snaps: string[], opts: { to?: number } = {}) {
  const p = pair();
  await p.src.zfsOk('create', 'tank/data');
  for (const s of snaps) await p.src.snapshot(`tank/data@${s}`);
  const to = opts.to ?? snaps.length;
  if (to > 0) {
    const r = await sh(p.src, `zfs send tank/data@${snaps[0]} | ssh dst${p.id} 'zfs receive -s backup/data'`);
    if (r.code !== 0) throw new Error(r.stderr);
    if (to > 1) {
      const r2 = await sh(p.src, `zfs send -I tank/data@${snaps[0]} tank/data@${snaps[to - 1]} | ssh dst${p.id} 'zfs receive -s backup/data'`);
      if (r2.code !== 0) throw new Error(r2.stderr);
    }
  }
  return p;
}

const LIST = ['list', '-Hp', '-t', 'snapshot,bookmark', '-o', 'name,guid,createtxg,creation,used,referenced', '-s', 'createtxg'];

test('zfs list -Hp: one tab-separated line per snapshot and bookmark, exact integers, - for bookmark space', async (t) => {
  const { src } = pair();
  await src.zfsOk('create', 'tank/my data');
  await src.snapshot('tank/my data@daily 1');
  await src.snapshot('tank/my data@daily 2');
  await src.zfsOk('bookmark', 'tank/my data@daily 1', 'tank/my data#daily 1');
  const lines = (await src.zfsOk(...LIST)).split('\n').filter(Boolean);
  t.is(lines.length, 3);
  const rows = lines.map((l) => l.split('\t'));
  for (const r of rows) t.is(r.length, 6);
  t.deepEqual(rows.map((r) => r[0]), ['tank/my data@daily 1', 'tank/my data#daily 1', 'tank/my data@daily 2']);
  for (const r of rows) {
    t.regex(r[1]!, /^[1-9][0-9]{0,19}$/, 'guid is an unsigned decimal');
    t.true(BigInt(r[1]!) <= 18446744073709551615n);
    t.regex(r[2]!, /^\d+$/);
    t.regex(r[3]!, /^\d{9,}$/, 'creation in Unix seconds');
  }
  t.deepEqual(rows[1]!.slice(4), ['-', '-'], 'bookmarks have no space columns');
  t.is(rows[1]![1], rows[0]![1], 'a bookmark keeps its snapshot\'s guid');
  t.is(rows[1]![2], rows[0]![2], 'and its createtxg');
  t.true(BigInt(rows[2]![2]!) > BigInt(rows[0]![2]!), 'createtxg grows within the pool');
  // Without -H: a header and aligned columns; without -p: sizes for people.
  const human = await src.zfsOk('list', '-t', 'snapshot', '-o', 'name,used', 'tank/my data');
  t.regex(human, /^NAME\s+USED\n/);
});

test('guids are random 64-bit values; a receive keeps guid and creation and stamps its own createtxg', async (t) => {
  const { src, dst } = await seeded(['a', 'b', 'c']);
  const s = src.snapshots('tank/data');
  const d = dst.snapshots('backup/data');
  t.deepEqual(d.map((x) => [x.name, x.guid, x.creation]), s.map((x) => [x.name, x.guid, x.creation]));
  t.true(s.some((x) => BigInt(x.guid) > 2n ** 53n), 'guids use all 64 bits (most exceed 2^53)');
  t.notDeepEqual(d.map((x) => x.createtxg), s.map((x) => x.createtxg), 'createtxg is the receiver\'s own');
  t.true(d.every((x, i) => i === 0 || BigInt(x.createtxg) > BigInt(d[i - 1]!.createtxg)));
  t.not(dst.dataset('backup/data')!.guid, src.dataset('tank/data')!.guid, 'a dataset guid is not preserved');
});

test('an incremental receive needs the target\'s newest snapshot to be the base', async (t) => {
  const { src, id } = await seeded(['a', 'b', 'c'], { to: 2 });
  const r = await sh(src, `zfs send -I tank/data@a tank/data@c | ssh dst${id} 'zfs receive -s backup/data'`);
  t.is(r.code, 1);
  t.regex(r.stderr, /cannot receive incremental stream: most recent snapshot of backup\/data does not\nmatch incremental source/);
  const ok = await sh(src, `zfs send -I tank/data@b tank/data@c | ssh dst${id} 'zfs receive -s backup/data'`);
  t.is(ok.code, 0, ok.stderr);
});

test('a destination modified since its most recent snapshot refuses an incremental; -F rolls it back', async (t) => {
  const { src, dst, id } = await seeded(['a', 'b'], { to: 1 });
  dst.write('backup/data', 100);
  const r = await sh(src, `zfs send -i tank/data@a tank/data@b | ssh dst${id} 'zfs receive backup/data'`);
  t.is(r.code, 1);
  t.regex(r.stderr, /destination backup\/data has been modified\nsince most recent snapshot/);
  const forced = await sh(src, `zfs send -i tank/data@a tank/data@b | ssh dst${id} 'zfs receive -F backup/data'`);
  t.is(forced.code, 0, forced.stderr);
  t.is(dst.dataset('backup/data')!.written, 0);
});

test('a full stream into an existing destination is refused; -F refuses while it has snapshots', async (t) => {
  const { src, dst, id } = await seeded(['a', 'b'], { to: 1 });
  const r = await sh(src, `zfs send tank/data@b | ssh dst${id} 'zfs receive -s backup/data'`);
  t.regex(r.stderr, /cannot receive new filesystem stream: destination 'backup\/data' exists\nmust specify -F to overwrite it/);
  const f = await sh(src, `zfs send tank/data@b | ssh dst${id} 'zfs receive -s -F backup/data'`);
  t.regex(f.stderr, /destination has snapshots \(eg\. backup\/data@a\)\nmust destroy them to overwrite it/);
  await dst.zfsOk('destroy', 'backup/data@%');
  const again = await sh(src, `zfs send tank/data@b | ssh dst${id} 'zfs receive -s -F backup/data'`);
  t.is(again.code, 0, again.stderr);
  t.deepEqual(dst.snapshots('backup/data').map((s) => s.name), ['b']);
});

test('diverged target: the receive fails without -F; -F destroys every target snapshot newer than the base', async (t) => {
  const { src, dst, id } = await seeded(['a', 'b', 'c'], { to: 2 });
  await dst.snapshot('backup/data@local');
  const r = await sh(src, `zfs send -I tank/data@b tank/data@c | ssh dst${id} 'zfs receive -s backup/data'`);
  t.regex(r.stderr, /most recent snapshot of backup\/data does not\nmatch incremental source/);
  t.deepEqual(dst.snapshots('backup/data').map((s) => s.name), ['a', 'b', 'local'], 'nothing destroyed without -F');
  const forced = await sh(src, `zfs send -I tank/data@b tank/data@c | ssh dst${id} 'zfs receive -s -F backup/data'`);
  t.is(forced.code, 0, forced.stderr);
  t.deepEqual(dst.snapshots('backup/data').map((s) => s.name), ['a', 'b', 'c'], '-F destroyed the receiver-only snapshot');
  t.true(dst.journal().some((e) => e.cmd === 'receive-force-rollback' && e.destroyed.includes('backup/data@local')));
});

test('a bookmark is a valid -i source on the sender (not -I); the receiver needs the real snapshot', async (t) => {
  const { src, dst, id } = await seeded(['a', 'b', 'c'], { to: 1 });
  await src.zfsOk('bookmark', 'tank/data@a', 'tank/data#a');
  await src.zfsOk('destroy', 'tank/data@a');
  const viaBookmark = await sh(src, `zfs send -i tank/data#a tank/data@b | ssh dst${id} 'zfs receive backup/data'`);
  t.is(viaBookmark.code, 0, viaBookmark.stderr);
  t.deepEqual(dst.snapshots('backup/data').map((s) => s.name), ['a', 'b']);
  const capitalI = await src.zfs('send', '-I', 'tank/data#a', 'tank/data@c');
  t.is(capitalI.code, 1);
  t.regex(capitalI.stderr, /bookmarks cannot be used with -I/);
  // The receiver gets only the end of a -i stream.
  await dst.zfsOk('destroy', 'backup/data@b');
  const gap = await sh(src, `zfs send -i tank/data@b tank/data@c | ssh dst${id} 'zfs receive backup/data'`);
  t.regex(gap.stderr, /does not\nmatch incremental source/);
});

test('-I sends every intermediate snapshot, -i only the end; both keep each snapshot\'s guid', async (t) => {
  const { src, dst, id } = await seeded(['a', 'b', 'c', 'd'], { to: 1 });
  t.is((await sh(src, `zfs send -i tank/data@a tank/data@b | ssh dst${id} 'zfs receive backup/data'`)).code, 0);
  t.is((await sh(src, `zfs send -I tank/data@b tank/data@d | ssh dst${id} 'zfs receive backup/data'`)).code, 0);
  t.deepEqual(dst.snapshots('backup/data').map((s) => s.guid), src.snapshots('tank/data').map((s) => s.guid));
});

test('a cut resumable receive leaves a token; other receives are refused until it resumes (send -t) or is aborted (-A)', async (t) => {
  const { src, dst, id } = await seeded(['a'], { to: 1 });
  await src.snapshot('tank/data@b', 200_000);
  await src.snapshot('tank/data@c', 200_000);
  fleet().cutNextConnection(`dst${id}`, 250_000);
  const cut = await sh(src, `zfs send -I tank/data@a tank/data@c | ssh dst${id} 'zfs receive -s backup/data'`);
  t.not(cut.code, 0);
  t.regex(cut.stderr, /checksum mismatch or incomplete stream\.\nPartially received snapshot is saved\./);
  t.regex(cut.stderr, /Broken pipe/);
  // The first snapshot of the -I stream arrived whole; the second is partial.
  t.deepEqual(dst.snapshots('backup/data').map((s) => s.name), ['a', 'b']);
  const token = (await dst.zfsOk('list', '-Hp', '-o', 'receive_resume_token', 'backup/data')).trim();
  t.regex(token, /^1-[0-9a-f]+-[0-9a-f]+-[0-9a-f]+$/);
  for (const flags of ['-s', '-s -F']) {
    const blocked = await sh(src, `zfs send -i tank/data@b tank/data@c | ssh dst${id} 'zfs receive ${flags} backup/data'`);
    t.regex(blocked.stderr, /contains partially-complete state from "zfs receive -s"/, `${flags} does not override it`);
  }
  const resumed = await sh(src, `zfs send -t ${token} | ssh dst${id} 'zfs receive -s backup/data'`);
  t.is(resumed.code, 0, resumed.stderr);
  t.deepEqual(dst.snapshots('backup/data').map((s) => s.guid), src.snapshots('tank/data').map((s) => s.guid));
  t.is((await dst.zfsOk('list', '-Hp', '-o', 'receive_resume_token', 'backup/data')).trim(), '-');
  // An interrupted full receive creates the dataset with a token; -A removes it again.
  fleet().cutNextConnection(`dst${id}`, 5_000);
  await sh(src, `zfs send tank/data@c | ssh dst${id} 'zfs receive -s backup/copy'`);
  t.regex((await dst.zfsOk('list', '-Hp', '-o', 'name,receive_resume_token', 'backup/copy')).trim(), /^backup\/copy\t1-/);
  await dst.zfsOk('receive', '-A', 'backup/copy');
  t.is(dst.dataset('backup/copy'), undefined);
  // Without -s a cut receive keeps nothing to resume.
  fleet().cutNextConnection(`dst${id}`, 5_000);
  const plain = await sh(src, `zfs send tank/data@c | ssh dst${id} 'zfs receive backup/copy2'`);
  t.regex(plain.stderr, /checksum mismatch or incomplete stream\n/);
  t.is(dst.dataset('backup/copy2'), undefined);
});

test('holds stop destroy and rollback; userrefs counts them; release frees the snapshot', async (t) => {
  const { src } = await seeded(['a', 'b'], { to: 0 });
  await src.zfsOk('hold', 'zfs-sync', 'tank/data@a');
  t.is((await src.zfsOk('list', '-Hp', '-o', 'userrefs', 'tank/data@a')).trim(), '1');
  t.regex((await src.zfs('destroy', 'tank/data@a')).stderr, /cannot destroy snapshot tank\/data@a: dataset is busy/);
  t.regex((await src.zfs('hold', 'zfs-sync', 'tank/data@a')).stderr, /tag already exists/);
  t.regex(await src.zfsOk('holds', '-H', 'tank/data@a'), /^tank\/data@a\tzfs-sync\t/);
  await src.zfsOk('release', 'zfs-sync', 'tank/data@a');
  await src.zfsOk('destroy', 'tank/data@a');
  t.deepEqual(src.snapshots('tank/data').map((s) => s.name), ['b']);
});

test('destroy ranges (@a%c, @%), rollback -r and rename keep the rules of zfs', async (t) => {
  const { src } = await seeded(['a', 'b', 'c', 'd', 'e'], { to: 0 });
  t.regex(await src.zfsOk('destroy', '-nv', 'tank/data@b%c'), /would destroy tank\/data@b\nwould destroy tank\/data@c/);
  await src.zfsOk('destroy', 'tank/data@b%c');
  t.deepEqual(src.snapshots('tank/data').map((s) => s.name), ['a', 'd', 'e']);
  t.regex((await src.zfs('destroy', 'tank/data@nope')).stderr, /could not find any snapshots to destroy/);
  const refused = await src.zfs('rollback', 'tank/data@a');
  t.regex(refused.stderr, /more recent snapshots or bookmarks exist\nuse '-r' to force deletion of the following snapshots and bookmarks:\ntank\/data@d\ntank\/data@e/);
  src.write('tank/data', 10);
  await src.zfsOk('rollback', '-r', 'tank/data@d');
  t.deepEqual(src.snapshots('tank/data').map((s) => s.name), ['a', 'd']);
  t.is(src.dataset('tank/data')!.written, 0, 'rollback discards changes since the snapshot');
  const guid = src.snapshots('tank/data')[1]!.guid;
  await src.zfsOk('rename', 'tank/data@d', 'tank/data@renamed');
  t.is(src.snapshots('tank/data')[1]!.guid, guid, 'a renamed snapshot keeps its guid');
  await src.zfsOk('rename', 'tank/data', 'tank/moved');
  t.deepEqual(src.snapshots('tank/moved').map((s) => s.name), ['a', 'renamed']);
  t.regex((await src.zfs('rename', 'tank/moved', 'other/x')).stderr, /datasets must be within same pool/);
  await src.zfsOk('destroy', 'tank/moved@%');
  t.deepEqual(src.snapshots('tank/moved'), []);
  t.regex((await src.zfs('destroy', 'tank')).stderr, /operation does not apply to pools/);
});

test('snapshot names follow the OpenZFS rules; a command\'s snapshots share one txg', async (t) => {
  const { src } = pair();
  await src.zfsOk('create', 'tank/a');
  await src.zfsOk('create', 'tank/a/b');
  t.regex((await src.zfs('snapshot', "tank/a@bad'quote")).stderr, /cannot create snapshot/);
  t.regex((await src.zfs('snapshot', 'tank/missing@x')).stderr, /dataset does not exist/);
  await src.zfsOk('snapshot', '-r', 'tank/a@r1');
  t.regex((await src.zfs('snapshot', 'tank/a@r1')).stderr, /dataset already exists/);
  t.is(src.snapshots('tank/a')[0]!.createtxg, src.snapshots('tank/a/b')[0]!.createtxg);
  t.regex((await src.zfs('create', 'tank/x/y')).stderr, /parent does not exist/);
});

test('listing: default order by dataset then createtxg; -d 1 lists one dataset\'s snapshots; -s createtxg orders across datasets', async (t) => {
  const { src } = pair();
  await src.zfsOk('create', 'tank/b');
  await src.zfsOk('create', 'tank/a');
  await src.snapshot('tank/b@1');
  await src.snapshot('tank/a@2');
  await src.snapshot('tank/b@3');
  const names = async (...args: string[]) => (await src.zfsOk('list', '-H', '-o', 'name', ...args)).trim().split('\n');
  t.deepEqual(await names('-t', 'snapshot'), ['tank/a@2', 'tank/b@1', 'tank/b@3']);
  t.deepEqual(await names('-t', 'snapshot', '-s', 'createtxg'), ['tank/b@1', 'tank/a@2', 'tank/b@3']);
  t.deepEqual(await names('-t', 'snapshot', '-d', '1', 'tank/b'), ['tank/b@1', 'tank/b@3']);
  t.deepEqual(await names('-t', 'snapshot', 'tank/b'), ['tank/b@1', 'tank/b@3']);
  t.deepEqual(await names('-r', 'tank'), ['tank', 'tank/a', 'tank/b']);
  t.deepEqual(await names('-t', 'filesystem', '-d', '0', 'tank'), ['tank']);
  t.regex((await src.zfs('list', '-o', 'name,nonsense')).stderr, /bad property list: invalid property 'nonsense'/);
  t.is((await src.zfs('list', '-o', 'name,nonsense')).code, 2);
  t.regex((await src.zfs('list', 'tank/zzz')).stderr, /cannot open 'tank\/zzz': dataset does not exist/);
});

test('snapshots_changed tells when a dataset\'s snapshot list last changed; older OpenZFS does not know it', async (t) => {
  const { src } = pair();
  await src.zfsOk('create', 'tank/a');
  t.is((await src.zfsOk('list', '-Hp', '-o', 'snapshots_changed', 'tank/a')).trim(), '-');
  await src.snapshot('tank/a@1');
  const changed = Number((await src.zfsOk('list', '-Hp', '-o', 'snapshots_changed', 'tank/a')).trim());
  t.true(Math.abs(changed - Date.now() / 1000) < 60);
  src.settings({ snapshotsChanged: false });
  const old = await src.zfs('list', '-Hp', '-o', 'name,snapshots_changed');
  t.is(old.code, 2);
  t.regex(old.stderr, /invalid property 'snapshots_changed'/);
});

test('send -v and -P report sizes and progress on stderr; the stream goes to stdout only', async (t) => {
  const { src } = await seeded(['a', 'b', 'c'], { to: 0 });
  const v = await sh(src, 'zfs send -v -I tank/data@a tank/data@c > /dev/null');
  t.regex(v.stderr, /^send from @a to tank\/data@b estimated size is [\d.]+[BKM]\nsend from @b to tank\/data@c estimated size is [\d.]+[BKM]\ntotal estimated size is /);
  const p = await sh(src, 'zfs send -P -c tank/data@c > /dev/null');
  t.regex(p.stderr, /^full\ttank\/data@c\t\d+\nsize\t\d+\n/);
  const dry = await src.zfs('send', '-nP', '-i', 'tank/data@a', 'tank/data@c');
  t.regex(dry.stderr, /^incremental\ta\ttank\/data@c\t\d+\nsize\t\d+\n$/);
  t.is(dry.stdout, '');
});

test('ssh: port, user and host are checked; the remote command runs in the other host\'s shell with its zfs', async (t) => {
  const { src, dst, id } = pair({ targetPort: 2222, targetUsers: ['zsync'] });
  await dst.zfsOk('create', 'backup/with space');
  t.regex((await sh(src, `ssh -p 22 zsync@dst${id} true`)).stderr, new RegExp(`connect to host dst${id} port 22: Connection refused`));
  t.regex((await sh(src, `ssh -p 2222 root@dst${id} true`)).stderr, /Permission denied \(publickey\)/);
  t.regex((await sh(src, 'ssh nowhere.example true')).stderr, /Could not resolve hostname nowhere.example/);
  t.is((await sh(src, `ssh -p 2222 zsync@dst${id} true`)).code, 0);
  t.is((await sh(src, `ssh -p 2222 zsync@dst${id} false`)).code, 1, 'the remote exit status comes back');
  // ssh joins its words and the remote shell splits them again: quoting survives both shells.
  const listed = await sh(src, `ssh -o BatchMode=yes -p 2222 zsync@dst${id} 'zfs list -H -o name '\\''backup/with space'\\'''`);
  t.is(listed.stdout, 'backup/with space\n', listed.stderr);
  t.is((await sh(src, `ssh -p 2222 zsync@dst${id} 'echo $ZFS_SIM_HOST'`)).stdout.trim(), `dst${id}`);
});

test('a large listing arrives whole through a pipe (the process waits for its output to drain)', async (t) => {
  const { src } = pair();
  await src.zfsOk('create', 'tank/many');
  src.populate('tank/many', 50_000);
  const r = await sh(src, "zfs list -Hp -t snapshot -o name,guid,createtxg,creation,used,referenced -s createtxg | wc -l");
  t.is(r.stdout.trim(), '50000');
});
