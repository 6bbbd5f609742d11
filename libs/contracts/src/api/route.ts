import type { FromSchema, JSONSchema } from 'json-schema-to-ts';

/**
 * One entry per API route: method, path, who may call it, its parameters, its request body schema
 * (the very object the route's validator compiles) and its responses. The express routes are
 * registered from these entries (services/ingest-api `route()`), the OpenAPI document is built
 * from them, and a test walks the real express app to prove the two agree.
 *
 * Adding a route: add its entry to an area file here (or a new one, listed in catalog.ts), then
 * register the handler with `route(router, ENTRY, …)`.
 */
export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** Who may call a route. `host` means a host key acting for its own system. */
export type Caller = 'public' | 'admin' | 'viewer' | 'host' | 'enrollment' | 'open-registration';

export interface ParamSpec {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  description?: string;
  schema: object;
}

export interface ResponseSpec {
  description: string;
  /** Absent: no body (e.g. 204). */
  schema?: object;
  /** Default application/json; problems are always application/problem+json. */
  contentType?: string;
  headers?: Record<string, { description: string; schema: object }>;
}

export interface BodySpec<S = object> {
  schema: S;
  /** An empty body reads as `{}` (the schema's fields are all optional). */
  optional?: boolean;
  description?: string;
  /** Other accepted content types, handled by the route itself (e.g. `zfs list` TSV). */
  alternatives?: Record<string, { description: string; schema: object }>;
}

export interface RouteSpec {
  operationId: string;
  method: HttpMethod;
  /** OpenAPI form (`/systems/{id}`), relative to the API prefix /api/v1. */
  path: string;
  summary: string;
  description?: string;
  tag: string;
  callers: readonly Caller[];
  params?: readonly ParamSpec[];
  body?: BodySpec;
  responses: Readonly<Record<number, ResponseSpec>>;
}

/** Keeps the literal types of the entry, so handlers get their body type from its schema. */
export function defineRoute<const S extends RouteSpec>(spec: S): S {
  return spec;
}

/** The request body type of a route, derived from the same schema its validator uses. */
export type BodyOf<S> = S extends { body: { schema: infer B } } ? (B extends JSONSchema ? FromSchema<B> : unknown) : never;

/** `/systems/{id}` → `/systems/:id` (express 5 path syntax). */
export function expressPath(path: string): string {
  return path.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, ':$1');
}

/** `/systems/:id` → `/systems/{id}`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
}

// ---- building blocks shared by the area files

export const PROBLEM_SCHEMA = {
  $id: 'Problem',
  type: 'object',
  description: 'RFC 9457 problem details; validation errors name the failing field and its JSON pointer',
  required: ['type', 'title', 'status', 'detail'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    field: { type: 'string' },
    pointer: { type: 'string' },
  },
} as const;

const UUID = { type: 'string', format: 'uuid' } as const;
export const pathUuid = (name: string, description: string): ParamSpec => ({ name, in: 'path', required: true, description, schema: UUID });
export const queryParam = (name: string, schema: object, description: string, required = false): ParamSpec => ({ name, in: 'query', required, description, schema });

export const json = (description: string, schema: object, headers?: ResponseSpec['headers']): ResponseSpec => ({ description, schema, ...(headers ? { headers } : {}) });
export const noContent = (description: string): ResponseSpec => ({ description });

/** The problem answers most routes can give. */
export const problems = (...statuses: number[]): Record<number, ResponseSpec> =>
  Object.fromEntries(statuses.map((s) => [s, { description: PROBLEM_TEXT[s] ?? 'problem', schema: PROBLEM_SCHEMA, contentType: 'application/problem+json' }]));

const PROBLEM_TEXT: Record<number, string> = {
  400: 'invalid input: the problem names the field',
  401: 'no credential, or not a valid one',
  403: 'the credential may not do this (e.g. a host key acting for another system)',
  404: 'no such resource',
  409: 'conflicts with the current state',
  413: 'the body is larger than this route accepts',
  415: 'unsupported content type or encoding',
  422: 'the value is well-formed but not acceptable',
  429: 'too many requests: retry after the Retry-After seconds',
  503: 'a dependency (PostgreSQL or Redis) is unavailable: nothing was changed, retry later',
};

/** Problems every authenticated route may answer. */
export const AUTHENTICATED = [401, 403, 429, 503] as const;
