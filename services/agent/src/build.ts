/**
 * The host bundle: one ESM file with every dependency inlined (got, yaml, ajv, the domain), run
 * by Node ≥ 20 with nothing else installed. `npm run build:agent` writes dist/zfs-sync-agent.mjs.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildOptions } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_BUNDLE = join(here, '..', '..', '..', 'dist', 'zfs-sync-agent.mjs');

/** What every zfs-sync bundle shares (this agent; the server's dist/*.js — infra/scripts/build-server.ts): ESM for Node 20. */
export const NODE_BUNDLE_OPTIONS = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  legalComments: 'eof',
  logLevel: 'warning',
} as const satisfies BuildOptions;
/**
 * A `require` for CommonJS code inlined into an ESM bundle (ajv calls require(); an ESM bundle has
 * none, and esbuild's stand-in throws "Dynamic require … is not supported").
 */
export const REQUIRE_SHIM = "import { createRequire as __zsCreateRequire } from 'node:module';\nconst require = __zsCreateRequire(import.meta.url);";

export async function buildAgentBundle(outfile = DEFAULT_BUNDLE): Promise<string> {
  const esbuild = await import('esbuild');
  mkdirSync(dirname(outfile), { recursive: true });
  await esbuild.build({
    ...NODE_BUNDLE_OPTIONS,
    entryPoints: [join(here, 'cli.ts')],
    outfile,
    minifyWhitespace: false,
    banner: { js: `#!/usr/bin/env node\n${REQUIRE_SHIM}` },
  });
  chmodSync(outfile, 0o755);
  return outfile;
}

// `node --import tsx services/agent/src/build.ts [outfile]`
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = await buildAgentBundle(process.argv[2] ?? DEFAULT_BUNDLE);
  process.stdout.write(`built ${out}\n`);
}
