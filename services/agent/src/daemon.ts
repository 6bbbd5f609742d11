/**
 * `daemon --interval 5m`: report and sync in a loop, each wait jittered (±10 %) so a fleet does
 * not hit the witness in step. While the witness is unreachable the waits back off (30 s,
 * doubling, at most 30 min) instead of hammering it. SIGTERM/SIGINT stop the loop after the
 * running transfers finish; a second signal stops them too.
 */
import { EXIT } from './exit-codes.js';
import { formatDuration, type Logger } from './log.js';

/** `5m`, `90s`, `1h`, `300` → seconds. */
export function parseInterval(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h)?$/i.exec(text.trim());
  if (!m) return null;
  const mult = { s: 1, m: 60, h: 3600 }[(m[2] ?? 's').toLowerCase() as 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * mult);
}

export function nextDelaySeconds(intervalSeconds: number, unreachableInARow: number, random = Math.random): number {
  if (unreachableInARow > 0) return Math.min(1800, 30 * 2 ** (unreachableInARow - 1)) * (0.75 + random() / 2);
  return intervalSeconds * (0.9 + random() / 5);
}

export async function daemon(log: Logger, intervalSeconds: number, runOnce: (signal: AbortSignal) => Promise<number>): Promise<number> {
  const hardStop = new AbortController();
  let stopping = false;
  let wake: (() => void) | null = null;
  const onSignal = (name: string) => {
    if (stopping) {
      log.warn(`${name} again: stopping the running transfers now`);
      hardStop.abort();
      return;
    }
    stopping = true;
    log.info(`${name}: stopping after the running transfers (send it again to stop them now)`);
    wake?.();
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  const sleep = (seconds: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, seconds * 1000);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });

  log.info(`daemon started: a run every ${formatDuration(intervalSeconds)} (±10 %)`);
  // A random start within the first tenth of the interval spreads hosts started together.
  await sleep(Math.random() * Math.min(30, intervalSeconds / 10));
  let unreachable = 0;
  while (!stopping) {
    const code = await runOnce(hardStop.signal);
    unreachable = code === EXIT.UNAVAILABLE ? unreachable + 1 : 0;
    if (stopping) break;
    const delay = nextDelaySeconds(intervalSeconds, unreachable);
    if (unreachable > 0) log.warn(`the witness is unreachable (${unreachable} run(s) in a row); next try in ${formatDuration(delay)}`);
    else log.info(`next run in ${formatDuration(delay)}`);
    await sleep(delay);
  }
  log.info('daemon stopped');
  return EXIT.OK;
}
