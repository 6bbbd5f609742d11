import pg from 'pg';
import { describeDatabaseUrl, quoteIdent } from './database-url.js';

/** Create the database named in the URL when it does not exist yet (first start, new contributor). */
export async function ensureDatabase(url: string): Promise<boolean> {
  const { database, maintenanceUrl } = describeDatabaseUrl(url);
  const client = new pg.Client({ connectionString: maintenanceUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (rowCount) return false;
    try {
      await client.query(`create database ${quoteIdent(database)}`);
    } catch (err) {
      // Another process created it between our check and our create: that is fine.
      if ((err as { code?: string }).code !== '42P04') throw err;
      return false;
    }
    return true;
  } finally {
    await client.end();
  }
}
