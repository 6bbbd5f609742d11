import test from 'ava';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { Ajv } from 'ajv';
import { CONFIG_KEYS } from '@zfs-sync/config';
import { PROCESSORS } from '@zfs-sync/workers';
import { interpolate, mergeCompose, readCompose, readComposeRaw, readEnvFile, toPlain, variables } from './compose-files.js';
import { SERVER_ENTRIES } from '../scripts/build-server.js';
import { repoPath, repoRoot } from './tools.js';

/*
 * No Docker engine here: the compose files are checked against the Compose specification's JSON
 * schema (vendored under infra/schemas/compose) and against the repository — every file, port,
 * variable and processor they name must exist.
 */

const ajv = new Ajv({ strict: false, allErrors: true });
// The spec names its draft-07 meta-schema by an https URL ajv does not know under that name.
const { $schema: _draft07, ...schema } = JSON.parse(readFileSync(repoPath('infra/schemas/compose/compose-spec.json'), 'utf8'));
const validate = ajv.compile(schema);
const errorsOf = () => JSON.stringify(validate.errors?.slice(0, 5), null, 2);

const baseRaw = readCompose(repoPath('docker-compose.yml'));
const prodRaw = readCompose(repoPath('docker-compose.prod.yml'));
const devEnv = readEnvFile(repoPath('infra/compose/compose.env.example'));
const prodEnv = readEnvFile(repoPath('infra/compose/prod.env.example'));
const base = interpolate(baseRaw, devEnv);
const prod = interpolate(toPlain(mergeCompose(readComposeRaw(repoPath('docker-compose.yml')), readComposeRaw(repoPath('docker-compose.prod.yml')))), prodEnv);
const deployments = { 'docker-compose.yml': base, 'docker-compose.yml + docker-compose.prod.yml': prod };

const KNOWN_ENV = new Set<string>(CONFIG_KEYS.flatMap((k) => [...k.env]));
const isZfsSync = (svc: any) => typeof svc.image === 'string' && svc.image.includes('zfs-sync');
const zfsSyncServices = (doc: any) => Object.entries(doc.services as Record<string, any>).filter(([, s]) => isZfsSync(s));

test('both files, as written and after interpolation, and their merge are valid against the Compose specification schema', (t) => {
  for (const [name, doc] of [['docker-compose.yml (raw)', baseRaw], ['docker-compose.prod.yml (raw)', prodRaw], ...Object.entries(deployments)] as const) {
    t.true(validate(doc), `${name}: ${errorsOf()}`);
  }
});

test('every interpolated variable is listed in the env example of its deployment, and nothing else is', (t) => {
  const usedBase = variables(baseRaw);
  const usedProd = variables(mergeCompose(baseRaw, prodRaw));
  t.deepEqual([...usedBase.keys()].sort(), Object.keys(devEnv).sort(), 'infra/compose/compose.env.example ↔ docker-compose.yml');
  t.deepEqual([...usedProd.keys()].sort(), Object.keys(prodEnv).sort(), 'infra/compose/prod.env.example ↔ both files');
  // Production never falls back to a development secret: these are required (${VAR:?…}).
  for (const secret of ['POSTGRES_PASSWORD', 'REDIS_PASSWORD', 'ZFS_SYNC_ADMIN_TOKEN']) t.true(variables(prodRaw).get(secret)?.required, `${secret} is required in production`);
  t.throws(() => interpolate(prodRaw, { ...prodEnv, POSTGRES_PASSWORD: '' }), { message: /POSTGRES_PASSWORD/ });
});

test('every file and directory the compose files reference exists', (t) => {
  for (const [name, doc] of Object.entries(deployments)) {
    for (const [svcName, svc] of Object.entries(doc.services as Record<string, any>)) {
      if (svc.build) {
        const context = typeof svc.build === 'string' ? svc.build : svc.build.context;
        t.true(statSync(repoPath(context)).isDirectory(), `${name} ${svcName}: build context ${context}`);
        if (svc.build.dockerfile) t.true(existsSync(repoPath(`${context}/${svc.build.dockerfile}`)), `${svcName}: dockerfile`);
      }
      for (const v of svc.volumes ?? []) {
        const source = typeof v === 'string' ? v.split(':')[0]! : v.source;
        if (source.startsWith('.') || source.startsWith('/')) t.true(existsSync(repoPath(source)), `${name} ${svcName}: bind mount ${source}`);
        else t.true(source in (doc.volumes ?? {}), `${name} ${svcName}: named volume ${source} is declared`);
      }
      for (const f of [svc.env_file ?? []].flat()) {
        const path = typeof f === 'string' ? f : f.path;
        if (typeof f === 'string' || f.required !== false) t.true(existsSync(repoPath(path)), `${name} ${svcName}: env_file ${path}`);
      }
      if (isZfsSync(svc)) {
        // The image runs the compiled entry points (npm run build:server): dist/<name>.js.
        const entry = SERVER_ENTRIES[/^dist\/(.+)\.js$/.exec(svc.command[0])?.[1] ?? ''];
        t.true(entry !== undefined && existsSync(repoPath(entry.source)), `${name} ${svcName}: entry point ${svc.command[0]} is built by build:server`);
      }
      for (const dep of Object.keys(Array.isArray(svc.depends_on) ? Object.fromEntries(svc.depends_on.map((d: string) => [d, 1])) : (svc.depends_on ?? {}))) {
        t.truthy(doc.services[dep], `${name} ${svcName}: depends_on ${dep}`);
      }
    }
  }
});

