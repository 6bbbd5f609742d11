/**
 * Is this error a dependency going away (PostgreSQL or Redis unreachable, restarting, frozen),
 * rather than a fault of the request or of the code? The API answers such errors 503 with
 * Retry-After (never 500), and workers retry the job in short steps without spending one of its
 * attempts: once the store is back, the work goes through.
 */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED', 'ENOTCONN']);
/** SQLSTATEs of a server shutting down, starting up or refusing connections (class 08: connection exceptions). */
const PG_UNAVAILABLE = /^(08...|57P01|57P02|57P03|53300|53400)$/;
const PG_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Knex: Timeout acquiring a connection|Connection ended unexpectedly|the database system is (starting up|shutting down|in recovery mode)|terminating connection due to administrator command|Client was closed and is not queryable|Cannot use a pool after calling end/;
const REDIS_MESSAGES = /Connection is closed|Stream isn't writeable|enableOfflineQueue|Reached the max retries per request|MaxRetriesPerRequest|Command timed out|redis.*unavailable|queue .* unavailable/i;

export type Dependency = 'postgres' | 'redis';

export function unavailableDependency(err: unknown): Dependency | null {
  const seen = new Set<unknown>();
  let e: unknown = err;
  while (e && typeof e === 'object' && !seen.has(e)) {
    seen.add(e);
    const { code, message, name } = e as { code?: unknown; message?: unknown; name?: unknown };
    const msg = typeof message === 'string' ? message : '';
    if (name === 'QueueUnavailableError' || name === 'MaxRetriesPerRequestError' || REDIS_MESSAGES.test(msg)) return 'redis';
    if (typeof code === 'string' && PG_UNAVAILABLE.test(code)) return 'postgres';
    if (PG_MESSAGES.test(msg)) return 'postgres';
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return /6379|redis/i.test(msg) ? 'redis' : 'postgres';
    if (name === 'ConnectionException') return 'postgres';
    e = (e as { cause?: unknown; previous?: unknown }).cause ?? (e as { previous?: unknown }).previous;
  }
  return null;
}

/** Seconds a client should wait before trying again when a dependency is away. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/**
 * The last line of defence of every process: an exception or rejection nobody handled is logged
 * (with its stack) and ends the process non-zero, so a supervisor restarts it in a known state
 * instead of it running on half-broken.
 */
export function installCrashHandlers(logger: { fatal: (o: object, m: string) => void; flush?: () => void }): void {
  const die = (kind: string) => (err: unknown) => {
    try {
      logger.fatal({ err: err instanceof Error ? { message: err.message, stack: err.stack, name: err.name } : String(err) }, `${kind}: exiting`);
      logger.flush?.();
    } finally {
      process.exitCode = 70; // EX_SOFTWARE
      setTimeout(() => process.exit(70), 100).unref();
    }
  };
  process.on('uncaughtException', die('uncaught exception'));
  process.on('unhandledRejection', die('unhandled rejection'));
}
