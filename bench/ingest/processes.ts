import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { buildServer, DEFAULT_SERVER_DIST, SERVER_ENTRIES } from '../../infra/scripts/build-server.js';

/** A free TCP port on 127.0.0.1 (the kernel picks it; a tiny race with other processes is accepted). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface Service {
  name: string;
  child: ChildProcess;
  pid: number;
  logFile: string;
  /** The last lines it printed (stdout and stderr), for error messages. */
  tail: () => string;
  exited: Promise<number | null>;
  stop: () => Promise<void>;
}

/** Keys of the parent's environment that must not leak into the services. */
const OWN_KEYS = /^(ZFS_SYNC_|DATABASE_URL$|REDIS_URL$|PORT$|WORKER_PROCESSORS$)/;

/**
 * Settings for experiments, given to every service a benchmark starts, after its own:
 * `BENCH_SERVICE_ENV="ZFS_SYNC_INFLIGHT_BODY_LIMIT_BYTES=4194304 ZFS_SYNC_WORKER_CONCURRENCY=2"`.
 * (The parent's own ZFS_SYNC_* variables are deliberately not passed on: they name the developer's
 * database and queues, not the benchmark's.)
 */
function experimentEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (process.env.BENCH_SERVICE_ENV ?? '').split(/\s+/).filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`BENCH_SERVICE_ENV: "${pair}" is not KEY=VALUE`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** The services a benchmark starts: their compiled bundle (npm run build:server) and their source. */
export const SERVICE_ENTRIES = {
  api: { bundle: join(DEFAULT_SERVER_DIST, 'api.js'), source: SERVER_ENTRIES.api!.source },
  workers: { bundle: join(DEFAULT_SERVER_DIST, 'workers.js'), source: SERVER_ENTRIES.workers!.source },
} as const;
export type ServiceEntry = keyof typeof SERVICE_ENTRIES;

/**
 * BENCH_FROM_SOURCE=1 runs the services from their TypeScript sources through tsx (as in
 * development and the tests). By default they run as production does: the compiled dist/ bundles
 * with plain node — tsx alone adds ~35 MiB to each process's RSS.
 */
export const fromSourceByDefault = (): boolean => process.env.BENCH_FROM_SOURCE === '1';

let built: Promise<unknown> | undefined;

/** Build dist/ once per benchmark process (esbuild: under a second), unless running from source. */
export async function prepareServices(fromSource = fromSourceByDefault()): Promise<void> {
  if (fromSource) return;
  built ??= buildServer();
  await built;
}

/** node's arguments for a service: its bundle (prepareServices built it) or its source through tsx. */
export function serviceArgs(entry: ServiceEntry, fromSource = fromSourceByDefault()): string[] {
  return fromSource ? ['--import', 'tsx', SERVICE_ENTRIES[entry].source] : ['--enable-source-maps', SERVICE_ENTRIES[entry].bundle];
}

/**
 * Start a service (compiled or from source: serviceArgs) with exactly the given service
 * environment. Compiled, call prepareServices() first.
 */
export function startService(name: string, entry: ServiceEntry, env: Record<string, string>, opts: { cwd: string; logDir: string; nodeArgs?: string[]; fromSource?: boolean }): Service {
  const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !OWN_KEYS.test(k))) as Record<string, string>;
  const fromSource = opts.fromSource ?? fromSourceByDefault();
  if (!fromSource && !built) throw new Error(`startService(${name}): call prepareServices() first (it builds the bundles)`);
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...serviceArgs(entry, fromSource)], {
    cwd: opts.cwd,
    env: { ...baseEnv, NODE_ENV: 'production', ZFS_SYNC_LOG_FORMAT: 'json', ...env, ...experimentEnv() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logFile = join(opts.logDir, `${name}.log`);
  const log = createWriteStream(logFile);
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    log.write(chunk);
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(line);
    if (lines.length > 40) lines.splice(0, lines.length - 40);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  if (child.pid === undefined) throw new Error(`could not start ${name}`);
  const pid = child.pid;
  return {
    name,
    child,
    pid,
    logFile,
    tail: () => lines.slice(-15).join('\n'),
    exited,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
      log.end();
    },
  };
}

// ---------------------------------------------------------------- /proc sampling

/** Parent → children, from /proc (the API's cluster workers are children of its primary). */
export function childrenOf(): Map<number, number[]> {
  const kids = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = kids.get(ppid) ?? [];
      list.push(Number(name));
      kids.set(ppid, list);
    } catch {
      /* gone */
    }
  }
  return kids;
}

/** A process and all its descendants. */
export function treeOf(pid: number, kids = childrenOf()): number[] {
  const out: number[] = [];
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop()!;
    out.push(p);
    stack.push(...(kids.get(p) ?? []));
  }
  return out;
}

/** RSS of a process tree, MiB (now, not the peak). */
export function treeRssMiB(pid: number, kids = childrenOf()): number {
  const kib = treeOf(pid, kids).reduce((a, p) => a + (readMem(p)?.rssKiB ?? 0), 0);
  return Math.round((kib / 1024) * 10) / 10;
}

const CLK_TCK = 100; // USER_HZ on Linux

