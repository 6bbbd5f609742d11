import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The dashboard builds to services/dashboard/dist, which the ingest API serves at `/`. No plugin:
 * esbuild compiles the JSX for Preact directly. Everything is bundled — nothing is loaded from a
 * CDN at run time — and nothing inline is emitted, so the page runs under a strict
 * Content-Security-Policy (script-src 'self').
 */
export default defineConfig({
  root: fileURLToPath(new URL('./web', import.meta.url)),
  base: '/',
  logLevel: 'warn',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: fileURLToPath(new URL('./dist', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: false,
  },
});
