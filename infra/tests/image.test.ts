import test from 'ava';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import dockerignoreModule from '@balena/dockerignore';
import { createTestEnvironment, type TestEnvironment } from '@zfs-sync/testkit/stack';
import { buildServer } from '../scripts/build-server.js';
import { fetchOnce, repoPath, repoRoot, run, startNodeProcess } from './tools.js';

/*
 * The production image, checked without a Docker engine: its Dockerfile's promises, the files its
 * build context and COPY lines put into it (.dockerignore applied by the same library Docker's
 * tooling uses), and a real `npm ci --omit=dev` of its manifests — then the compiled entry points
 * (npm run build:server, as the build stage runs it) are copied in and the API, the workers and
 * the migration are started from that pruned copy with plain node, as the image would run them.
 */

const dockerfile = readFileSync(repoPath('infra/docker/Dockerfile'), 'utf8');
const rootPackage = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { version: string; workspaces: string[]; dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
/** Instructions of one stage, continuation lines joined. */
function stage(name: string): string[] {
  const lines = dockerfile.replace(/\\\n\s*/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const start = lines.findIndex((l) => new RegExp(`^FROM \\S+ AS ${name}$`, 'i').test(l));
  const end = lines.findIndex((l, i) => i > start && /^FROM /i.test(l));
  return lines.slice(start, end === -1 ? undefined : end);
}
const runtime = stage('runtime');

test('the runtime stage: production dependencies only, non-root, HEALTHCHECK, version label equal to package.json', (t) => {
  t.true(runtime.some((l) => /^RUN npm ci --omit=dev\b/.test(l)), 'npm ci --omit=dev');
  const user = runtime.filter((l) => l.startsWith('USER ')).at(-1);
  t.regex(user ?? '', /^USER [1-9][0-9]*:[1-9][0-9]*$/, 'a numeric non-root user (runAsNonRoot can verify it)');
  t.true(runtime.some((l) => l.startsWith('HEALTHCHECK ') && l.includes('/api/v1/health/live')));
  t.regex(runtime.find((l) => l.startsWith('LABEL ')) ?? '', /org\.opencontainers\.image\.version="\$\{VERSION\}"/);
  t.is(/^ARG VERSION=(\S+)$/m.exec(dockerfile)?.[1], rootPackage.version, 'ARG VERSION default = package.json version');
  // Compiled JavaScript with plain node: no tsx at run time, stack traces through the source maps.
  t.is(runtime.find((l) => l.startsWith('ENTRYPOINT')), 'ENTRYPOINT ["node", "--enable-source-maps"]');
  t.is(runtime.find((l) => l.startsWith('CMD')), 'CMD ["dist/api.js"]');
  t.true(stage('build').includes('RUN npm run build:server'), 'the build stage compiles the server');
  t.true(runtime.includes('COPY --from=build /app/dist dist'), 'the runtime stage takes its code from the build stage');
});

/** Every file of the working tree that is not ignored by git. */
function repoFiles(): string[] {
  const r = run('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z']);
  return r.stdout.split('\0').filter((f) => f && existsSync(join(repoRoot, f)));
}

/** The files the runtime stage copies from the build context (after .dockerignore). */
function imageFiles(): string[] {
  // A CommonJS module whose typings declare an ES default export.
  const dockerignore = dockerignoreModule as unknown as (typeof dockerignoreModule)['default'];
  const ignore = dockerignore({ ignorecase: false }).add(readFileSync(repoPath('.dockerignore'), 'utf8'));
  const context = repoFiles().filter((f) => !ignore.ignores(f));
  const sources = copySources();
  const fromManifests = context.filter((f) => f === 'package.json' || f === 'package-lock.json' || /^(libs|services)\/[^/]+\/package\.json$/.test(f));
  const copied = context.filter((f) =>
    sources.some((s) => (s.includes('*') ? new RegExp(`^${s.replaceAll('.', '\\.').replaceAll('*', '[^/]*')}$`).test(f) : f === s || f.startsWith(`${s}/`))),
  );
  return [...new Set([...fromManifests, ...copied])].sort();
}
/** The build-context paths the runtime stage's COPY lines name. */
function copySources(): string[] {
  return runtime.filter((l) => l.startsWith('COPY ') && !l.startsWith('COPY --from')).flatMap((l) => l.split(/\s+/).slice(1, -1));
}

test('no source, test file, harness, fixture or testkit source is copied into the image', (t) => {
  const files = imageFiles();
  // The code arrives compiled from the build stage (its own checks: server-bundle.test.ts); from the
  // build context only the manifests and the configuration examples.
  t.deepEqual(copySources(), ['config/*.example']);
  t.true(files.includes('package.json') && files.includes('libs/db/package.json') && files.includes('config/zfs_sync.yaml.example'));
  t.deepEqual(files.filter((f) => f.endsWith('.ts')), []);
  const testish = files.filter((f) => /\.test\.ts$|(^|\/)testing\/|test-fixtures|^libs\/testkit\/src\//.test(f));
  t.deepEqual(testish, []);
});

// ---- npm ci --omit=dev, for real, and the processes started from the pruned copy

let env: TestEnvironment;
let image: string;
let bundleDir: string;
let installed: string[];

test.before(async () => {
  env = await createTestEnvironment();
  image = mkdtempSync(join(tmpdir(), 'zfs-sync-image-'));
  for (const f of imageFiles()) {
    mkdirSync(dirname(join(image, f)), { recursive: true });
    cpSync(join(repoRoot, f), join(image, f));
  }
  // As the Dockerfile does; from the local npm cache when it has the packages. Niced: the suite's
  // timing-sensitive fault tests run beside it on two cores.
  const ci = run('nice', ['-n', '15', 'npm', 'ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: image });
  if (ci.status !== 0) throw new Error(`npm ci --omit=dev failed:\n${ci.stdout}\n${ci.stderr}`);
  installed = listPackages(join(image, 'node_modules'));
  // The build stage's dist/ (built inside the repository, where esbuild and the sources are).
  mkdirSync(join(repoRoot, 'dist'), { recursive: true });
  bundleDir = mkdtempSync(join(repoRoot, 'dist', '.test-image-'));
  await buildServer(bundleDir);
  cpSync(bundleDir, join(image, 'dist'), { recursive: true });
});
test.after.always(async () => {
  if (image) rmSync(image, { recursive: true, force: true });
  if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
  await env?.teardown();
});

function listPackages(dir: string, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const full = join(dir, entry.name);
    if (entry.name.startsWith('@') && entry.isDirectory()) {
      for (const sub of readdirSync(full)) out.push(`${entry.name}/${sub}`), listPackages(join(full, sub, 'node_modules'), out);
    } else {
      out.push(entry.name);
      listPackages(join(full, 'node_modules'), out);
    }
  }
  return out;
}

test('npm ci --omit=dev installs no test package', (t) => {
  const names = new Set(installed);
  t.true(names.has('express') && names.has('bullmq') && names.has('swagger-ui-dist'), 'runtime packages are there');
  for (const pkg of ['tsx', 'esbuild', 'testcontainers', '@testcontainers/postgresql', '@testcontainers/redis', 'dockerode', 'docker-modem', 'ssh2', 'ava', 'fast-check', 'autocannon', 'playwright-core', 'json-schema-to-ts', '@balena/dockerignore']) {
    t.false(names.has(pkg), `${pkg} is installed in production`);
  }
  // And generally: a package only ever declared as a devDependency stays out.
  const manifests = [rootPackage, ...readdirSync(join(image, 'libs')).map((d) => `libs/${d}`), ...readdirSync(join(image, 'services')).map((d) => `services/${d}`)].map((m) =>
    typeof m === 'string' ? (JSON.parse(readFileSync(join(image, m, 'package.json'), 'utf8')) as typeof rootPackage) : m,
  );
  const runtimeDeps = new Set(manifests.flatMap((m) => Object.keys(m.dependencies ?? {})));
  const devOnly = manifests.flatMap((m) => Object.keys(m.devDependencies ?? {})).filter((d) => !d.startsWith('@zfs-sync/') && !runtimeDeps.has(d));
  t.true(devOnly.length > 5);
  // Every package the lock file reaches only through devDependencies stays out. (typescript is
  // installed all the same, and is not a test package: Bull Board's valibot names it an optional
  // peer, so the lock marks it devOptional; nothing loads it at run time. @types/node comes with
  // @mikro-orm/migrations' dependencies.)
  const lock = JSON.parse(readFileSync(join(image, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const devPaths = Object.entries(lock.packages).filter(([, v]) => v.dev).map(([k]) => k);
  t.true(devOnly.filter((d) => !['typescript', '@types/node'].includes(d)).every((d) => devPaths.includes(`node_modules/${d}`)), 'dev-only declarations are dev in the lock file');
  t.deepEqual(devPaths.filter((p) => existsSync(join(image, p))), [], 'packages npm marks dev that are installed');
});

// No npm_package_version and no dev tools: the environment of `docker run` (ENTRYPOINT + CMD).
const start = (entry: string, extraEnv: Record<string, string>, ready: RegExp) =>
  startNodeProcess(entry, { cwd: image, ready, env: { DATABASE_URL: env.db.url, REDIS_URL: env.redisUrl, ZFS_SYNC_QUEUE_PREFIX: env.prefix, ZFS_SYNC_LOG_FORMAT: 'json', ZFS_SYNC_ADMIN_TOKEN: 'zs_admin_image-test-token-0000000000000000000000', ...extraEnv } });

test.serial('from the pruned copy: migrate, the API (health with the package version, /metrics, /docs assets) and the workers start', async (t) => {
  const migrate = run(process.execPath, ['--enable-source-maps', 'dist/migrate.js'], { cwd: image });
  t.is(migrate.status, 0, migrate.stdout + migrate.stderr);

  const api = await start('dist/api.js', { PORT: '0', ZFS_SYNC_HOST: '127.0.0.1' }, /"port":(\d+)/);
  try {
    const base = `http://127.0.0.1:${api.match[1]}`;
    const health = JSON.parse((await fetchOnce(`${base}/api/v1/health`)).text) as { version: string };
    t.is(health.version, rootPackage.version, 'version read from package.json inside the image');
    t.regex((await fetchOnce(`${base}/metrics`)).text, new RegExp(`zfs_sync_build_info\\{[^}]*version="${rootPackage.version.replaceAll('.', '\\.')}"`));
    t.is((await fetchOnce(`${base}/docs/assets/swagger-ui-bundle.js`)).status, 200, 'swagger-ui-dist is a runtime dependency');
    t.is((await fetchOnce(`${base}/admin/queues`)).status, 401);
  } finally {
    t.is(await api.stop(), 0, api.output());
  }
  const workers = await start('dist/workers.js', { ZFS_SYNC_OPS_PORT: '0' }, /workers ready/);
  t.is(await workers.stop(), 0, workers.output());
});
