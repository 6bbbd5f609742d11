/**
 * Regenerates the vendored Kubernetes and KEDA JSON schemas (data for infra/tests/kubernetes.test.ts):
 *
 *   node --import tsx infra/schemas/kubernetes/vendor.ts <kubernetes swagger.json> <keda.sh_scaledobjects.yaml>
 *
 * For each kind the manifests use, the closure of its definitions in the Kubernetes OpenAPI v2
 * spec, made strict like kubeconform's "-strict" schemas: unknown fields are refused (a misspelt
 * key must fail), int-or-string and quantities accept both forms, apiVersion and kind are fixed.
 * KEDA's ScaledObject comes from its CRD's openAPIV3Schema, made strict the same way.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';

type Json = Record<string, any>;

export const KINDS: Array<{ group: string; version: string; kind: string; definition: string }> = [
  { group: '', version: 'v1', kind: 'Namespace', definition: 'io.k8s.api.core.v1.Namespace' },
  { group: '', version: 'v1', kind: 'ConfigMap', definition: 'io.k8s.api.core.v1.ConfigMap' },
  { group: '', version: 'v1', kind: 'Secret', definition: 'io.k8s.api.core.v1.Secret' },
  { group: '', version: 'v1', kind: 'Service', definition: 'io.k8s.api.core.v1.Service' },
  { group: 'apps', version: 'v1', kind: 'Deployment', definition: 'io.k8s.api.apps.v1.Deployment' },
  { group: 'batch', version: 'v1', kind: 'Job', definition: 'io.k8s.api.batch.v1.Job' },
  { group: 'autoscaling', version: 'v2', kind: 'HorizontalPodAutoscaler', definition: 'io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler' },
  { group: 'policy', version: 'v1', kind: 'PodDisruptionBudget', definition: 'io.k8s.api.policy.v1.PodDisruptionBudget' },
  { group: 'networking.k8s.io', version: 'v1', kind: 'NetworkPolicy', definition: 'io.k8s.api.networking.v1.NetworkPolicy' },
];

export const schemaFile = (k: { group: string; version: string; kind: string }) => `${k.kind.toLowerCase()}-${k.group ? `${k.group.split('.')[0]}-` : ''}${k.version}.json`;

/** Strict: objects with declared properties refuse others; Kubernetes' own extensions dropped. */
function strict(node: any): any {
  if (Array.isArray(node)) return node.map(strict);
  if (!node || typeof node !== 'object') return node;
  if (node['x-kubernetes-int-or-string'] || node.format === 'int-or-string') return { oneOf: [{ type: 'string' }, { type: 'integer' }], ...(node.description ? { description: node.description } : {}) };
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) {
    if (k.startsWith('x-kubernetes-')) continue;
    if (k === 'format' && !['date-time'].includes(v as string)) continue;
    out[k] = k === 'properties' || k === 'definitions' ? Object.fromEntries(Object.entries(v as Json).map(([p, s]) => [p, strict(s)])) : strict(v);
  }
  if (out.properties && out.additionalProperties === undefined && !node['x-kubernetes-preserve-unknown-fields']) out.additionalProperties = false;
  return out;
}

function kubernetes(swaggerPath: string): void {
  const defs = (JSON.parse(readFileSync(swaggerPath, 'utf8')) as { definitions: Json }).definitions;
  // A quantity is a string in the spec, but manifests write numbers too.
  defs['io.k8s.apimachinery.pkg.api.resource.Quantity'] = { oneOf: [{ type: 'string' }, { type: 'number' }] };
  for (const k of KINDS) {
    const closure = new Set<string>();
    const visit = (name: string) => {
      if (closure.has(name)) return;
      closure.add(name);
      JSON.stringify(defs[name], (key, value) => {
        if (key === '$ref' && typeof value === 'string') visit(value.replace('#/definitions/', ''));
        return value;
      });
    };
    visit(k.definition);
    const definitions = Object.fromEntries([...closure].sort().map((n) => [n, strict(defs[n])]));
    const root = definitions[k.definition];
    root.properties.apiVersion = { type: 'string', enum: [k.group ? `${k.group}/${k.version}` : k.version] };
    root.properties.kind = { type: 'string', enum: [k.kind] };
    root.required = [...new Set([...(root.required ?? []), 'apiVersion', 'kind', 'metadata'])];
    const schema = { $schema: 'http://json-schema.org/draft-07/schema#', $id: schemaFile(k), $ref: `#/definitions/${k.definition}`, definitions };
    writeFileSync(new URL(schemaFile(k), import.meta.url), `${JSON.stringify(schema)}\n`);
  }
}

function keda(crdPath: string): void {
  const crd = parse(readFileSync(crdPath, 'utf8')) as Json;
  const version = (crd.spec.versions as Json[]).find((v) => v.name === 'v1alpha1')!;
  const root = strict(version.schema.openAPIV3Schema);
  root.properties.apiVersion = { type: 'string', enum: ['keda.sh/v1alpha1'] };
  root.properties.kind = { type: 'string', enum: ['ScaledObject'] };
  root.required = ['apiVersion', 'kind', 'metadata', 'spec'];
  const schema = { $schema: 'http://json-schema.org/draft-07/schema#', $id: 'scaledobject-keda-v1alpha1.json', ...root };
  writeFileSync(new URL('scaledobject-keda-v1alpha1.json', import.meta.url), `${JSON.stringify(schema)}\n`);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const [swagger, crd] = process.argv.slice(2);
  if (!swagger || !crd) throw new Error('usage: vendor.ts <swagger.json> <keda.sh_scaledobjects.yaml>');
  kubernetes(swagger);
  keda(crd);
}
