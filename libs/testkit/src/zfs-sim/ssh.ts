/**
 * The simulated `ssh [options] [-p port] [user@]host command…`: like OpenSSH it joins the command
 * words with spaces and hands the line to the remote user's POSIX shell — here /bin/sh running in
 * the other simulated host's environment (its `zfs` first on PATH, its state directory). The
 * fleet file maps host names to hosts, their ssh port and the users allowed in, so a wrong port,
 * an unknown host or a user without access fails as it would for real (exit 255).
 *
 * Faults for tests: the fleet's faults file can cut the next connection to a host after N bytes
 * (a broken pipe): the remote side sees its input end early, the local side a closed pipe.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { withState } from './state.js';

export interface FleetHost {
  hostname: string;
  stateDir: string;
  binDir: string;
  sshPort: number;
  /** null: any user may log in. */
  sshUsers: string[] | null;
}

export interface Fleet {
  hosts: Record<string, FleetHost>;
}

export interface SshFault {
  /** Host name as given to ssh. */
  host: string;
  /** Cut the connection once this many bytes went through (either direction). */
  afterBytes: number;
  /** How many connections to cut. */
  times: number;
}

export const FLEET_FILE = 'fleet.json';
export const FAULTS_DIR = 'faults';

const NO_ARG = '46AaCfGgKkMNnqsTtVvXxYy';
const WITH_ARG = 'BbcDEeFIiJLlmOopQRSWw';

export function readFleet(fleetDir: string): Fleet {
  return JSON.parse(readFileSync(join(fleetDir, FLEET_FILE), 'utf8')) as Fleet;
}

/** Take the first pending fault for a host (consumed atomically across processes). */
function takeFault(fleetDir: string, host: string): SshFault | null {
  const dir = join(fleetDir, FAULTS_DIR);
  if (!existsSync(join(dir, 'state.json'))) return null;
  return withState(dir, (state) => {
    const faults = ((state as unknown as { faults?: SshFault[] }).faults ??= []);
    const at = faults.findIndex((f) => f.host === host && f.times > 0);
    if (at < 0) return null;
    const fault = { ...faults[at]! };
    faults[at]!.times--;
    return fault;
  });
}

interface Io {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

export async function runSsh(argv: string[], io: Io, env: { fleetDir: string; localUser: string }): Promise<number> {
  let port = 22;
  let login: string | null = null;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-') || a === '-') break;
    if (a === '--') {
      i++;
      break;
    }
    for (let j = 1; j < a.length; j++) {
      const c = a[j]!;
      if (NO_ARG.includes(c)) continue;
      if (!WITH_ARG.includes(c)) {
        io.stderr.write(`ssh: unknown option -- ${c}\nusage: ssh [-46AaCfGgKkMNnqsTtVvXxYy] [-B bind_interface] [-b bind_address]\n           [-c cipher_spec] [-D [bind_address:]port] [-E log_file]\n           [-e escape_char] [-F configfile] [-I pkcs11] [-i identity_file]\n           [-J destination] [-L address] [-l login_name] [-m mac_spec]\n           [-O ctl_cmd] [-o option] [-P tag] [-p port] [-R address]\n           [-S ctl_path] [-W host:port] [-w local_tun[:remote_tun]]\n           destination [command [argument ...]]\n`);
        return 255;
      }
      let value = a.slice(j + 1);
      if (value === '') value = argv[++i] ?? '';
      if (c === 'p') {
        if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 65535) {
          io.stderr.write(`Bad port '${value}'\n`);
          return 255;
        }
        port = Number(value);
      }
      if (c === 'l') login = value;
      break;
    }
  }
  const destination = argv[i];
  const words = argv.slice(i + 1);
  if (!destination) {
    io.stderr.write('usage: ssh [-46AaCfGgKkMNnqsTtVvXxYy] ... destination [command [argument ...]]\n');
    return 255;
  }
  let host = destination;
  const at = destination.lastIndexOf('@');
  if (at >= 0) {
    login = destination.slice(0, at);
    host = destination.slice(at + 1);
  }
  const user = login ?? env.localUser;
  const fleet = readFleet(env.fleetDir);
  const remote = fleet.hosts[host];
  if (!remote) {
    io.stderr.write(`ssh: Could not resolve hostname ${host}: Name or service not known\n`);
    return 255;
  }
  if (remote.sshPort !== port) {
    io.stderr.write(`ssh: connect to host ${host} port ${port}: Connection refused\n`);
    return 255;
  }
  if (remote.sshUsers !== null && !remote.sshUsers.includes(user)) {
    io.stderr.write(`${user}@${host}: Permission denied (publickey).\n`);
    return 255;
  }
  if (words.length === 0) {
    io.stderr.write('zfs-sim ssh: interactive sessions are not simulated; give a command\n');
    return 255;
  }
  const command = words.join(' ');
  const fault = takeFault(env.fleetDir, host);
  const child = spawn('/bin/sh', ['-c', command], {
    cwd: remote.stateDir,
    env: {
      PATH: `${remote.binDir}:/usr/local/bin:/usr/bin:/bin`,
      HOME: remote.stateDir,
      USER: user,
      LOGNAME: user,
      ZFS_SIM_FLEET: env.fleetDir,
      ZFS_SIM_STATE: remote.stateDir,
      ZFS_SIM_HOST: host,
      ...(process.env.ZFS_SIM_NOW ? { ZFS_SIM_NOW: process.env.ZFS_SIM_NOW } : {}),
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let through = 0;
  let cut = false;
  const breakConnection = () => {
    if (cut) return;
    cut = true;
    // The remote sees its input end early; the local side sees ssh stop reading and exit.
    io.stdin.unpipe(child.stdin);
    child.stdin.destroy();
    child.stdout.destroy();
    io.stdin.destroy();
  };
  const count = (n: number) => {
    through += n;
    if (fault && through >= fault.afterBytes) breakConnection();
  };
  io.stdin.on('data', (chunk: Buffer) => {
    if (cut) return;
    const room = fault ? fault.afterBytes - through : chunk.length;
    const part = room < chunk.length ? chunk.subarray(0, Math.max(0, room)) : chunk;
    if (part.length && !child.stdin.destroyed && !child.stdin.write(part)) {
      io.stdin.pause();
      child.stdin.once('drain', () => io.stdin.resume());
    }
    count(chunk.length);
  });
  io.stdin.on('end', () => {
    if (!cut) child.stdin.end();
  });
  io.stdin.on('error', () => {});
  child.stdin.on('error', () => {});
  child.stdout.on('data', (chunk: Buffer) => {
    if (cut) return;
    const room = fault ? fault.afterBytes - through : chunk.length;
    const part = room < chunk.length ? chunk.subarray(0, Math.max(0, room)) : chunk;
    if (part.length && !io.stdout.write(part)) {
      child.stdout.pause();
      io.stdout.once('drain', () => child.stdout.resume());
    }
    count(chunk.length);
  });
  child.stdout.on('error', () => {});
  io.stdout.on('error', () => breakConnection());
  child.stderr.pipe(io.stderr, { end: false });
  const code = await new Promise<number>((resolve) => child.on('close', (c, signal) => resolve(c ?? (signal ? 128 : 255))));
  if (cut) {
    io.stderr.write('client_loop: send disconnect: Broken pipe\n');
    return 255;
  }
  return code;
}
