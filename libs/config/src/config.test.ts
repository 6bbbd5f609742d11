import test from 'ava';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './config.js';

const emptyDir = () => mkdtempSync(join(tmpdir(), 'zfs-sync-config-'));

test('defaults match the documented ones', (t) => {
  const c = loadConfig({ env: {}, cwd: emptyDir() });
  t.is(c.databaseUrl, 'postgresql://postgres@127.0.0.1:5432/zfs_sync');
  t.is(c.redisUrl, 'redis://127.0.0.1:6379');
  t.is(c.port, 8000);
  t.is(c.heartbeatTimeoutSeconds, 300);
  t.is(c.logLevel, 'info');
  t.is(c.adminToken, null);
  t.false(c.openRegistration);
  t.deepEqual(c.workerProcessors, []);
  t.true(Object.isFrozen(c));
});

test('environment wins over the YAML file, which wins over defaults', (t) => {
  const dir = emptyDir();
  const file = join(dir, 'zs.yaml');
  writeFileSync(file, 'port: 9000\nheartbeat_timeout_seconds: 60\nlog_level: debug\n');
  const c = loadConfig({ env: { ZFS_SYNC_CONFIG: file, PORT: '9100', WORKER_PROCESSORS: 'heartbeat-expiry, reconcile' }, cwd: dir });
  t.is(c.port, 9100);
  t.is(c.heartbeatTimeoutSeconds, 60);
  t.is(c.logLevel, 'debug');
  t.deepEqual(c.workerProcessors, ['heartbeat-expiry', 'reconcile']);
  t.is(c.sourceFile, file);
});

test('the default file ./config/zfs_sync.yaml is read when present', (t) => {
  const dir = emptyDir();
  mkdirSync(join(dir, 'config'));
  writeFileSync(join(dir, 'config', 'zfs_sync.yaml'), 'open_registration: true\n');
  t.true(loadConfig({ env: {}, cwd: dir }).openRegistration);
});

test('a bad value names the key, where it came from and the rule', (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: 'eighty' }, /port \(from env PORT\) must be integer/],
    [{ PORT: '70000' }, /port .* must be <= 65535/],
    [{ ZFS_SYNC_HEARTBEAT_TIMEOUT_SECONDS: '0' }, /heartbeat_timeout_seconds .* must be >= 1/],
    [{ ZFS_SYNC_LOG_LEVEL: 'loud' }, /log_level .* must be one of fatal, error/],
    [{ ZFS_SYNC_OPEN_REGISTRATION: 'maybe' }, /open_registration .* must be boolean/],
    [{ DATABASE_URL: 'mysql://x' }, /database_url .* must match pattern/],
  ];
  for (const [env, message] of cases) {
    const err = t.throws(() => loadConfig({ env, cwd: emptyDir() }), { instanceOf: ConfigError });
    t.regex(err!.message, message);
    t.false(err!.message.includes('\n'));
  }
});

test('unknown keys in the file and a missing explicit file are refused', (t) => {
  const dir = emptyDir();
  const file = join(dir, 'zs.yaml');
  writeFileSync(file, 'prot: 1\n');
  t.throws(() => loadConfig({ env: { ZFS_SYNC_CONFIG: file }, cwd: dir }), { message: /prot .* is not a known configuration key/ });
  t.throws(() => loadConfig({ env: { ZFS_SYNC_CONFIG: join(dir, 'nope.yaml') }, cwd: dir }), { message: /does not exist/ });
});
