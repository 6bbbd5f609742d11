import test from 'ava';
import { execFileSync } from 'node:child_process';
import { shellJoin, shellQuote } from './shell-quote.js';

test('plain words stay readable', (t) => {
  t.is(shellQuote('tank/data@auto-2024-01-01_00:00'), 'tank/data@auto-2024-01-01_00:00');
});

test('every hostile value round-trips through a real shell as one word', (t) => {
  const hostile = ["it's", 'a b', '$(reboot)', '`id`', 'x;rm -rf /', 'a|b&c', 'new\nline', '', "''", '%20 %', '*'];
  for (const value of hostile) {
    const out = execFileSync('/bin/sh', ['-c', `printf '%s\\0' ${shellQuote(value)}`]).toString();
    t.is(out, `${value}\0`, `value ${JSON.stringify(value)}`);
  }
});

test('shellJoin keeps argument boundaries', (t) => {
  const args = ['zfs', 'send', 'tank/my data@snap 1'];
  const out = execFileSync('/bin/sh', ['-c', `printf '%s\\0' ${shellJoin(args)}`]).toString();
  t.deepEqual(out.split('\0').slice(0, -1), args);
});

test('NUL cannot be quoted', (t) => {
  t.throws(() => shellQuote('a\0b'));
});