export interface MemSample {
  rssKiB: number;
  hwmKiB: number;
}

export function readMem(pid: number): MemSample | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+) kB/.exec(status);
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    return { rssKiB: rss ? Number(rss[1]) : 0, hwmKiB: hwm ? Number(hwm[1]) : 0 };
  } catch {
    return null;
  }
}

/** Reset the kernel's peak-RSS mark (VmHWM) so each phase reports its own peak. Best effort. */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

function machineJiffies(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

export interface CpuGroups {
  /** Seconds of CPU per group over the phase. */
  seconds: Record<string, number>;
  /** Whole-machine busy share (0–1 of all cores) over the phase. */
  machineBusy: number;
  wallSeconds: number;
}

/**
 * Samples memory of the services and CPU time of every process on the machine, grouped: the
 * API, the worker, this benchmark client, PostgreSQL backends of the benchmark database,
 * other PostgreSQL processes, Redis, and everything else (other people's work on the machine).
 * A process that exits between samples loses at most one interval of CPU.
 */
export class Sampler {
  private timer: NodeJS.Timeout | undefined;
  private readonly groupOfPid = new Map<number, string>();
  private first = new Map<number, number>();
  private last = new Map<number, number>();
  private peak = new Map<number, number>();
  private startMachine = machineJiffies();
  private startedAt = performance.now();

  constructor(
    private readonly services: Record<string, number>,
    private readonly benchDb: string,
    private readonly intervalMs = 250,
  ) {}

  private classify(pid: number): string {
    let g = this.groupOfPid.get(pid);
    if (g) return g;
    const named = Object.entries(this.services).find(([, p]) => p === pid || this.tree.get(p)?.includes(pid));
    if (named) g = named[0];
    else if (pid === process.pid) g = 'bench client';
    else {
      let comm = '';
      let cmdline = '';
      try {
        comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      } catch {
        /* gone */
      }
      if (comm === 'postgres' || cmdline.startsWith('postgres:')) g = cmdline.includes(this.benchDb) ? 'postgres (bench db)' : /postgres: .*(\d{1,3}\.){3}\d{1,3}\(\d+\)|\[local\]/.test(cmdline) ? 'postgres (other dbs)' : 'postgres (background)';
      else if (comm.startsWith('redis-server')) g = 'redis';
      else g = 'other';
    }
    this.groupOfPid.set(pid, g);
    return g;
  }

  private sampleCpu(): void {
    this.refreshTrees();
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const pid = Number(name);
      const s = cpuSeconds(pid);
      if (s === null) continue;
      if (!this.first.has(pid)) {
        // A process born during the phase counts from zero; one alive at the start from then.
        this.first.set(pid, this.started ? 0 : s);
      }
      this.last.set(pid, s);
      this.classify(pid);
    }
  }

  private started = false;
  /** Each service's process tree (refreshed with the CPU samples). */
  private tree = new Map<number, number[]>();

  private refreshTrees(): void {
    const kids = childrenOf();
    for (const pid of Object.values(this.services)) this.tree.set(pid, treeOf(pid, kids));
  }

  private sampleMem(): void {
    for (const pid of Object.values(this.services)) {
      const pids = this.tree.get(pid) ?? [pid];
      let kib = 0;
      for (const p of pids) {
        const m = readMem(p);
        // One process: its kernel peak mark too; a tree: the sum of what each holds now.
        if (m) kib += pids.length === 1 ? Math.max(m.rssKiB, m.hwmKiB) : m.rssKiB;
      }
      this.peak.set(pid, Math.max(this.peak.get(pid) ?? 0, kib));
    }
  }

  start(): void {
    this.refreshTrees();
    for (const pid of Object.values(this.services)) for (const p of this.tree.get(pid) ?? [pid]) resetPeak(p);
    this.startMachine = machineJiffies();
    this.startedAt = performance.now();
    this.sampleCpu();
    this.started = true;
    this.sampleMem();
    let n = 0;
    this.timer = setInterval(() => {
      this.sampleMem();
      // The whole process table every 4th tick: it costs more than two status files.
      if (++n % 4 === 0) this.sampleCpu();
    }, this.intervalMs);
    this.timer.unref();
  }

  stop(): { peakRssMiB: Record<string, number>; cpu: CpuGroups } {
    if (this.timer) clearInterval(this.timer);
    this.sampleMem();
    this.sampleCpu();
    const m = machineJiffies();
    const seconds: Record<string, number> = {};
    for (const [pid, end] of this.last) {
      const g = this.classify(pid);
      const used = end - (this.first.get(pid) ?? end);
      if (used > 0) seconds[g] = (seconds[g] ?? 0) + used;
    }
    const peakRssMiB: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.services)) peakRssMiB[name] = round((this.peak.get(pid) ?? 0) / 1024, 1);
    for (const k of Object.keys(seconds)) seconds[k] = round(seconds[k]!, 2);
    return {
      peakRssMiB,
      cpu: { seconds, machineBusy: round((m.busy - this.startMachine.busy) / Math.max(1, m.total - this.startMachine.total), 3), wallSeconds: round((performance.now() - this.startedAt) / 1000, 2) },
    };
  }
}

export const round = (x: number, digits = 0): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};
