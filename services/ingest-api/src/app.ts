import type { RequestListener } from 'node:http';
import express, { type Express } from 'express';
import { API_PREFIX, META_API } from '@zfs-sync/contracts';
import { authenticate } from './auth/authenticate.js';
import { hashKey } from './auth/credentials.js';
import { RateLimiter } from './auth/rate-limit.js';
import type { ApiDeps } from './deps.js';
import { dashboardRoutes } from './http/dashboard.js';
import { HttpProblem, errorHandler } from './http/problem.js';
import { route } from './http/route.js';
import { bodyIdleTimeout } from './http/server.js';
import { DOCS_PATH, docsRouter, openApiDocument } from './ops/api-docs.js';
import { BULL_BOARD_PATH, bullBoardRouter, requireAdminBasic } from './ops/bull-board.js';
import { httpMetrics, metricsEndpoint } from './ops/metrics.js';
import { requestContext, type RequestContextOptions } from './ops/request-context.js';
import { checkResponses, type ResponseViolation } from './ops/response-check.js';
import { conflictRoutes } from './routes/conflicts.routes.js';
import { eventRoutes } from './routes/events.routes.js';
import { fleetRoutes } from './routes/fleet.routes.js';
import { linkViewRoutes } from './routes/link-views.routes.js';
import { healthRoutes } from './routes/health.routes.js';
import { heartbeatLane, isHeartbeatPath } from './routes/heartbeat.js';
import { inventoryRoutes } from './routes/inventory.routes.js';
import { snapshotReadRoutes } from './routes/snapshot-read.routes.js';
import { syncRoutes } from './routes/sync.routes.js';
import { syncStateRoutes } from './routes/sync-state.routes.js';
import { systemsRoutes } from './routes/systems.routes.js';
import { webhookRoutes } from './routes/webhooks.routes.js';

export { API_PREFIX };

export interface AppOptions {
  /** Tests: check every JSON answer against the schema the route catalog documents for it. */
  onResponseViolation?: (violation: ResponseViolation) => void;
}

/** What the express app and the heartbeat lane share: one rate limiter, one access-log setting. */
interface Shared {
  limiter: RateLimiter;
  requestLog: RequestContextOptions;
}

function sharedOf(deps: ApiDeps): Shared {
  return {
    limiter: new RateLimiter({
      redis: deps.redis,
      prefix: deps.config.queuePrefix,
      perMinute: deps.config.rateLimitPerMinute,
      adminPerMinute: deps.config.rateLimitAdminPerMinute,
      failedAuthPerMinute: deps.config.rateLimitFailedAuthPerMinute,
      logger: deps.logger,
    }),
    // Health probes are not logged; successful heartbeats (thousands a second in a fleet) at debug.
    requestLog: { quietPrefix: `${API_PREFIX}/health`, routine: (req) => req.method === 'POST' && isHeartbeatPath(req.url ?? '') },
  };
}

/**
 * The API's request listener, what the HTTP server runs: the heartbeat lane first (a host's usual
 * heartbeat, answered before express), then the express app for everything else.
 */
export function createApiListener(deps: ApiDeps, options: AppOptions = {}): RequestListener {
  const shared = sharedOf(deps);
  const app = createApp(deps, options, shared);
  const lane = heartbeatLane(deps, { ...shared, ...(options.onResponseViolation ? { onResponseViolation: options.onResponseViolation } : {}) });
  return (req, res) => {
    if (!lane(req, res)) app(req, res);
  };
}

/** The express app alone: every route (createApiListener adds the heartbeat lane in front). */
export function createApp(deps: ApiDeps, options: AppOptions = {}, shared: Shared = sharedOf(deps)): Express {
  const { limiter } = shared;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'extended');
  // Which address a failed authentication is counted against (rate limits): the socket's, or the
  // client's as forwarded by the proxies configured as trusted.
  if (deps.config.trustProxy !== null) app.set('trust proxy', /^\d+$/.test(deps.config.trustProxy) ? Number(deps.config.trustProxy) : deps.config.trustProxy.split(',').map((s) => s.trim()));
  app.use(bodyIdleTimeout(deps.config.idleTimeoutMs));
  app.use(...requestContext(deps.logger, shared.requestLog));
  app.use(httpMetrics(deps.metrics));
  if (options.onResponseViolation) app.use(checkResponses(options.onResponseViolation));

  // Operations: Prometheus, the API documentation, the queue board (admin only).
  app.get('/metrics', metricsEndpoint(deps.metrics.registry, deps.config.metricsToken));
  app.use(DOCS_PATH, docsRouter());
  app.use(BULL_BOARD_PATH, requireAdminBasic(deps.adminTokenHash), bullBoardRouter(deps.producer, { readOnly: deps.config.bullBoardReadOnly }));

  const api = express.Router();
  api.use(healthRoutes(deps));
  const document = openApiDocument();
  route(api, META_API.openapi, (_req, res) => {
    res.json(document);
  });
  api.use(
    authenticate({
      adminTokenHash: deps.adminTokenHash,
      enrollmentTokenHash: deps.config.enrollmentToken ? hashKey(deps.config.enrollmentToken) : null,
      viewerTokenHash: deps.config.viewerToken ? hashKey(deps.config.viewerToken) : null,
      systems: deps.keyCache,
      limiter,
    }),
  );
  api.use(systemsRoutes(deps));
  api.use(inventoryRoutes(deps));
  api.use(snapshotReadRoutes(deps));
  api.use(syncRoutes(deps));
  api.use(syncStateRoutes(deps));
  api.use(conflictRoutes(deps));
  api.use(fleetRoutes(deps));
  api.use(linkViewRoutes(deps));
  api.use(eventRoutes(deps));
  api.use(webhookRoutes(deps));
  app.use(API_PREFIX, api);
  app.use(dashboardRoutes(deps.config.dashboardDir));

  app.use((req, _res, next) => next(new HttpProblem(404, 'not-found', `no route ${req.method} ${req.path}`)));
  app.use(errorHandler(deps.logger));
  return app;
}
