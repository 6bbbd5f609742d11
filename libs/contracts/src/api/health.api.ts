import { defineRoute, json, problems } from './route.js';

const health = { $id: 'Health', type: 'object', required: ['status', 'service', 'version'], properties: { status: { const: 'healthy' }, service: { type: 'string' }, version: { type: 'string' } } } as const;
const ready = {
  $id: 'Readiness',
  type: 'object',
  required: ['status', 'version', 'checks'],
  properties: { status: { const: 'ready' }, service: { type: 'string' }, version: { type: 'string' }, checks: { type: 'object', additionalProperties: { type: 'string' } } },
} as const;

export const HEALTH_API = {
  health: defineRoute({ operationId: 'getHealth', method: 'get', path: '/health', tag: 'health', callers: ['public'], summary: 'Service name and running version', responses: { 200: json('healthy', health) } }),
  live: defineRoute({
    operationId: 'getLiveness',
    method: 'get',
    path: '/health/live',
    tag: 'health',
    callers: ['public'],
    summary: 'Liveness: answered by the process alone (never fails because PostgreSQL or Redis is down)',
    responses: { 200: json('alive', { type: 'object', required: ['status'], properties: { status: { const: 'alive' } } }) },
  }),
  ready: defineRoute({
    operationId: 'getReadiness',
    method: 'get',
    path: '/health/ready',
    tag: 'health',
    callers: ['public'],
    summary: 'Readiness: PostgreSQL and Redis answer',
    responses: { 200: json('ready', ready), ...problems(503) },
  }),
} as const;

export const META_API = {
  openapi: defineRoute({
    operationId: 'getOpenApiDocument',
    method: 'get',
    path: '/openapi.json',
    tag: 'meta',
    callers: ['public'],
    summary: 'This OpenAPI 3.1 document (Swagger UI at /docs)',
    responses: { 200: json('the document', { type: 'object', required: ['openapi', 'paths'], properties: { openapi: { type: 'string' }, paths: { type: 'object' } } }) },
  }),
} as const;
