import { API_ROUTES } from './catalog.js';
import type { Caller, RouteSpec } from './route.js';

export const API_PREFIX = '/api/v1';

const CALLER_TEXT: Record<Caller, string> = {
  public: 'anyone (no credential)',
  admin: 'the admin token',
  viewer: 'a viewer (read-only operator) token',
  host: "a host key, for its own system only",
  enrollment: 'the enrollment token',
  'open-registration': 'anyone, when ZFS_SYNC_OPEN_REGISTRATION=true',
};

type Json = Record<string, unknown>;

/**
 * A validator schema as OpenAPI 3.1 (JSON Schema 2020-12) sees it: the same object with ajv's
 * own extensions renamed (`maxJsonBytes` → `x-max-json-bytes`), draft-07 tuples as
 * `prefixItems`, and every sub-schema that has an `$id` moved to components and referenced.
 */
export function toOpenApiSchema(schema: unknown, components: Map<string, { source: object; converted: Json }> | null, isRoot = true): unknown {
  if (Array.isArray(schema)) return schema.map((s) => toOpenApiSchema(s, components, false));
  if (schema === null || typeof schema !== 'object') return schema;
  const s = schema as Json;
  if (components && typeof s.$id === 'string' && !isRoot) return ref(s, components);
  const out: Json = {};
  for (const [key, value] of Object.entries(s)) {
    if (key === '$id') continue;
    if (key === 'maxJsonBytes') out['x-max-json-bytes'] = value;
    else if (key === 'items' && Array.isArray(value)) out.prefixItems = toOpenApiSchema(value, components, false);
    else if (key === 'properties' || key === 'patternProperties') out[key] = Object.fromEntries(Object.entries(value as Json).map(([k, v]) => [k, toOpenApiSchema(v, components, false)]));
    else out[key] = toOpenApiSchema(value, components, false);
  }
  return out;
}

function ref(schema: Json, components: Map<string, { source: object; converted: Json }>): Json {
  const name = schema.$id as string;
  const known = components.get(name);
  if (known && known.source !== schema) throw new Error(`two different schemas share the $id ${name}`);
  if (!known) {
    const entry = { source: schema, converted: {} as Json };
    components.set(name, entry); // before converting: a schema may refer to itself
    entry.converted = toOpenApiSchema(schema, components, true) as Json;
  }
  return { $ref: `#/components/schemas/${name}` };
}

/** A schema used in the document: named ones become components. */
function use(schema: object, components: Map<string, { source: object; converted: Json }>): unknown {
  return typeof (schema as Json).$id === 'string' ? ref(schema as Json, components) : toOpenApiSchema(schema, components, true);
}

function operation(route: RouteSpec, components: Map<string, { source: object; converted: Json }>): Json {
  const op: Json = {
    operationId: route.operationId,
    summary: route.summary,
    tags: [route.tag],
    description: [route.description, `Who may call: ${route.callers.map((c) => CALLER_TEXT[c]).join('; ')}.`].filter(Boolean).join('\n\n'),
    'x-callers': route.callers,
    security: route.callers.includes('public') ? [] : route.callers.includes('open-registration') ? [{}, { apiKey: [] }, { bearer: [] }] : [{ apiKey: [] }, { bearer: [] }],
  };
  if (route.params?.length) {
    op.parameters = route.params.map((p) => ({
      name: p.name,
      in: p.in,
      required: p.in === 'path' ? true : (p.required ?? false),
      ...(p.description ? { description: p.description } : {}),
      ...(p.in === 'query' && (p.schema as Json).type === 'array' ? { style: 'form', explode: true } : {}),
      schema: use(p.schema, components),
    }));
  }
  if (route.body) {
    const content: Json = { 'application/json': { schema: use(route.body.schema, components) } };
    for (const [type, alt] of Object.entries(route.body.alternatives ?? {})) content[type] = { schema: use(alt.schema, components) };
    op.requestBody = { required: !route.body.optional, ...(route.body.description ? { description: route.body.description } : {}), content };
  }
  op.responses = Object.fromEntries(
    Object.entries(route.responses).map(([status, r]) => [
      status,
      {
        description: r.description,
        ...(r.headers ? { headers: Object.fromEntries(Object.entries(r.headers).map(([h, v]) => [h, { description: v.description, schema: v.schema }])) } : {}),
        ...(r.schema ? { content: { [r.contentType ?? 'application/json']: { schema: use(r.schema, components) } } } : {}),
      },
    ]),
  );
  return op;
}

/** The OpenAPI 3.1 document of the API, built from the route catalog and its schema objects. */
export function buildOpenApiDocument(opts: { version: string; routes?: readonly RouteSpec[] }): Json {
  const routes = opts.routes ?? API_ROUTES;
  const components = new Map<string, { source: object; converted: Json }>();
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    const item = (paths[route.path] ??= {});
    if (item[route.method]) throw new Error(`${route.method.toUpperCase()} ${route.path} is defined twice in the route catalog`);
    item[route.method] = operation(route, components);
  }
  const tags = [...new Set(routes.map((r) => r.tag))].map((name) => ({ name }));
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    info: {
      title: 'zfs-sync',
      version: opts.version,
      description:
        'A witness that keeps ZFS snapshots in sync across hosts. uint64 values (guid, createtxg, sizes) are decimal strings. Errors are RFC 9457 application/problem+json naming the failing field.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: API_PREFIX }],
    tags,
    paths,
    components: {
      securitySchemes: {
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'a host key (zs_host_…), the admin token or the enrollment token' },
        bearer: { type: 'http', scheme: 'bearer', description: 'the same credentials as Authorization: Bearer …' },
      },
      schemas: Object.fromEntries([...components].sort(([a], [b]) => a.localeCompare(b)).map(([name, c]) => [name, c.converted])),
    },
  };
}