test('zfs-sync services: one image, known environment variables only, ports and health checks on the ports the processes listen on', (t) => {
  const exposed = [...readFileSync(repoPath('infra/docker/Dockerfile'), 'utf8').matchAll(/^EXPOSE (.+)$/gm)].flatMap((m) => m[1]!.split(/\s+/));
  for (const [name, doc] of Object.entries(deployments)) {
    const services = zfsSyncServices(doc);
    t.is(new Set(services.map(([, s]) => s.image)).size, 1, `${name}: one image for every process`);
    for (const [svcName, svc] of services) {
      for (const key of Object.keys(svc.environment ?? {})) t.true(KNOWN_ENV.has(key), `${name} ${svcName}: ${key} is not a configuration variable (libs/config)`);
      const api = svc.command[0] === 'dist/api.js';
      const listens = api ? (svc.environment?.PORT ?? '8000') : svc.environment?.ZFS_SYNC_OPS_PORT;
      if (svc.command[0] !== 'dist/migrate.js') {
        t.truthy(listens, `${name} ${svcName}: its port is set`);
        t.true(exposed.includes(String(listens)), `${svcName}: port ${listens} is EXPOSEd by the image`);
        const probe = (svc.healthcheck?.test ?? []).join(' ');
        t.regex(probe, new RegExp(`127\\.0\\.0\\.1:${listens}/(api/v1/health/live|healthz)`), `${name} ${svcName}: health check on its own port, liveness only`);
      }
      for (const p of svc.ports ?? []) t.is(String(p).split(':').at(-1), String(listens), `${name} ${svcName}: published port maps to ${listens}`);
    }
  }
});

test('worker processes: known processors, and exactly one fleet-metrics exporter', (t) => {
  const known = new Set(PROCESSORS.map((p) => p.name));
  for (const [name, doc] of Object.entries(deployments)) {
    const workers = zfsSyncServices(doc).filter(([, s]) => s.command[0] === 'dist/workers.js');
    const selections = workers.map(([svcName, s]) => [svcName, String(s.environment?.WORKER_PROCESSORS ?? '').split(',').map((x) => x.trim()).filter(Boolean)] as const);
    for (const [svcName, names] of selections) for (const n of names) t.true(known.has(n.replace(/^-/, '')), `${name} ${svcName}: processor ${n}`);
    const runsExporter = selections.filter(([, names]) => (names.length === 0 ? true : names.some((n) => n.startsWith('-')) ? !names.includes('-fleet-metrics') : names.includes('fleet-metrics')));
    t.deepEqual(runsExporter.map(([svcName]) => svcName), ['fleet-metrics'], `${name}: one exporter`);
    t.falsy(doc.services['fleet-metrics'].deploy?.replicas && doc.services['fleet-metrics'].deploy.replicas !== 1);
  }
});

test('Redis keeps every job: noeviction and AOF in both deployments; Prometheus scrapes services that exist', (t) => {
  for (const [name, doc] of Object.entries(deployments)) {
    const cmd = (doc.services.redis.command as string[]).join(' ');
    t.regex(cmd, /--maxmemory-policy noeviction/, name);
    t.regex(cmd, /--appendonly yes/, name);
    t.regex(cmd, /--appendfsync everysec/, name);
  }
  const scrape = readFileSync(repoPath('infra/prometheus/prometheus.yml'), 'utf8');
  for (const [svc, port] of [['api', '8000'], ['workers', '9464'], ['fleet-metrics', '9464']] as const) {
    t.truthy(base.services[svc], svc);
    t.regex(scrape, new RegExp(`(names: \\[${svc}\\][\\s\\S]*?port: ${port}|'${svc}:${port}')`), `prometheus.yml scrapes ${svc}:${port}`);
  }
  t.true(existsSync(`${repoRoot}/infra/grafana/provisioning/dashboards/zfs-sync.yml`));
});

test('the checks are not vacuous: a misspelt key, a wrong type and an unknown variable are caught', (t) => {
  const broken = structuredClone(base);
  broken.services.api.stop_grace_periodd = '30s';
  t.false(validate(broken));
  const wrongType = structuredClone(base);
  wrongType.services.api.ports = 8000;
  t.false(validate(wrongType));
  t.true(variables({ x: '${NOT_DOCUMENTED:-1}' }).has('NOT_DOCUMENTED'));
  t.false('NOT_DOCUMENTED' in devEnv);
});

test('the quick start and CI start Redis like the compose file: AOF fsynced every second, no eviction (issue 8 row 3)', (t) => {
  const script = readFileSync(new URL('../scripts/services.sh', import.meta.url), 'utf8');
  const start = script.slice(script.indexOf('redis-server --daemonize'));
  t.regex(start, /--appendonly yes/);
  t.regex(start, /--appendfsync everysec/);
  t.regex(start, /--maxmemory-policy noeviction/);
});
