import type pg from 'pg';
import { hashKey, newAdminToken } from './credentials.js';

/**
 * The operator credential's hash. A configured token wins. Without one, the first API replica to
 * start generates a token, stores only its hash and hands the token back once to be printed;
 * every later start (any replica) just reads the stored hash.
 */
export async function resolveAdminTokenHash(pool: pg.Pool, configured: string | null): Promise<{ hash: string; generated: string | null }> {
  if (configured) return { hash: hashKey(configured), generated: null };
  const token = newAdminToken();
  const inserted = await pool.query(
    `insert into operator_credentials (name, token_hash) values ('admin', $1) on conflict (name) do nothing returning token_hash`,
    [hashKey(token)],
  );
  if (inserted.rowCount) return { hash: hashKey(token), generated: token };
  const { rows } = await pool.query<{ token_hash: string }>(`select token_hash from operator_credentials where name = 'admin'`);
  return { hash: rows[0]!.token_hash, generated: null };
}
