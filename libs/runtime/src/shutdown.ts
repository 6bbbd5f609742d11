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
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
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
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}
