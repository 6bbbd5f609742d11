/** Split a PostgreSQL URL into the database name and a URL for the server's maintenance database. */
export function describeDatabaseUrl(url: string): { database: string; maintenanceUrl: string; withDatabase: (name: string) => string } {
  const parsed = new URL(url);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || 'postgres';
  const withDatabase = (name: string) => {
    const u = new URL(url);
    u.pathname = `/${encodeURIComponent(name)}`;
    return u.toString();
  };
  return { database, maintenanceUrl: withDatabase('postgres'), withDatabase };
}

/** Quote an SQL identifier (database names come from configuration). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
