/**
 * `npm run admin-token:rotate`: replace the generated admin token. The new token is written to
 * admin_token_file (mode 0600) and only its hash to PostgreSQL; the path is printed, the token
 * never. Restart the API processes afterwards (they read the hash at start); the old token then
 * stops working. A token configured through ZFS_SYNC_ADMIN_TOKEN is rotated by changing it there.
 */
import { loadConfigOrExit } from '@zfs-sync/config';
import { createPgPool } from '@zfs-sync/db';
import { rotateAdminToken } from './admin-token.js';

const config = loadConfigOrExit();
if (config.adminToken) {
  process.stderr.write('zfs-sync: ZFS_SYNC_ADMIN_TOKEN is configured, so the stored token is not used: rotate it by changing that value (and restarting).\n');
  process.exit(1);
}
const pool = createPgPool(config.databaseUrl, 1);
try {
  await rotateAdminToken(pool, config.adminTokenFile);
  process.stdout.write(`zfs-sync: a new admin token was written to ${config.adminTokenFile} (readable by this user only). Restart the API processes; the old token then stops working.\n`);
} finally {
  await pool.end();
}
