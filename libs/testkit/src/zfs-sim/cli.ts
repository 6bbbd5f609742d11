/**
 * Entry point of the simulator executable (bundled to one file with a `#!/usr/bin/env node` line):
 *   zfs-sim zfs <zfs arguments…>      state directory from --state DIR or ZFS_SIM_STATE
 *   zfs-sim ssh <ssh arguments…>      fleet directory from ZFS_SIM_FLEET
 *   zfs-sim admin <admin command…>
 * Each simulated host gets `bin/zfs` and `bin/ssh` wrappers that call it (see fleet.ts).
 */
import { runAdmin } from './admin.js';
import { runSsh } from './ssh.js';
import { ZfsError } from './state.js';
import { runZfs } from './zfs.js';

async function main(): Promise<number> {
  let args = process.argv.slice(2);
  const mode = args.shift();
  let stateDir = process.env.ZFS_SIM_STATE;
  if (args[0] === '--state') {
    stateDir = args[1];
    args = args.slice(2);
  }
  // A reader that went away (`zfs list | head`) is not an error worth a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
  try {
    switch (mode) {
      case 'zfs':
        if (!stateDir) throw new ZfsError('zfs-sim: no state directory (set ZFS_SIM_STATE or pass --state DIR)', 2);
        return await runZfs(args, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, dir: stateDir });
      case 'ssh':
        if (!process.env.ZFS_SIM_FLEET) throw new ZfsError('zfs-sim: no fleet directory (set ZFS_SIM_FLEET)', 255);
        return await runSsh(args, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }, { fleetDir: process.env.ZFS_SIM_FLEET, localUser: process.env.USER ?? process.env.LOGNAME ?? 'root' });
      case 'admin':
        return await runAdmin(args, { ...(stateDir ? { stateDir } : {}), ...(process.env.ZFS_SIM_FLEET ? { fleetDir: process.env.ZFS_SIM_FLEET } : {}) }, (s) => process.stdout.write(s));
      default:
        process.stderr.write('usage: zfs-sim zfs|ssh|admin …\n');
        return 2;
    }
  } catch (err) {
    if (err instanceof ZfsError) {
      process.stderr.write(`${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`zfs-sim: internal error: ${(err as Error).stack ?? err}\n`);
    return 70;
  }
}

main().then((code) => {
  process.exitCode = code;
  // Do not wait for an unread stdin (e.g. `zfs list` run with a pipe attached), but do wait until
  // stdout and stderr are flushed: a pipe is written asynchronously, and exiting early cuts it.
  if (process.stdin.readable) process.stdin.pause();
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
});
