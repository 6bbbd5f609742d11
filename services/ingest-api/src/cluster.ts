import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '@zfs-sync/logger';

/**
 * More than one API process on one node (`api_processes`): a primary forks the processes, which
 * share the listening port (node cluster), restarts one that dies (with a growing delay, so a
 * process that cannot start does not spin), and on SIGTERM or SIGINT asks each to stop
 * gracefully once and exits when they have. The API processes hold no state of their own that
 * matters: the auth cache is invalidated across processes through Redis like across replicas.
 */
export function superviseApiProcesses(count: number, logger: Logger, shutdownTimeoutMs: number): void {
  let stopping = false;
  let delayMs = 500;
  const fork = (): Worker => {
    const w = cluster.fork();
    const startedAt = Date.now();
    w.once('exit', (code, signal) => {
      if (stopping) return;
      // A process that lived a while had a real crash, not a start-up failure: restart at once.
      if (Date.now() - startedAt > 30_000) delayMs = 500;
      logger.error({ pid: w.process.pid, code, signal, restart_in_ms: delayMs }, 'API process exited; restarting it');
      setTimeout(() => {
        if (!stopping) fork();
      }, delayMs).unref();
      delayMs = Math.min(delayMs * 2, 30_000);
    });
    return w;
  };
  for (let i = 0; i < count; i++) fork();
  logger.info({ processes: count }, 'API processes started');

  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping the API processes');
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
    let left = workers.length;
    if (left === 0) process.exit(0);
    let clean = true;
    for (const w of workers) {
      w.once('exit', (code) => {
        if (code !== 0) clean = false;
        if (--left === 0) process.exit(clean ? 0 : 1);
      });
      w.process.kill('SIGTERM');
    }
    setTimeout(() => {
      logger.error('API processes did not stop in time; killing them');
      for (const w of workers) w.process.kill('SIGKILL');
      process.exit(1);
    }, shutdownTimeoutMs + 2000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** In a process the primary forked: only the primary's SIGTERM stops it (a terminal's Ctrl-C reaches the whole group, and the primary passes it on once). */
export function ignoreSigintInClusterWorker(): void {
  if (!cluster.isWorker) return;
  process.removeAllListeners('SIGINT');
  process.on('SIGINT', () => {});
}

export const isClusterPrimary = (processes: number) => processes > 1 && cluster.isPrimary;
