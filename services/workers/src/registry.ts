import type { ProcessorDefinition } from './processor.js';
import { eventsRelayProcessor } from './processors/events-relay/events-relay.processor.js';
import { retentionProcessor } from './processors/retention/retention.processor.js';
import { fleetMetricsProcessor } from './processors/fleet-metrics/fleet-metrics.processor.js';
import { heartbeatExpiryProcessor } from './processors/heartbeat-expiry/heartbeat-expiry.processor.js';
import { reconcileProcessor } from './processors/reconcile/reconcile.processor.js';
import { recomputeLinksProcessor } from './processors/recompute-links/recompute-links.processor.js';

/** Every processor this image can run, by name. */
export const PROCESSORS: readonly ProcessorDefinition[] = [heartbeatExpiryProcessor, reconcileProcessor, recomputeLinksProcessor, fleetMetricsProcessor, eventsRelayProcessor, retentionProcessor];

/**
 * The processors named in WORKER_PROCESSORS (all when empty); an unknown name stops the start.
 * Names with a leading `-` exclude: `-fleet-metrics` is every processor but the exporter, which is
 * what a scaled-out worker service runs next to the one exporter.
 */
export function selectProcessors(names: readonly string[]): ProcessorDefinition[] {
  if (names.length === 0) return [...PROCESSORS];
  const known = new Map(PROCESSORS.map((p) => [p.name, p]));
  const excluded = names.filter((n) => n.startsWith('-')).map((n) => n.slice(1));
  const included = names.filter((n) => !n.startsWith('-'));
  const unknownExcluded = excluded.filter((n) => !known.has(n));
  if (unknownExcluded.length) throw new Error(`WORKER_PROCESSORS excludes unknown processor(s): ${unknownExcluded.join(', ')}; known: ${[...known.keys()].join(', ')}`);
  if (excluded.length) {
    if (included.length) throw new Error('WORKER_PROCESSORS lists processors to run or processors to leave out (-name), not both');
    return PROCESSORS.filter((p) => !excluded.includes(p.name));
  }
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length) throw new Error(`WORKER_PROCESSORS names unknown processor(s): ${unknown.join(', ')}; known: ${[...known.keys()].join(', ')}`);
  return names.map((n) => known.get(n)!);
}
