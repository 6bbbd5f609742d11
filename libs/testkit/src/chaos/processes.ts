import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

const repoRoot = new URL('../../../../', import.meta.url).pathname;

/** A zfs-sync process (API, workers or `npm start`'s supervisor) as a child, with its JSON log lines. */
export interface ServiceProcess {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  /** Raw stderr and non-JSON stdout (crash traces). */
  raw: string[];
  alive: () => boolean;
  /** Resolve with the first log line matching, or reject after `ms`. */
  waitForLine: (match: (line: Record<string, unknown>) => boolean, ms?: number) => Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill: (signal?: NodeJS.Signals) => void;
}

const ENTRIES = {
  api: 'services/ingest-api/src/main.ts',
  workers: 'services/workers/src/main.ts',
  start: 'infra/scripts/start.ts',
} as const;

export function spawnService(kind: keyof typeof ENTRIES, env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRIES[kind]], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ZFS_SYNC_LOG_FORMAT: 'json', ZFS_SYNC_OPS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: kind === 'start',
  });
  const lines: Array<Record<string, unknown>> = [];
  const raw: string[] = [];
  const waiters = new Set<{ match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }>();
  const onLine = (text: string) => {
    let parsed: Record<string, unknown> | null = null;
    try {
      const v = JSON.parse(text) as unknown;
      if (v && typeof v === 'object') parsed = v as Record<string, unknown>;
    } catch {
      parsed = null;
    }
    if (!parsed) {
      raw.push(text);
      return;
    }
    lines.push(parsed);
    for (const w of waiters) {
      if (w.match(parsed)) {
        waiters.delete(w);
        w.resolve(parsed);
      }
    }
  };
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', onLine);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    lines,
    raw,
    alive: () => child.exitCode === null && child.signalCode === null,
    exited,
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    waitForLine: (match, ms = 60_000) => {
      const seen = lines.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = { match, resolve: (l: Record<string, unknown>) => (clearTimeout(timer), resolve(l)) };
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`${kind}: no log line as expected within ${ms} ms; last lines:\n${[...raw.slice(-10), ...lines.slice(-10).map((l) => JSON.stringify(l))].join('\n')}`));
        }, ms);
        waiters.add(w);
        void exited.then(({ code, signal }) => {
          if (!waiters.has(w)) return;
          waiters.delete(w);
          clearTimeout(timer);
          reject(new Error(`${kind} exited (${code ?? signal}) before the expected log line; last output:\n${[...raw.slice(-20), ...lines.slice(-5).map((l) => JSON.stringify(l))].join('\n')}`));
        });
      });
    },
  };
}

/** The API as a child process; resolves once it listens, with its base URL. */
export async function spawnApi(env: Record<string, string>): Promise<ServiceProcess & { baseUrl: string }> {
  const p = spawnService('api', { PORT: '0', ZFS_SYNC_HOST: '127.0.0.1', ...env });
  const line = await p.waitForLine((l) => typeof l.port === 'number' && String(l.msg ?? '').includes('listening'));
  return Object.assign(p, { baseUrl: `http://127.0.0.1:${line.port as number}/api/v1` });
}

export async function spawnWorkers(env: Record<string, string>): Promise<ServiceProcess> {
  const p = spawnService('workers', env);
  await p.waitForLine((l) => l.msg === 'workers ready');
  return p;
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: any;
  ms: number;
}

/** One request with a hard client-side limit (a hung server answers status 0). */
export async function http(baseUrl: string, method: string, path: string, opts: { key?: string; body?: unknown; timeoutMs?: number; headers?: Record<string, string> } = {}): Promise<HttpAnswer> {
  const started = Date.now();
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.key) headers['x-api-key'] = opts.key;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  try {
    const res = await fetch(baseUrl + path, { method, headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}), signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000) });
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    return { status: res.status, headers: res.headers, body, ms: Date.now() - started };
  } catch {
    return { status: 0, headers: new Headers(), body: undefined, ms: Date.now() - started };
  }
}
