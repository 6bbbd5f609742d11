/**
 * A simulated fleet for tests: hosts with their own state directory, `bin/zfs` and `bin/ssh`
 * wrappers around the bundled simulator, and a fleet file that lets `ssh host …` reach the other
 * hosts. A process started with `host.env()` sees that host's `zfs` and `ssh` first on its PATH,
 * exactly as an agent installed there would.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addSshFault, createPool, populate, setSettings, writeData, type PopulateOptions } from './admin.js';
import { FLEET_FILE, type Fleet, type FleetHost } from './ssh.js';
import { readJournal, readState, type SimDataset, type SimSettings, type SimSnapshot } from './state.js';

const here = dirname(fileURLToPath(import.meta.url));
let built: Promise<string> | undefined;

/** Bundle the simulator into one executable file (cached by content, shared by test processes). */
export function buildSimulator(): Promise<string> {
  built ??= (async () => {
    const esbuild = await import('esbuild');
    const result = await esbuild.build({
      entryPoints: [join(here, 'cli.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      write: false,
      banner: { js: '#!/usr/bin/env node' },
      logLevel: 'silent',
    });
    const code = result.outputFiles[0]!.contents;
    const digest = createHash('sha256').update(code).digest('hex').slice(0, 16);
    const dir = join(tmpdir(), 'zfs-sync-testkit');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `zfs-sim-${digest}.mjs`);
    if (!existsSync(file)) {
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, code, { mode: 0o755 });
      renameSync(tmp, file);
    }
    return file;
  })();
  return built;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a program and collect its output (stdin closed unless given). */
export function run(command: string, args: string[], opts: { env?: Record<string, string>; input?: string | Buffer; cwd?: string } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: opts.env ?? (process.env as Record<string, string>), cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

export interface SimHostOptions {
  /** Host name other hosts use with ssh (default: `name`). */
  hostname?: string;
  sshPort?: number;
  /** Users allowed to log in over ssh (default: anyone). */
  sshUsers?: string[] | null;
  /** Pools to create, each with the txg it starts at (default: one pool named after the host). */
  pools?: Record<string, number>;
  settings?: Partial<SimSettings>;
}

export class SimHost {
  readonly stateDir: string;
  readonly binDir: string;
  constructor(
    readonly fleet: SimFleet,
    readonly name: string,
    readonly hostname: string,
    readonly sshPort: number,
  ) {
    this.stateDir = join(fleet.dir, 'hosts', name, 'state');
    this.binDir = join(fleet.dir, 'hosts', name, 'bin');
  }

  get zfsPath(): string {
    return join(this.binDir, 'zfs');
  }
  get sshPath(): string {
    return join(this.binDir, 'ssh');
  }

  /** The environment of a process running on this host: its zfs and ssh come first on PATH. */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      PATH: `${this.binDir}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      HOME: process.env.HOME ?? this.stateDir,
      USER: process.env.USER ?? 'root',
      ZFS_SIM_FLEET: this.fleet.dir,
      ZFS_SIM_STATE: this.stateDir,
      ZFS_SIM_HOST: this.hostname,
      ...extra,
    };
  }

  /** Run `zfs …` on this host. */
  zfs(...args: string[]): Promise<ExecResult> {
    return run(this.zfsPath, args, { env: this.env() });
  }

  /** Run `zfs …` and return its stdout; throws with its stderr when it fails. */
  async zfsOk(...args: string[]): Promise<string> {
    const r = await this.zfs(...args);
    if (r.code !== 0) throw new Error(`zfs ${args.join(' ')} on ${this.name} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  createPool(pool: string, txgBase?: number): void {
    createPool(this.stateDir, pool, txgBase);
  }
  /** Make the dataset "modified since its most recent snapshot" by `bytes`. */
  write(dataset: string, bytes = 8192): void {
    writeData(this.stateDir, dataset, bytes);
  }
  /** Write some data, then snapshot (what a snapshot tool does on a live dataset). */
  async snapshot(full: string, bytes = 8192): Promise<void> {
    this.write(full.split('@')[0]!, bytes);
    await this.zfsOk('snapshot', full);
  }
  /** `count` more snapshots in each dataset, written at once (for hosts with hundreds of thousands). */
  populate(dataset: string | string[], count: number, opts?: PopulateOptions): void {
    populate(this.stateDir, dataset, count, opts);
  }
  settings(settings: Partial<SimSettings>): void {
    setSettings(this.stateDir, settings);
  }
  dataset(name: string): SimDataset | undefined {
    return readState(this.stateDir).datasets[name];
  }
  snapshots(dataset: string): SimSnapshot[] {
    return this.dataset(dataset)?.snapshots ?? [];
  }
  /** Every command that changed this host, in order (see state.ts journal()). */
  journal(): Array<Record<string, any>> {
    return readJournal(this.stateDir);
  }
}

export class SimFleet {
  readonly hosts = new Map<string, SimHost>();
  private constructor(
    readonly dir: string,
    readonly simulator: string,
  ) {}

  static async create(): Promise<SimFleet> {
    const simulator = await buildSimulator();
    const fleet = new SimFleet(mkdtempSync(join(tmpdir(), 'zfs-sim-fleet-')), simulator);
    fleet.save();
    return fleet;
  }

  addHost(name: string, opts: SimHostOptions = {}): SimHost {
    const host = new SimHost(this, name, opts.hostname ?? name, opts.sshPort ?? 22);
    mkdirSync(host.stateDir, { recursive: true });
    mkdirSync(host.binDir, { recursive: true });
    const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
    const wrapper = (mode: string, vars: string) => `#!/bin/sh\n${vars}exec ${q(process.execPath)} ${q(this.simulator)} ${mode} "$@"\n`;
    writeFileSync(host.zfsPath, wrapper('zfs', `ZFS_SIM_STATE=${q(host.stateDir)} ZFS_SIM_FLEET=${q(this.dir)} export ZFS_SIM_STATE ZFS_SIM_FLEET\n`));
    writeFileSync(host.sshPath, wrapper('ssh', `ZFS_SIM_FLEET=${q(this.dir)} export ZFS_SIM_FLEET\n`));
    chmodSync(host.zfsPath, 0o755);
    chmodSync(host.sshPath, 0o755);
    for (const [pool, txg] of Object.entries(opts.pools ?? { [name]: 100 })) host.createPool(pool, txg);
    if (opts.settings) host.settings(opts.settings);
    this.hosts.set(name, host);
    this.entries.set(host.hostname, { hostname: host.hostname, stateDir: host.stateDir, binDir: host.binDir, sshPort: host.sshPort, sshUsers: opts.sshUsers ?? null });
    this.save();
    return host;
  }

  /** Cut the next `times` ssh connections to `hostname` after `afterBytes` bytes (a broken pipe). */
  cutNextConnection(hostname: string, afterBytes: number, times = 1): void {
    addSshFault(this.dir, { host: hostname, afterBytes, times });
  }

  async cleanup(): Promise<void> {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private readonly entries = new Map<string, FleetHost>();
  private save(): void {
    const fleet: Fleet = { hosts: Object.fromEntries(this.entries) };
    writeFileSync(join(this.dir, FLEET_FILE), JSON.stringify(fleet, null, 2));
  }
}

/** ava's hooks, as far as a fleet needs them. */
interface FileHooks {
  before: (fn: () => Promise<void>) => void;
  after: { always: (fn: () => Promise<void>) => void };
}

/** One fleet for a test file: created before its tests, removed after them. */
export function simFleetPerFile(test: FileHooks): () => SimFleet {
  let fleet: SimFleet | undefined;
  test.before(async () => {
    fleet = await SimFleet.create();
  });
  test.after.always(async () => {
    await fleet?.cleanup();
  });
  return () => {
    if (!fleet) throw new Error('the fleet exists once the before hook ran');
    return fleet;
  };
}
