import pg from 'pg';

// Keep timestamps and numerics exact: numeric (guids) and int8 come back as strings by default;
// never let pg turn them into JS numbers.
export function createPgPool(databaseUrl: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: databaseUrl, max, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30_000 });
  // An idle client losing its connection (PostgreSQL restart) must not crash the process.
  pool.on('error', () => {});
  // Nor a checked-out one: pg-pool listens only on idle clients, and a client inside a transaction
  // when PostgreSQL stops emits 'error' ("Connection terminated unexpectedly") with no listener,
  // which ends the process. The query in flight fails with the same error, and the client is
  // dropped from the pool when released (it is no longer queryable).
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  return pool;
}

/**
 * This database's identity (written by a migration): deterministic job ids carry it, so a database
 * created again under the same Redis never collides with its predecessor's jobs. Shortened to 12
 * hex digits (48 bits) to keep job ids short.
 */
export async function installationId(pool: Pick<pg.Pool, 'query'>): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(`select replace(id::text, '-', '') as id from installation`);
  if (!rows[0]) throw new Error('the installation table is empty: run the migrations');
  return rows[0].id.slice(0, 12);
}

/** One round trip to PostgreSQL (readiness probes). */
export async function pingDatabase(pool: Pick<pg.Pool, 'query'>): Promise<void> {
  await pool.query('select 1');
}
