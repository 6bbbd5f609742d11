import express, { type Express } from 'express';
import { pinoHttp } from 'pino-http';
import { authenticate } from './auth/authenticate.js';
import { hashKey } from './auth/credentials.js';
import type { ApiDeps } from './deps.js';
import { dashboardRoutes } from './http/dashboard.js';
import { HttpProblem, errorHandler } from './http/problem.js';
import { conflictRoutes } from './routes/conflicts.routes.js';
import { fleetRoutes } from './routes/fleet.routes.js';
import { linkViewRoutes } from './routes/link-views.routes.js';
import { healthRoutes } from './routes/health.routes.js';
import { inventoryRoutes } from './routes/inventory.routes.js';
import { snapshotReadRoutes } from './routes/snapshot-read.routes.js';
import { syncRoutes } from './routes/sync.routes.js';
import { syncStateRoutes } from './routes/sync-state.routes.js';
import { systemsRoutes } from './routes/systems.routes.js';

export const API_PREFIX = '/api/v1';

export function createApp(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'extended');
  app.use(
    pinoHttp({
      logger: deps.logger,
      // The request id the client sent, else a fresh one; echoed back for support.
      genReqId: (req, res) => {
        const given = req.headers['x-request-id'];
        const id = typeof given === 'string' && /^[\w.-]{1,128}$/.test(given) ? given : crypto.randomUUID();
        res.setHeader('x-request-id', id);
        return id;
      },
      autoLogging: { ignore: (req) => (req.url ?? '').startsWith(`${API_PREFIX}/health`) },
      serializers: { req: (req) => ({ id: req.id, method: req.method, url: req.url }) },
    }),
  );

  const api = express.Router();
  api.use(healthRoutes(deps));
  api.use(
    authenticate({
      adminTokenHash: deps.adminTokenHash,
      enrollmentTokenHash: deps.config.enrollmentToken ? hashKey(deps.config.enrollmentToken) : null,
      systems: deps.systems,
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
  app.use(API_PREFIX, api);
  app.use(dashboardRoutes(deps.config.dashboardDir));

  app.use((req, _res, next) => next(new HttpProblem(404, 'not-found', `no route ${req.method} ${req.path}`)));
  app.use(errorHandler(deps.logger));
  return app;
}
