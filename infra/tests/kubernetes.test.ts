import test from 'ava';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parseAllDocuments } from 'yaml';
import { CONFIG_KEYS } from '@zfs-sync/config';
import { QUEUE_NAMES } from '@zfs-sync/contracts';
import { PROCESSORS } from '@zfs-sync/workers';
import { KINDS, schemaFile } from '../schemas/kubernetes/vendor.js';
import { SERVER_ENTRIES } from '../scripts/build-server.js';
import { repoPath, repoRoot, run } from './tools.js';

/*
 * Every Kubernetes manifest is validated against the vendored Kubernetes and KEDA JSON schemas
 * (strict: a misspelt field fails), the example overlay is rendered with kustomize (kubectl's,
 * when present) and the rendered objects are validated and cross-checked: one Deployment per
 * processor, probes, grace periods longer than the shutdown bound, autoscaling on real queues.
 */

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; spec?: any; data?: Record<string, string>; stringData?: Record<string, string> };

const ajv = new Ajv({ strict: false, allErrors: true });
addFormatsModule.default(ajv, ['date-time']);
const validators = new Map<string, ValidateFunction>();
for (const k of [...KINDS, { group: 'keda.sh', version: 'v1alpha1', kind: 'ScaledObject' }]) {
  const { $schema: _meta, ...schema } = JSON.parse(readFileSync(repoPath(`infra/schemas/kubernetes/${schemaFile(k)}`), 'utf8'));
  validators.set(`${k.group ? `${k.group}/` : ''}${k.version}/${k.kind}`, ajv.compile(schema));
}
function validateObject(o: K8sObject): string | null {
  const v = validators.get(`${o.apiVersion}/${o.kind}`);
  if (!v) return `no vendored schema for ${o.apiVersion} ${o.kind} (add it to infra/schemas/kubernetes/vendor.ts)`;
  return v(o) ? null : JSON.stringify(v.errors?.slice(0, 4));
}

const k8sDir = join(repoRoot, 'k8s');
const yamlFiles = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? yamlFiles(join(dir, f)) : /\.ya?ml$/.test(f) ? [join(dir, f)] : []));
const parseFile = (file: string): unknown[] => parseAllDocuments(readFileSync(file, 'utf8')).map((d) => {
  if (d.errors.length) throw new Error(`${file}: ${d.errors[0]!.message}`);
  return d.toJS();
}).filter(Boolean);
const isKustomization = (o: any) => /^kustomize\.config\.k8s\.io\//.test(o?.apiVersion ?? '');

test('every manifest under k8s/ parses and is valid against its Kubernetes or KEDA schema', (t) => {
  const files = yamlFiles(k8sDir);
  t.true(files.length >= 15);
  let objects = 0;
  for (const file of files) {
    for (const doc of parseFile(file) as K8sObject[]) {
      if (isKustomization(doc)) continue;
      objects++;
      t.is(validateObject(doc), null, `${relative(repoRoot, file)}: ${doc.kind} ${doc.metadata?.name}`);
    }
  }
  t.true(objects >= 20);
});

test('the schema check is strict: a misspelt field, a wrong type and a missing field fail', (t) => {
  const deployment = (parseFile(join(k8sDir, 'base/api-deployment.yaml')) as K8sObject[])[0]!;
  t.is(validateObject(deployment), null);
  const typo = structuredClone(deployment);
  typo.spec.template.spec.terminationGracePeriodSecond = 30;
  t.not(validateObject(typo), null);
  const wrongType = structuredClone(deployment);
  wrongType.spec.template.spec.containers[0].ports[0].containerPort = 'eight thousand';
  t.not(validateObject(wrongType), null);
  const missing = structuredClone(deployment);
  delete missing.spec.selector;
  t.not(validateObject(missing), null);
});

/** Every file a kustomization (or component) lists, recursively; throws naming what is missing. */
function kustomizationFiles(dir: string, seen = new Set<string>()): string[] {
  const file = ['kustomization.yaml', 'kustomization.yml'].map((f) => join(dir, f)).find(existsSync);
  if (!file) throw new Error(`${relative(repoRoot, dir)} has no kustomization.yaml`);
  if (seen.has(file)) return [];
  seen.add(file);
  const k = parseFile(file)[0] as { resources?: string[]; components?: string[]; patches?: Array<{ path?: string }> };
  const out = [file];
  for (const entry of [...(k.resources ?? []), ...(k.components ?? [])]) {
    const path = join(dir, entry);
    if (!existsSync(path)) throw new Error(`${relative(repoRoot, file)} lists ${entry}, which does not exist`);
    out.push(...(statSync(path).isDirectory() ? kustomizationFiles(path, seen) : [path]));
  }
  for (const p of k.patches ?? []) if (p.path) out.push(join(dir, p.path));
  return out;
}

const kubectl = run('sh', ['-c', 'kubectl version --client 2>/dev/null']);
const kustomizeVersion = /Kustomize Version: v(\d+)/.exec(kubectl.stdout ?? '')?.[1];
const canRender = kubectl.status === 0 && Number(kustomizeVersion) >= 4;
if (!canRender) process.stderr.write('\n*** kubectl with kustomize v4+ not found: the overlay is checked resource by resource instead of rendered ***\n\n');

