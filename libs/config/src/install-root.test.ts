import test from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findInstallRoot, installRoot, installVersion } from './install-root.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');

test('from the sources: the repository, whose package.json gives the version', (t) => {
  t.is(installRoot(), repo);
  t.is(installVersion(), (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version);
});

test('from any depth below the root, past workspace manifests with other names; none above: an error naming the file', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'zfs-sync-root-'));
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'zfs-sync', version: '9.9.9' }));
  mkdirSync(join(root, 'dist', 'chunks'), { recursive: true });
  mkdirSync(join(root, 'libs', 'config', 'src'), { recursive: true });
  writeFileSync(join(root, 'libs', 'config', 'package.json'), JSON.stringify({ name: '@zfs-sync/config' }));
  t.is(findInstallRoot(join(root, 'dist', 'api.js')), root);
  t.is(findInstallRoot(join(root, 'dist', 'chunks', 'chunk-X.js')), root);
  t.is(findInstallRoot(join(root, 'libs', 'config', 'src', 'install-root.ts')), root);
  const elsewhere = mkdtempSync(join(tmpdir(), 'zfs-sync-none-'));
  t.throws(() => findInstallRoot(join(elsewhere, 'api.js')), { message: new RegExp(`no package.json named "zfs-sync" above ${elsewhere}/api\\.js`) });
});
