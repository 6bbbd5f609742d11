import test from 'ava';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { Express } from 'express';
import { API_PREFIX, API_ROUTES, expressPath, toOpenApiSchema, type RouteSpec } from '@zfs-sync/contracts';
import { createLogger } from '@zfs-sync/logger';
import { createApp } from '../app.js';
import { buildApiDeps } from '../build-deps.js';
import { BODY_VALIDATORS, type RouteTag } from '../http/route.js';
import { createTestEnvironment, type TestEnvironment } from '@zfs-sync/testkit/stack';
import { openApiDocument } from './api-docs.js';

/*
 * The OpenAPI document must describe the server that runs: this test walks the real express app
 * (every router, as mounted) and fails for any API route that is not in the route catalog, for
 * any catalog entry that is not mounted, and for any request schema that is not the very object
 * the route's validator compiled. A teammate adding a route with plain `router.post(...)` gets a
 * failure naming it and saying where to add it.
 */

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean>; stack: Array<{ handle: unknown }> };
  handle: { stack?: Layer[] };
  rawPath?: string;
}
interface MountedRoute {
  method: string;
  path: string;
  tag: RouteSpec | null;
}

function walk(stack: Layer[], prefix: string, out: MountedRoute[]): MountedRoute[] {
  for (const layer of stack) {
    if (layer.route) {
      const first = layer.route.stack[0]?.handle as Partial<RouteTag> | undefined;
      for (const method of Object.keys(layer.route.methods)) {
        if (method === '_all') continue;
        for (const path of [layer.route.path].flat()) out.push({ method, path: prefix + path, tag: first?.routeSpec ?? null });
      }
    } else if (Array.isArray(layer.handle?.stack)) {
      const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
      walk(layer.handle.stack, prefix + mount, out);
    }
  }
  return out;
}

/** Routes outside the API (not in the OpenAPI document, by design): operations and the dashboard page. */
const OPS_ROUTES = [/^\/metrics$/, /^\/docs(\/|$)/, /^\/(index\.html)?$/];

let env: TestEnvironment;
let app: Express;
let close: () => Promise<void>;
let mounted: MountedRoute[];
const document = openApiDocument() as {
  paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: unknown }> }; responses: Record<string, { content?: Record<string, { schema: unknown }> }>; parameters?: Array<{ name: string; in: string }> }>>;
  components: { schemas: Record<string, unknown> };
};

test.before(async () => {
  env = await createTestEnvironment();
  const config = env.config();
  const deps = await buildApiDeps(config, createLogger('coverage', config));
  app = createApp(deps);
  close = deps.close;
  mounted = walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '', []);
});
test.after.always(async () => {
  await close?.();
  await env?.teardown();
});

test('every route the express app serves under /api/v1 is in the route catalog, registered from its entry', (t) => {
  const api = mounted.filter((r) => r.path.startsWith(API_PREFIX));
  t.true(api.length >= API_ROUTES.length);
  const undocumented = api.filter((r) => !r.tag).map((r) => `${r.method.toUpperCase()} ${r.path}`);
  t.deepEqual(undocumented, [], 'add an entry to libs/contracts/src/api/*.api.ts and register the handler with route(router, ENTRY, …)');
  for (const r of api.filter((x) => x.tag)) {
    t.true(API_ROUTES.includes(r.tag!), `${r.tag!.operationId} is listed in API_ROUTES (catalog.ts)`);
    t.is(r.method, r.tag!.method, `${r.tag!.operationId}: method`);
    t.is(r.path, API_PREFIX + expressPath(r.tag!.path), `${r.tag!.operationId}: path`);
  }
  const outside = mounted.filter((r) => !r.path.startsWith(API_PREFIX)).map((r) => r.path);
  t.deepEqual(
    outside.filter((p) => !OPS_ROUTES.some((re) => re.test(p))),
    [],
    'routes outside /api/v1 are operations endpoints only',
  );
});

test('every catalog entry is mounted exactly once, and documented in the OpenAPI document', (t) => {
  for (const spec of API_ROUTES) {
    const at = mounted.filter((r) => r.tag === spec);
    t.is(at.length, 1, `${spec.operationId} mounted once`);
    const op = document.paths[spec.path]?.[spec.method];
    t.truthy(op, `${spec.method.toUpperCase()} ${spec.path} in the document`);
    if (!op) continue;
    const success = Object.entries(spec.responses).filter(([s]) => Number(s) < 300);
    t.true(success.length > 0, `${spec.operationId} documents its success answer`);
    for (const [status, r] of success) if (status !== '204') t.truthy(r.schema, `${spec.operationId} ${status} has a response schema`);
    const pathParams = [...spec.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    t.deepEqual((op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name).sort(), pathParams.sort(), `${spec.operationId}: path parameters`);
  }
});

test("each documented request schema is the very object its route's validator compiled", (t) => {
  const withBody = API_ROUTES.filter((s) => s.body);
  t.true(withBody.length >= 10);
  for (const spec of withBody) {
    t.is(BODY_VALIDATORS.get(spec), spec.body!.schema, `${spec.operationId}: the route built its validator from the catalog's schema object`);
    const documented = document.paths[spec.path]![spec.method]!.requestBody!.content['application/json']!.schema as { $ref?: string };
    const id = (spec.body!.schema as { $id?: string }).$id;
    t.truthy(id, `${spec.operationId}: request schemas are named`);
    t.is(documented.$ref, `#/components/schemas/${id}`);
    t.deepEqual(document.components.schemas[id!], toOpenApiSchema(spec.body!.schema, new Map()), `${spec.operationId}: the component is the validator's schema`);
  }
});

test('the document is valid OpenAPI 3.1 and every schema in it compiles as JSON Schema 2020-12', (t) => {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormatsModule.default(ajv);
  ajv.addFormat('media-range', true);
  // The official OAS 3.1 schema (vendored). Its Schema Objects are `$dynamicRef: #meta`, which
  // ajv does not resolve the way the spec intends; they are checked by the compile step below.
  const meta = JSON.parse(readFileSync(new URL('../../../../infra/schemas/openapi/openapi-3.1.schema.json', import.meta.url), 'utf8'), (_k, v) =>
    v && typeof v === 'object' && v.$dynamicRef === '#meta' ? { type: ['object', 'boolean'] } : v,
  );
  const validate = ajv.compile(meta);
  t.true(validate(document), JSON.stringify(validate.errors?.slice(0, 5), null, 2));
  const schemas = new Ajv2020({ strict: false });
  addFormatsModule.default(schemas);
  for (const f of ['host-name', 'posix-user']) schemas.addFormat(f, true);
  schemas.addSchema({ $id: 'doc', components: document.components });
  for (const name of Object.keys(document.components.schemas)) t.notThrows(() => schemas.getSchema(`doc#/components/schemas/${name}`), name);
});
