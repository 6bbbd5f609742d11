import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import express, { Router, type Request, type Response } from 'express';
import { API_PREFIX, buildOpenApiDocument } from '@zfs-sync/contracts';
import { SERVICE_VERSION } from '@zfs-sync/logger';

export const DOCS_PATH = '/docs';

/** The swagger-ui-dist package's own directory (its assets are served from here, never a CDN). */
const assetsDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

// Our page instead of the package's index.html, whose initializer points at a public demo API.
const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>zfs-sync API</title>
  <link rel="stylesheet" href="${DOCS_PATH}/assets/swagger-ui.css">
  <link rel="icon" type="image/png" href="${DOCS_PATH}/assets/favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="${DOCS_PATH}/assets/swagger-ui-bundle.js"></script>
  <script src="${DOCS_PATH}/assets/swagger-ui-standalone-preset.js"></script>
  <script src="${DOCS_PATH}/init.js"></script>
</body>
</html>
`;
const INIT = `window.ui = SwaggerUIBundle({
  url: ${JSON.stringify(`${API_PREFIX}/openapi.json`)},
  dom_id: '#swagger-ui',
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: 'StandaloneLayout',
});
`;
// Swagger UI injects styles; everything else comes from this origin.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/** The OpenAPI document: built once from the route catalog and the validators' schemas. */
export function openApiDocument(): Record<string, unknown> {
  return buildOpenApiDocument({ version: SERVICE_VERSION });
}

/** Swagger UI at /docs, its assets served locally from swagger-ui-dist. */
export function docsRouter(): Router {
  const r = Router();
  r.use((_req, res, next) => {
    res.locals.routeTemplate = DOCS_PATH;
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    next();
  });
  const page = (_req: Request, res: Response) => {
    res.type('html').send(PAGE);
  };
  r.get('/', page);
  r.get('/index.html', page);
  r.get('/init.js', (_req, res) => {
    res.type('application/javascript').send(INIT);
  });
  r.use('/assets', express.static(assetsDir, { index: false, maxAge: '1d' }));
  return r;
}
