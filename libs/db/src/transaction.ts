import type pg from 'pg';

/**
 * Run `work` in one transaction on one pooled connection: commit when it returns, roll back when
 * it throws (a crash anywhere leaves nothing half-written), release the connection either way.
 */
export async function withTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (err) {
    await client.query('rollback').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
