import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type pg from 'pg';
import { hashKey, newAdminToken } from './credentials.js';

/**
 * Write a token to `file`, readable by this user only (0600, its directory 0700), replacing any
 * earlier one atomically. The token never reaches a terminal or a log: only this file holds it.
 */
export function writeTokenFile(file: string, token: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${token}\n`, { mode: 0o600, flag: 'wx' });
  renameSync(tmp, file);
}

/**
 * The operator credential's hash. A configured token wins. Without one, the first API replica to
 * start generates a token, stores only its hash and writes the token to `tokenFile` (never to
 * the logs); every later start (any replica) just reads the stored hash.
 */
export async function resolveAdminTokenHash(pool: pg.Pool, configured: string | null, tokenFile: string): Promise<{ hash: string; generatedFile: string | null }> {
  if (configured) return { hash: hashKey(configured), generatedFile: null };
  const token = newAdminToken();
  const inserted = await pool.query(
    `insert into operator_credentials (name, token_hash) values ('admin', $1) on conflict (name) do nothing returning token_hash`,
    [hashKey(token)],
  );
  if (inserted.rowCount) {
    try {
      writeTokenFile(tokenFile, token);
    } catch (err) {
      // Nobody could ever read this token: forget it, so the next start generates another.
      await pool.query(`delete from operator_credentials where name = 'admin' and token_hash = $1`, [hashKey(token)]);
      throw new Error(`cannot write the generated admin token to ${tokenFile} (${(err as Error).message}); set ZFS_SYNC_ADMIN_TOKEN_FILE to a writable path, or configure ZFS_SYNC_ADMIN_TOKEN`);
    }
    return { hash: hashKey(token), generatedFile: tokenFile };
  }
  const { rows } = await pool.query<{ token_hash: string }>(`select token_hash from operator_credentials where name = 'admin'`);
  return { hash: rows[0]!.token_hash, generatedFile: null };
}

/** Replace the stored (generated) admin token: a new one in `tokenFile`, its hash in PostgreSQL. */
export async function rotateAdminToken(pool: pg.Pool, tokenFile: string): Promise<void> {
  const token = newAdminToken();
  writeTokenFile(tokenFile, token);
  await pool.query(
    `insert into operator_credentials (name, token_hash) values ('admin', $1) on conflict (name) do update set token_hash = excluded.token_hash`,
    [hashKey(token)],
  );
}