/** The example overlay as kubectl would apply it (rendered), or its listed resources when no kustomize is available. */
function overlayObjects(): K8sObject[] {
  const overlay = join(k8sDir, 'overlays/example');
  const files = kustomizationFiles(overlay); // always: every listed file exists
  if (canRender) {
    const r = run('kubectl', ['kustomize', overlay]);
    if (r.status !== 0) throw new Error(`kubectl kustomize failed:\n${r.stderr}`);
    return parseAllDocuments(r.stdout).map((d) => d.toJS() as K8sObject);
  }
  return files.filter((f) => !/kustomization\.ya?ml$/.test(f)).flatMap((f) => parseFile(f) as K8sObject[]);
}
const rendered = overlayObjects();
const all = (kind: string) => rendered.filter((o) => o.kind === kind);
const named = (kind: string, name: string) => rendered.find((o) => o.kind === kind && o.metadata.name === name);

test('the example overlay renders (kustomize) and every rendered object is valid', (t) => {
  t.true(rendered.length >= 20);
  for (const o of rendered) t.is(validateObject(o), null, `${o.kind} ${o.metadata.name}`);
  if (canRender) {
    t.true(rendered.every((o) => o.kind === 'Namespace' || (o.metadata as { namespace?: string }).namespace === 'zfs-sync'), 'every object in the zfs-sync namespace');
    t.true(all('Deployment').every((d) => d.spec.template.spec.containers.every((c: { image: string }) => c.image === 'registry.example.com/zfs-sync:0.1.0')), 'the overlay image everywhere');
    t.is(named('HorizontalPodAutoscaler', 'api')?.spec.minReplicas, 3, 'overlay patches apply');
  }
  t.truthy(named('Job', 'migrate'));
  for (const kind of ['Namespace', 'ConfigMap', 'Deployment', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'NetworkPolicy', 'Job', 'ScaledObject']) t.true(all(kind).length > 0, kind);
});

const KNOWN_ENV = new Set<string>(CONFIG_KEYS.flatMap((k) => [...k.env]));
const containers = (o: K8sObject) => (o.spec.template?.spec ?? o.spec.jobTemplate?.spec.template.spec).containers as any[];
const podSpec = (o: K8sObject) => o.spec.template.spec;

test('one image for every process; settings only from the ConfigMap, the Secret and known variables', (t) => {
  const config = named('ConfigMap', 'zfs-sync-config')!;
  t.truthy(config);
  for (const key of Object.keys(config.data ?? {})) t.true(KNOWN_ENV.has(key), `ConfigMap key ${key} is a configuration variable`);
  const secretExample = parseFile(join(k8sDir, 'secret.example.yaml'))[0] as K8sObject;
  for (const key of Object.keys(secretExample.stringData ?? {})) t.true(KNOWN_ENV.has(key), `Secret key ${key}`);
  const images = new Set<string>();
  for (const o of [...all('Deployment'), ...all('Job')]) {
    for (const c of containers(o)) {
      images.add(c.image);
      // The image runs the compiled entry points (npm run build:server): dist/<name>.js.
      const entry = SERVER_ENTRIES[/^dist\/(.+)\.js$/.exec(c.args[0])?.[1] ?? ''];
      t.true(entry !== undefined && existsSync(repoPath(entry.source)), `${o.metadata.name}: entry point ${c.args[0]} is built by build:server`);
      t.deepEqual(c.envFrom, [{ configMapRef: { name: 'zfs-sync-config' } }, { secretRef: { name: 'zfs-sync-secrets' } }], `${o.metadata.name}: envFrom`);
      for (const e of c.env ?? []) t.true(KNOWN_ENV.has(e.name), `${o.metadata.name}: ${e.name}`);
    }
    t.true(podSpec(o).securityContext.runAsNonRoot, `${o.metadata.name}: non-root`);
  }
  t.is(images.size, 1, 'the API, every worker and the migration run the same image');
});

const workerDeployments = () => all('Deployment').filter((d) => containers(d)[0].args[0] === 'dist/workers.js');
const processorOf = (d: K8sObject) => containers(d)[0].env.find((e: { name: string }) => e.name === 'WORKER_PROCESSORS')?.value as string;

