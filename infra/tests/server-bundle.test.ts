import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createTestEnvironment, type TestEnvironment } from '@zfs-sync/testkit/stack';
import { buildServer, type BuiltServer } from '../scripts/build-server.js';
import { fetchOnce, repoPath, repoRoot, startNodeProcess } from './tools.js';

/*
 * The compiled server (npm run build:server): built into a private directory under dist/, then
 * dist/api.js, dist/workers.js and dist/start.js run with plain node — no tsx — against a
 * throwaway database and queue prefix, as the image and `npm start` run them.
 */

const rootPackage = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { version: string };
let env: TestEnvironment;
let outdir: string;
let built: BuiltServer;

test.before(async () => {
  // Inside the repository: the bundles load their npm packages from its node_modules.
  mkdirSync(join(repoRoot, 'dist'), { recursive: true });
  outdir = mkdtempSync(join(repoRoot, 'dist', '.test-server-'));
  [built, env] = await Promise.all([buildServer(outdir), createTestEnvironment()]);
});
test.after.always(async () => {
  if (outdir) rmSync(outdir, { recursive: true, force: true });
  await env?.teardown();
});

/** `node --enable-source-maps <bundle>` against this file's database and queue prefix. */
const start = (bundle: string, extraEnv: Record<string, string>, ready: RegExp) =>
  startNodeProcess(bundle, { cwd: repoRoot, ready, env: { DATABASE_URL: env.db.url, REDIS_URL: env.redisUrl, ZFS_SYNC_QUEUE_PREFIX: env.prefix, ZFS_SYNC_LOG_FORMAT: 'json', ZFS_SYNC_ADMIN_TOKEN: 'zs_admin_bundle-test-token-00000000000000000000000', ...extraEnv } });

