import v8 from 'node:v8';

/**
 * V8 heap settings of every long-running zfs-sync process (the API, its cluster processes and
 * the workers), set here once at start-up so every way of starting them — `npm start`, the
 * image's entry point (compose, Kubernetes), the benchmarks — runs with the same heap.
 *
 * V8's defaults favour throughput over memory: the young generation grows to 2 × 16 MiB and the
 * old generation may grow to about four times what is live before a full collection. An API
 * process holding a few parsed inventories (tens of MiB live) so peaked near 400 MiB RSS in
 * bench:ingest. These two settings stop the young generation from growing further and let the old
 * generation grow 50 % past what is live; bench:ingest measured the API's peak at 207–223 MiB
 * instead of 378–396 and the worker's at 170–199 instead of 317–335, for 15–25 % more API CPU
 * and ~15 % more worker CPU per row (bench/results/summary.md). heap-settings.ts applies them before the program loads. Neither is a limit: a 64 MiB inventory still gets all the heap it
 * needs (a hard `--max-old-space-size` would turn it into an out-of-memory crash).
 *
 * A flag given on node's command line wins (e.g. `node --heap-growing-percent=0 …` restores
 * V8's default), so an operator can override either without a code change.
 */
export const HEAP_FLAGS = ['--semi-space-growth-factor=1', '--heap-growing-percent=50'] as const;

/** The settings not already given on the command line (`execArgv`). */
export function heapFlagsToApply(execArgv: readonly string[] = process.execArgv): string[] {
  const given = new Set(execArgv.map((a) => a.split('=')[0]!.replace(/_/g, '-')));
  return HEAP_FLAGS.filter((f) => !given.has(f.split('=')[0]!));
}

/** Apply HEAP_FLAGS (first thing in each entry point). V8 reads both whenever it sizes the heap, so setting them at run time takes effect. */
export function applyHeapSettings(execArgv: readonly string[] = process.execArgv): string[] {
  const flags = heapFlagsToApply(execArgv);
  for (const f of flags) v8.setFlagsFromString(f);
  return flags;
}
