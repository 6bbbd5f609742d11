import type { Logger } from '@zfs-sync/logger';

/** Resolve with the promise, or reject after `ms` naming what hung. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * On SIGTERM/SIGINT run the closers (stop taking work, finish, release connections) in order,
 * bounded by `timeoutMs` in all — BullMQ's worker.close() can hang when Redis is gone — then exit.
 */
export function handleShutdown(logger: Logger, timeoutMs: number, closers: Array<{ name: string; close: () => Promise<unknown> }>): void {
  let stopping: string | null = null;
  const stop = async (signal: string) => {
    if (stopping) {
      // Ctrl-C reaches every process of the terminal's group, and then `npm start` (or the
      // cluster primary) passes the stop on as SIGTERM: that is the same stop, not a second one.
      // Only the same signal again (Ctrl-C pressed twice) means "now".
      if (signal !== stopping) return;
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = signal;
    logger.info({ signal, timeoutMs }, 'shutting down');
    const deadline = Date.now() + timeoutMs;
    let clean = true;
    for (const c of closers) {
      try {
        await withTimeout(c.close(), Math.max(1, deadline - Date.now()), c.name);
      } catch (err) {
        clean = false;
        logger.error({ err: (err as Error).message }, `shutdown: ${c.name} failed`);
      }
    }
    logger.info({ clean }, 'stopped');
    process.exit(clean ? 0 : 1);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
