import type { ProcessorDefinition } from './processor.js';
import { heartbeatExpiryProcessor } from './processors/heartbeat-expiry/heartbeat-expiry.processor.js';
import { reconcileProcessor } from './processors/reconcile/reconcile.processor.js';
import { recomputeLinksProcessor } from './processors/recompute-links/recompute-links.processor.js';

/** Every processor this image can run, by name. */
export const PROCESSORS: readonly ProcessorDefinition[] = [heartbeatExpiryProcessor, reconcileProcessor, recomputeLinksProcessor];

/** The processors named in WORKER_PROCESSORS (all when empty); an unknown name stops the start. */
export function selectProcessors(names: readonly string[]): ProcessorDefinition[] {
  if (names.length === 0) return [...PROCESSORS];
  const known = new Map(PROCESSORS.map((p) => [p.name, p]));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length) throw new Error(`WORKER_PROCESSORS names unknown processor(s): ${unknown.join(', ')}; known: ${[...known.keys()].join(', ')}`);
  return names.map((n) => known.get(n)!);
}
