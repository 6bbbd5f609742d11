import { existsSync } from 'node:fs';
import express, { Router, type Response } from 'express';
import { HttpProblem } from './problem.js';

/**
 * Strict by default: only the page's own bundled script and stylesheet run, it talks only to this
 * origin, and it cannot be framed. The built assets contain no inline script, and the app never
 * turns data into HTML, so a hostname like `<script>…` is only ever text.
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

function securityHeaders(res: Response): void {
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
}

/**
 * The operators' dashboard at `/`: the single page and its hashed assets (from `dashboard_dir`,
 * the build in this installation by default), served by the API process itself (no CDN, no
 * separate web server). The page holds no data; everything it shows
 * comes from the authenticated API.
 */
export function dashboardRoutes(dist: string): Router {
  const r = Router();
  const index = `${dist}index.html`;
  r.get(['/', '/index.html'], (_req, res, next) => {
    if (!existsSync(index)) return next(new HttpProblem(503, 'dashboard-not-built', 'the dashboard is not built: run `npm run build` (npm ci does it)'));
    securityHeaders(res);
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(index);
  });
  r.use(
    '/assets',
    express.static(`${dist}assets`, {
      index: false,
      fallthrough: true,
      immutable: true,
      maxAge: '365d',
      setHeaders: (res) => securityHeaders(res as Response),
    }),
  );
  return r;
}
