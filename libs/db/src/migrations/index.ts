import { Migration20261126000001Foundation } from './Migration20261126000001_foundation.js';
import { Migration20261126000002Inventory } from './Migration20261126000002_inventory.js';
import { Migration20261126000003Sync } from './Migration20261126000003_sync.js';
import { Migration20261201000001PlanLifecycle } from './Migration20261201000001_plan_lifecycle.js';
import { Migration20261204000001IngestSpeed } from './Migration20261204000001_ingest_speed.js';
import { Migration20261207000001Dashboard } from './Migration20261207000001_dashboard.js';
import { Migration20261210000001AcceptedReports } from './Migration20261210000001_accepted_reports.js';
import { Migration20261210000002Installation } from './Migration20261210000002_installation.js';
import { Migration20261212000001Events } from './Migration20261212000001_events.js';
import { Migration20261212000002Audit } from './Migration20261212000002_audit.js';
import { Migration20261213000001Webhooks } from './Migration20261213000001_webhooks.js';

/**
 * Every migration, in order. Listed explicitly so they run the same from TypeScript sources
 * (tsx) and from compiled code, without a file glob. Not exported by `@zfs-sync/db` itself
 * (`@zfs-sync/db/migrations`; migrate() imports it when it runs): the migrations import
 * `@mikro-orm/migrations`, which the long-running processes need not load.
 */
export const MIGRATIONS = [
  { name: 'Migration20261126000001_foundation', class: Migration20261126000001Foundation },
  { name: 'Migration20261126000002_inventory', class: Migration20261126000002Inventory },
  { name: 'Migration20261126000003_sync', class: Migration20261126000003Sync },
  { name: 'Migration20261201000001_plan_lifecycle', class: Migration20261201000001PlanLifecycle },
  { name: 'Migration20261204000001_ingest_speed', class: Migration20261204000001IngestSpeed },
  { name: 'Migration20261207000001_dashboard', class: Migration20261207000001Dashboard },
  { name: 'Migration20261210000001_accepted_reports', class: Migration20261210000001AcceptedReports },
  { name: 'Migration20261210000002_installation', class: Migration20261210000002Installation },
  { name: 'Migration20261212000001_events', class: Migration20261212000001Events },
  { name: 'Migration20261212000002_audit', class: Migration20261212000002Audit },
  { name: 'Migration20261213000001_webhooks', class: Migration20261213000001Webhooks },
];
