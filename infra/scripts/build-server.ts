/**
 * `npm run build:server`: the server's entry points as ESM bundles for plain `node` in dist/, so
 * production runs compiled JavaScript instead of TypeScript through tsx (tsx's module-hooks
 * thread and transpiler cost every process ~35 MiB of RSS before our code loads).
 *
 *   dist/api.js                  services/ingest-api/src/main.ts
 *   dist/workers.js              services/workers/src/main.ts
 *   dist/migrate.js              libs/db/src/migrate.cli.ts
 *   dist/start.js                infra/scripts/start.ts (migrate, then dist/api.js + dist/workers.js)
 *   dist/admin-token-rotate.js   services/ingest-api/src/auth/rotate-admin-token.cli.ts
 *   dist/chunks/                 code the entry points share
 *
 * Our workspace packages (@zfs-sync/*, whose exports are .ts files) are bundled; every other
 * package stays external and is loaded from node_modules at run time, as from the sources — the
 * image installs the production dependencies, nothing is inlined from them. Source maps sit next
 * to each file: run with `node --enable-source-maps dist/api.js` and stack traces name the .ts
 * files and lines.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'esbuild';
import { NODE_BUNDLE_OPTIONS } from '../../services/agent/src/build.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
export const DEFAULT_SERVER_DIST = join(root, 'dist');

/** The heap settings module: the API's and the workers' first import (libs/runtime/src/heap.ts). */
const HEAP_SETTINGS = 'libs/runtime/src/heap-settings.ts';

/** Output name (dist/<name>.js) → source entry; `heapFirst` marks the long-running processes. */
export const SERVER_ENTRIES: Record<string, { source: string; heapFirst?: boolean }> = {
  api: { source: 'services/ingest-api/src/main.ts', heapFirst: true },
  workers: { source: 'services/workers/src/main.ts', heapFirst: true },
  migrate: { source: 'libs/db/src/migrate.cli.ts' },
  start: { source: 'infra/scripts/start.ts' },
  'admin-token-rotate': { source: 'services/ingest-api/src/auth/rotate-admin-token.cli.ts' },
};

/**
 * The heap settings must be in force before anything else is evaluated. From the sources the
 * entry point's first import does it; in an ESM bundle it cannot: the external packages' import
 * statements sit at the top of the output and run before any bundled code. So dist/api.js and
 * dist/workers.js are small entries that apply the settings, then import the program — its own
 * chunk — dynamically.
 */
function heapFirstEntries(): Plugin {
  return {
    name: 'zfs-sync-heap-first',
    setup(build) {
      build.onResolve({ filter: /^zfs-sync-heap-first:/ }, (args) => ({ path: args.path.slice('zfs-sync-heap-first:'.length), namespace: 'zfs-sync-heap-first' }));
      build.onLoad({ filter: /.*/, namespace: 'zfs-sync-heap-first' }, (args) => ({
        contents: `import ${JSON.stringify(`./${HEAP_SETTINGS}`)};\nawait import(${JSON.stringify(`./${args.path}`)});\n`,
        resolveDir: root,
        loader: 'js',
      }));
    },
  };
}

/** Every bare import except our own workspace packages stays external (node: built-ins included). */
function externalPackages(): Plugin {
  return {
    name: 'zfs-sync-external-packages',
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, (args) => (args.kind === 'entry-point' || args.path.startsWith('@zfs-sync/') ? undefined : { path: args.path, external: true }));
    },
  };
}

/** Sources that must never reach a production bundle. */
const NOT_FOR_PRODUCTION = /(^|\/)(node_modules|testing)\/|\.test\.ts$|^libs\/testkit\/|^bench\//;

export interface BuiltServer {
  outdir: string;
  /** Output name → absolute path of its entry file. */
  files: Record<string, string>;
  /** Workspace sources bundled (relative to the repository). */
  inputs: string[];
}

/**
 * Build every server entry point into `outdir` (default dist/). The old chunks are removed first;
 * other files there (the agent's bundle) are left alone. An outdir must lie inside the repository:
 * the bundles load their packages from its node_modules.
 */
export async function buildServer(outdir = DEFAULT_SERVER_DIST): Promise<BuiltServer> {
  const esbuild = await import('esbuild');
  const rel = relative(root, outdir);
  if (rel.startsWith('..') || rel === '') throw new Error(`build:server: ${outdir} is not a directory inside ${root} (the bundles resolve their packages from its node_modules)`);
  rmSync(join(outdir, 'chunks'), { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const result = await esbuild.build({
    ...NODE_BUNDLE_OPTIONS,
    absWorkingDir: root,
    entryPoints: Object.entries(SERVER_ENTRIES).map(([out, e]) => ({ in: e.heapFirst ? `zfs-sync-heap-first:${e.source}` : e.source, out })),
    outdir,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    // Mappings only: stack traces need the file names and lines, not a copy of every source.
    sourcemap: 'linked',
    sourcesContent: false,
    // Classes and functions keep their names where bundling would rename one to avoid a clash
    // (error names, logs and the ORM's metadata read `.name`).
    keepNames: true,
    plugins: [heapFirstEntries(), externalPackages()],
    metafile: true,
  });
  const inputs = Object.keys(result.metafile.inputs).filter((f) => !f.startsWith('zfs-sync-heap-first:'));
  const forbidden = inputs.filter((f) => NOT_FOR_PRODUCTION.test(f));
  if (forbidden.length) throw new Error(`build:server: test or third-party code was bundled (it must be external or not imported by the server):\n  ${forbidden.join('\n  ')}`);
  const files = Object.fromEntries(Object.keys(SERVER_ENTRIES).map((name) => [name, join(outdir, `${name}.js`)]));
  return { outdir, files, inputs };
}

// `node --import tsx infra/scripts/build-server.ts [outdir]`
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = performance.now();
  const built = await buildServer(process.argv[2] ?? DEFAULT_SERVER_DIST);
  process.stdout.write(`built ${Object.values(built.files).map((f) => relative(process.cwd(), f)).join(', ')} from ${built.inputs.length} sources in ${Math.round(performance.now() - started)} ms\n`);
}
