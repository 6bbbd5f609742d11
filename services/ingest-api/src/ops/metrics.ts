import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Registry } from 'prom-client';
import { counter, histogram } from '@zfs-sync/runtime';
import { sameHash, hashKey } from '../auth/credentials.js';
import { sendProblem } from '../http/problem.js';

/** The API's own metrics (names, help and label sets come from the catalog in libs/runtime). */
export function createApiMetrics(registry: Registry) {
  return {
    registry,
    httpRequests: counter(registry, 'zfs_sync_http_requests_total'),
    httpDuration: histogram(registry, 'zfs_sync_http_request_duration_seconds'),
    reportsAccepted: counter(registry, 'zfs_sync_reports_accepted_total'),
    inventoryBodiesRecognised: counter(registry, 'zfs_sync_inventory_bodies_recognised_total'),
    plansHandedOut: counter(registry, 'zfs_sync_plans_handed_out_total'),
    transfers: counter(registry, 'zfs_sync_transfers_total'),
  };
}
export type ApiMetrics = ReturnType<typeof createApiMetrics>;

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * The route label: the route template the request matched (never the raw path, which would give
 * one series per system id). Set by the documented-route tag (res.locals.routeTemplate) or by an
 * ops mount; express's own req.route is the fallback for anything else.
 */
export function routeLabel(req: Request, res: Response): string {
  const tagged = res.locals.routeTemplate as string | undefined;
  if (tagged) return tagged;
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? `${req.baseUrl}${path}` : 'unmatched';
}

/** Count and time every request once it has been answered (or the client went away). */
export function httpMetrics(metrics: ApiMetrics): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    observeRequest(metrics, req, res, () => routeLabel(req, res));
    next();
  };
}

/** Count and time one request under its route label, once it has been answered (or the client went away). */
export function observeRequest(metrics: ApiMetrics, req: IncomingMessage, res: ServerResponse, route: () => string): void {
  const stop = metrics.httpDuration.startTimer();
  let done = false;
  const record = () => {
    if (done) return;
    done = true;
    const method = req.method ?? 'OTHER';
    const labels = { method: METHODS.has(method) ? method : 'OTHER', route: route(), status: String(res.statusCode) };
    stop(labels);
    metrics.httpRequests.inc(labels);
  };
  res.once('finish', record);
  res.once('close', record);
}

/**
 * GET /metrics for Prometheus. Open by default (scrape it on the internal network); with
 * `metrics_token` set, Prometheus must send `Authorization: Bearer <token>`.
 */
export function metricsEndpoint(registry: Registry, token: string | null): RequestHandler {
  const tokenHash = token ? hashKey(token) : null;
  return async (req: Request, res: Response) => {
    res.locals.routeTemplate = '/metrics';
    if (tokenHash) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
      if (!m || !sameHash(hashKey(m[1]!), tokenHash)) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="zfs-sync metrics"');
        return sendProblem(res, { type: 'urn:zfs-sync:problem:unauthorized', title: 'Unauthorized', status: 401, detail: 'this /metrics needs Authorization: Bearer <ZFS_SYNC_METRICS_TOKEN>' });
      }
    }
    res.setHeader('Content-Type', registry.contentType);
    res.setHeader('Cache-Control', 'no-store');
    res.send(await registry.metrics());
  };
}
