/**
 * The host bundle: one ESM file with every dependency inlined (got, yaml, ajv, the domain), run
 * by Node ≥ 20 with nothing else installed. `npm run build:agent` writes dist/zfs-sync-agent.mjs.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_BUNDLE = join(here, '..', '..', '..', 'dist', 'zfs-sync-agent.mjs');

export async function buildAgentBundle(outfile = DEFAULT_BUNDLE): Promise<string> {
  const esbuild = await import('esbuild');
  mkdirSync(dirname(outfile), { recursive: true });
  await esbuild.build({
    entryPoints: [join(here, 'cli.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minifyWhitespace: false,
    legalComments: 'eof',
    // CommonJS dependencies (ajv) call require(): give the ESM bundle one.
    banner: { js: "#!/usr/bin/env node\nimport { createRequire as __zsCreateRequire } from 'node:module';\nconst require = __zsCreateRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  chmodSync(outfile, 0o755);
  return outfile;
}

// `node --import tsx services/agent/src/build.ts [outfile]`
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = await buildAgentBundle(process.argv[2] ?? DEFAULT_BUNDLE);
  process.stdout.write(`built ${out}\n`);
}
