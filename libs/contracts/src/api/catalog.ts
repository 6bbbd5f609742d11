import { EVENTS_API } from './events.api.js';
import { HEALTH_API, META_API } from './health.api.js';
import { INVENTORY_API } from './inventory.api.js';
import type { RouteSpec } from './route.js';
import { SNAPSHOTS_API } from './snapshots.api.js';
import { CONFLICTS_API, SYNC_API, SYNC_GROUPS_API } from './sync.api.js';
import { SYSTEMS_API } from './systems.api.js';
import { VIEWS_API } from './views.api.js';

/**
 * Every route of the API, by area. An area file defines its entries; list it here once. The
 * order is the order of the OpenAPI document.
 */
export const API_AREAS: Record<string, Record<string, RouteSpec>> = {
  health: HEALTH_API,
  meta: META_API,
  systems: SYSTEMS_API,
  inventory: INVENTORY_API,
  snapshots: SNAPSHOTS_API,
  'sync-groups': SYNC_GROUPS_API,
  sync: SYNC_API,
  conflicts: CONFLICTS_API,
  views: VIEWS_API,
  events: EVENTS_API,
};

export const API_ROUTES: readonly RouteSpec[] = Object.values(API_AREAS).flatMap((area) => Object.values(area));

export { HEALTH_API, META_API, SYSTEMS_API, INVENTORY_API, SNAPSHOTS_API, SYNC_GROUPS_API, SYNC_API, CONFLICTS_API, VIEWS_API, EVENTS_API };
