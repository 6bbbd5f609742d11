/**
 * Keeping a large report's memory flat. The agent's live data stays small (one chunk of one
 * listing), but V8 collects the old generation lazily: the garbage of a few chunks would pile up
 * to several times the live size before a collection. Between chunks the agent asks for a
 * collection itself once the heap has grown past a small threshold.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collect: (() => void) | null | undefined;

function collector(): (() => void) | null {
  if (collect !== undefined) return collect;
  try {
    // The documented way to reach V8's collector without a command-line flag.
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as () => void;
  } catch {
    collect = null;
  }
  return collect;
}

/** Collect garbage when the heap holds more than `thresholdMiB` (cheap when it does not). */
export function relieveMemory(thresholdMiB = 24): void {
  if (process.memoryUsage().heapUsed < thresholdMiB * 1048576) return;
  collector()?.();
}