/** The static imports of a bundle file (its `import … from "x"` and bare `import "x"` lines). */
const staticImports = (code: string) => [...code.matchAll(/^import\s+(?:[^'"]*?\s+from\s+)?["']([^"']+)["'];?$/gm)].map((m) => m[1]!);

test('the workspace packages are bundled, npm packages stay external, no test code is inside', (t) => {
  t.true(built.inputs.includes('services/ingest-api/src/main.ts') && built.inputs.includes('libs/config/src/config.ts'));
  t.deepEqual(built.inputs.filter((f) => /node_modules|\.test\.ts$|testkit|\/testing\//.test(f)), []);
  const chunks = readdirSync(join(outdir, 'chunks')).filter((f) => f.endsWith('.js'));
  const imported = new Set(chunks.flatMap((f) => staticImports(readFileSync(join(outdir, 'chunks', f), 'utf8'))));
  for (const pkg of ['express', 'pino', 'bullmq', 'pg']) t.true(imported.has(pkg), `${pkg} is imported from node_modules, not inlined`);
  t.false([...imported].some((p) => p.startsWith('@zfs-sync/')), 'no import of a workspace package is left');
});

test('dist/api.js and dist/workers.js apply the heap settings before any package loads', (t) => {
  for (const name of ['api', 'workers']) {
    const code = readFileSync(built.files[name]!, 'utf8');
    // Only our own chunks statically (the heap settings), the program dynamically: an ESM module's
    // static imports — npm packages included — are all evaluated before its body.
    const imports = staticImports(code);
    t.true(imports.length > 0 && imports.every((p) => p.startsWith('./chunks/')), `${name}.js imports ${imports.join(', ')}`);
    const heap = imports.map((p) => readFileSync(join(outdir, p), 'utf8')).filter((c) => c.includes('applyHeapSettings()'));
    t.is(heap.length, 1, `${name}.js imports the chunk that applies the heap settings`);
    t.deepEqual(staticImports(heap[0]!).filter((p) => !p.startsWith('./') && !p.startsWith('node:')), [], 'that chunk loads no npm package');
    t.regex(code, /await import\("\.\/chunks\/main-[^"]+\.js"\)/);
  }
});

test('stack traces name the TypeScript sources (source maps)', (t) => {
  const chunk = readdirSync(join(outdir, 'chunks')).find((f) => f.endsWith('.js') && /export \{[^}]*\bloadConfigOrExit\b/.test(readFileSync(join(outdir, 'chunks', f), 'utf8')));
  t.truthy(chunk, 'a chunk exports loadConfigOrExit');
  // A working directory that is not a string: node:path throws inside loadConfig, and the error is
  // not a ConfigError, so it propagates with its stack.
  const script = `const { loadConfigOrExit } = await import(${JSON.stringify(join(outdir, 'chunks', chunk!))}); try { loadConfigOrExit({ env: {}, cwd: 42 }); } catch (err) { console.log(err.stack); }`;
  const r = spawnSync(process.execPath, ['--enable-source-maps', '--input-type=module', '-e', script], { cwd: repoRoot, encoding: 'utf8' });
  t.regex(r.stdout, /ERR_INVALID_ARG_TYPE/, r.stdout + r.stderr);
  t.regex(r.stdout, /at loadConfig \(\S*\/libs\/config\/src\/config\.ts:\d+:\d+\)/, r.stdout + r.stderr);
  t.regex(r.stdout, /at loadConfigOrExit \(\S*\/libs\/config\/src\/config\.ts:\d+:\d+\)/);
  t.notRegex(r.stdout, /chunks\//, 'no frame points into the bundle');
});

test.serial('dist/api.js answers /health/live with the package version; dist/workers.js becomes ready', async (t) => {
  const api = await start(built.files.api!, { PORT: '0', ZFS_SYNC_HOST: '127.0.0.1' }, /"port":(\d+)/);
  try {
    const base = `http://127.0.0.1:${api.match[1]}/api/v1`;
    const live = await fetchOnce(`${base}/health/live`);
    t.is(live.status, 200);
    t.deepEqual(JSON.parse(live.text), { status: 'alive' });
    const health = JSON.parse((await fetchOnce(`${base}/health`)).text) as { version: string };
    t.is(health.version, rootPackage.version, 'the version is read from the root package.json');
    t.regex(api.output(), new RegExp(`"version":"${rootPackage.version.replaceAll('.', '\\.')}"`), 'and logged');
  } finally {
    t.is(await api.stop(), 0, api.output());
  }
  const workers = await start(built.files.workers!, { ZFS_SYNC_OPS_PORT: '0' }, /workers ready/);
  try {
    const opsPort = /"port":(\d+)[^\n]*ops server/.exec(workers.output())?.[1];
    t.is((await fetchOnce(`http://127.0.0.1:${opsPort}/readyz`)).status, 200);
  } finally {
    t.is(await workers.stop(), 0, workers.output());
  }
});

test.serial('dist/start.js migrates, then runs the compiled API and workers beside it', async (t) => {
  const stack = await start(built.files.start!, { PORT: '0', ZFS_SYNC_HOST: '127.0.0.1', ZFS_SYNC_OPS_PORT: '0' }, /"port":(\d+)[^\n]*ingest API listening[\s\S]*workers ready|workers ready[\s\S]*"port":(\d+)[^\n]*ingest API listening/);
  try {
    const port = stack.match[1] ?? stack.match[2];
    t.is((await fetchOnce(`http://127.0.0.1:${port}/api/v1/health/live`)).status, 200);
    // The children are the bundles in the same directory, with plain node (`nice` exec'd node: same pid).
    const children = spawnSync('ps', ['-o', 'args=', '--ppid', String(stack.pid)], { encoding: 'utf8' }).stdout;
    t.regex(children, new RegExp(`--enable-source-maps ${outdir.replaceAll('.', '\\.')}/api\\.js`));
    t.regex(children, new RegExp(`--enable-source-maps ${outdir.replaceAll('.', '\\.')}/workers\\.js`));
    t.notRegex(children, /tsx/);
  } finally {
    t.is(await stack.stop(), 0, stack.output());
  }
});
