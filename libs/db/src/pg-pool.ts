import pg from 'pg';

// Keep timestamps and numerics exact: numeric (guids) and int8 come back as strings by default;
// never let pg turn them into JS numbers.
export function createPgPool(databaseUrl: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: databaseUrl, max, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30_000 });
  // An idle client losing its connection (PostgreSQL restart) must not crash the process.
  pool.on('error', () => {});
  return pool;
}

/** One round trip to PostgreSQL (readiness probes). */
export async function pingDatabase(pool: Pick<pg.Pool, 'query'>): Promise<void> {
  await pool.query('select 1');
}
