/**
 * A local lock per transfer (source, target, target dataset), so two agent runs on this host —
 * an overlapping cron run, the daemon and a manual run — never run the same transfer twice, even
 * when the witness hands it out again under a new instruction id. A lock whose owner died is
 * taken over.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, openSync, readFileSync, unlinkSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';

export type LockResult = { acquired: true; release: () => void } | { acquired: false; heldBy: number; since: string | null };

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function lockTransfer(stateDir: string, key: string, info: Record<string, unknown>): LockResult {
  const dir = join(stateDir, 'locks');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${createHash('sha256').update(key).digest('hex').slice(0, 32)}.lock`);
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, JSON.stringify({ pid: process.pid, key, since: new Date().toISOString(), ...info }));
      closeSync(fd);
      return {
        acquired: true,
        release: () => {
          try {
            unlinkSync(file);
          } catch {
            /* already gone */
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let owner: { pid?: number; since?: string } = {};
      try {
        owner = JSON.parse(readFileSync(file, 'utf8'));
      } catch {
        continue; // being written or just released: look again
      }
      if (typeof owner.pid === 'number' && alive(owner.pid)) return { acquired: false, heldBy: owner.pid, since: owner.since ?? null };
      try {
        unlinkSync(file); // its owner is gone
      } catch {
        /* someone else took it over first */
      }
    }
  }
  return { acquired: false, heldBy: -1, since: null };
}
