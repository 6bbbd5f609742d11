import test from 'ava';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { CONFIG_KEYS } from './config.schema.js';
import { loadConfig } from './config.js';

// The example users copy to config/zfs_sync.yaml: it must document every key and load as it is.
const examplePath = fileURLToPath(new URL('../../../config/zfs_sync.yaml.example', import.meta.url));
const example = readFileSync(examplePath, 'utf8');
const lines = example.split('\n');
/** All comment text joined, whitespace collapsed, so a wrapped doc line still matches. */
const commentText = lines
  .filter((l) => l.trimStart().startsWith('#'))
  .map((l) => l.trimStart().replace(/^#+\s?/, ''))
  .join(' ')
  .replace(/\s+/g, ' ');
const isSecret = (spec: (typeof CONFIG_KEYS)[number]) => 'secret' in spec && spec.secret === true;

test('every configuration key appears with its doc text and environment variables', (t) => {
  for (const spec of CONFIG_KEYS) {
    const keyLine = new RegExp(`^(# )?${spec.key}:`, 'm');
    t.regex(example, keyLine, `key ${spec.key} is missing`);
    t.true(commentText.includes(spec.doc.replace(/\s+/g, ' ')), `doc of ${spec.key} is missing or out of date`);
    for (const name of spec.env) t.true(example.includes(name), `env ${name} of ${spec.key} is missing`);
  }
});

test('secrets are only commented out; every other key is set to its default', (t) => {
  const parsed = (parseYaml(example) ?? {}) as Record<string, unknown>;
  for (const spec of CONFIG_KEYS) {
    if (isSecret(spec)) {
      t.false(spec.key in parsed, `secret ${spec.key} must stay commented out`);
      t.regex(example, new RegExp(`^# ${spec.key}:`, 'm'));
    } else {
      t.deepEqual(parsed[spec.key], spec.default, `${spec.key} should show its default`);
    }
  }
  t.deepEqual(Object.keys(parsed).sort(), CONFIG_KEYS.filter((k) => !isSecret(k)).map((k) => k.key).sort());
});

test('a copy of the example loads through loadConfig and changes no default', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zfs-sync-config-example-'));
  const copy = join(dir, 'zfs_sync.yaml');
  copyFileSync(examplePath, copy);
  const fromExample = loadConfig({ env: { ZFS_SYNC_CONFIG: copy }, cwd: dir });
  const defaults = loadConfig({ env: {}, cwd: mkdtempSync(join(tmpdir(), 'zfs-sync-config-empty-')) });
  t.is(fromExample.sourceFile, copy);
  t.deepEqual({ ...fromExample, sourceFile: null }, { ...defaults, sourceFile: null });
});
