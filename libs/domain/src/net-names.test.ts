import test from 'ava';
import { isDnsName, isHostName, isIpLiteral, isPosixUserName } from './net-names.js';

test('accepts real host names and IP literals', (t) => {
  for (const v of ['nas1', 'nas1.example.com', 'backup-01.lan.', 'a_b.local', '10.0.0.1', '::1', '[fe80::1]']) {
    t.true(isHostName(v), v);
  }
});

test('refuses shell metacharacters and malformed names', (t) => {
  for (const v of ['', 'a b', "a'b", 'a;b', '$(id)', '`id`', 'a|b', 'a&b', 'a\nb', '-oProxyCommand=x', 'a..b', 'x'.repeat(64), 'é.com']) {
    t.false(isHostName(v), JSON.stringify(v));
  }
  t.false(isDnsName('a'.repeat(254)));
  t.false(isIpLiteral('999.1.1.1'));
});

test('POSIX user names', (t) => {
  for (const v of ['root', 'zfs-sync', 'backup_1', 'j.doe']) t.true(isPosixUserName(v), v);
  for (const v of ['', '-x', 'a b', 'a;b', 'user$', "o'neil", 'x'.repeat(33)]) t.false(isPosixUserName(v), v);
});
