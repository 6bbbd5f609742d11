import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { lockTransfer } from './locks.js';

test('one transfer, one lock: a second taker is told who holds it; release frees it', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'agent-locks-'));
  const first = lockTransfer(dir, 'a>b:backup/home', { instruction_id: 'i1' });
  t.true(first.acquired);
  const second = lockTransfer(dir, 'a>b:backup/home', { instruction_id: 'i2' });
  t.like(second, { acquired: false, heldBy: process.pid });
  t.true(lockTransfer(dir, 'a>b:backup/other', {}).acquired, 'another transfer is not blocked');
  if (first.acquired) first.release();
  t.true(lockTransfer(dir, 'a>b:backup/home', {}).acquired);
});

test('a lock left by a process that died is taken over', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'agent-locks-'));
  const held = lockTransfer(dir, 'x', {});
  if (!held.acquired) return t.fail();
  const file = join(dir, 'locks', readdirSync(join(dir, 'locks'))[0]!);
  held.release();
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
  writeFileSync(file, JSON.stringify({ pid: Number(dead), key: 'x' }));
  t.true(lockTransfer(dir, 'x', {}).acquired);
});