test('one worker Deployment per processor; autoscaled ones have a KEDA ScaledObject on real queues; singletons stay single', (t) => {
  const byProcessor = new Map(workerDeployments().map((d) => [processorOf(d), d]));
  t.deepEqual([...byProcessor.keys()].sort(), PROCESSORS.map((p) => p.name).sort(), 'WORKER_PROCESSORS of the worker Deployments = the processors of services/workers');
  const scaled = all('ScaledObject');
  for (const [processor, d] of byProcessor) {
    const so = scaled.find((s) => s.spec.scaleTargetRef.name === d.metadata.name);
    if (d.spec.replicas === undefined) {
      t.truthy(so, `${d.metadata.name} has no replicas field, so a ScaledObject must own its count`);
      t.true(so!.spec.minReplicaCount >= 1, `${processor}: never scaled to zero (delayed jobs need a running worker)`);
      for (const trigger of so!.spec.triggers) {
        const queues = [...(trigger.metadata.query as string).matchAll(/queue=~?"([^"]+)"/g)].flatMap((m) => m[1]!.split('|'));
        t.true(queues.length > 0 && queues.every((q) => QUEUE_NAMES.includes(q)), `${so!.metadata.name}: queries known queues (${queues.join(', ')})`);
        t.regex(trigger.metadata.query, /zfs_sync_queue_jobs/);
      }
    } else {
      t.is(d.spec.replicas, 1, `${d.metadata.name}: a singleton`);
      t.falsy(so, `${d.metadata.name}: a singleton is not autoscaled`);
    }
  }
  t.is(byProcessor.get('fleet-metrics')?.spec.strategy.type, 'Recreate', 'never two exporters, even during a rollout');
  for (const so of scaled) t.truthy(named('Deployment', so.spec.scaleTargetRef.name), `${so.metadata.name} targets an existing Deployment`);
  t.truthy(named('Deployment', named('HorizontalPodAutoscaler', 'api')!.spec.scaleTargetRef.name));
  t.is(named('Deployment', 'api')!.spec.replicas, undefined, 'the HPA owns the API replica count');
});

test('probes: liveness from the process alone, readiness from its dependencies; grace periods longer than the shutdown bound', (t) => {
  const config = named('ConfigMap', 'zfs-sync-config')!.data!;
  for (const d of all('Deployment')) {
    const c = containers(d)[0];
    const api = c.args[0] === 'dist/api.js';
    t.is(c.livenessProbe.httpGet.path, api ? '/api/v1/health/live' : '/healthz', `${d.metadata.name}: liveness`);
    t.is(c.readinessProbe.httpGet.path, api ? '/api/v1/health/ready' : '/readyz', `${d.metadata.name}: readiness`);
    const port = c.ports.find((p: { name: string }) => p.name === c.livenessProbe.httpGet.port);
    t.truthy(port, `${d.metadata.name}: the probe port is a named container port`);
    const listens = api ? config.PORT : (c.env.find((e: { name: string }) => e.name === 'ZFS_SYNC_OPS_PORT')?.value ?? config.ZFS_SYNC_OPS_PORT);
    t.is(String(port.containerPort), listens, `${d.metadata.name}: the container port is the one the process listens on`);
    const annotations = d.spec.template.metadata.annotations ?? {};
    t.is(annotations['prometheus.io/port'], listens, `${d.metadata.name}: scraped on its metrics port`);
    const shutdownMs = Number(c.env?.find((e: { name: string }) => e.name === 'ZFS_SYNC_SHUTDOWN_TIMEOUT_MS')?.value ?? config.ZFS_SYNC_SHUTDOWN_TIMEOUT_MS);
    const preStopS = Number(c.lifecycle?.preStop?.exec?.command?.[1] ?? 0);
    t.true(podSpec(d).terminationGracePeriodSeconds * 1000 >= shutdownMs + preStopS * 1000 + 5000, `${d.metadata.name}: grace ${podSpec(d).terminationGracePeriodSeconds}s > preStop ${preStopS}s + shutdown ${shutdownMs}ms + margin`);
  }
  const reconcile = workerDeployments().find((d) => processorOf(d) === 'reconcile')!;
  const lockMs = 120_000; // job_lock_ms default: the longest a job may hold its lock
  t.true(podSpec(reconcile).terminationGracePeriodSeconds * 1000 > lockMs, 'reconcile pods outlive the longest job');
});

test('PDBs, Services and NetworkPolicies select pods that exist', (t) => {
  const podLabels = [...all('Deployment'), ...all('Job')].map((o) => o.spec.template.metadata.labels as Record<string, string>);
  const selects = (sel: Record<string, string>) => podLabels.some((l) => Object.entries(sel).every(([k, v]) => l[k] === v));
  for (const pdb of all('PodDisruptionBudget')) t.true(selects(pdb.spec.selector.matchLabels), `PDB ${pdb.metadata.name}`);
  for (const svc of all('Service')) t.true(selects(svc.spec.selector), `Service ${svc.metadata.name}`);
  for (const np of all('NetworkPolicy')) t.true(Object.keys(np.spec.podSelector).length === 0 || selects(np.spec.podSelector.matchLabels), `NetworkPolicy ${np.metadata.name}`);
  for (const d of all('Deployment')) t.truthy(all('PodDisruptionBudget').find((p) => Object.entries(p.spec.selector.matchLabels).every(([k, v]) => d.spec.template.metadata.labels[k] === v)), `${d.metadata.name} has a PDB`);
  t.truthy(all('NetworkPolicy').find((n) => Object.keys(n.spec.podSelector).length === 0 && n.spec.policyTypes.includes('Ingress') && !n.spec.ingress), 'default deny ingress');
  t.true(existsSync(join(dirname(repoPath('k8s/base/kustomization.yaml').pathname), 'networkpolicy.yaml')));
});
