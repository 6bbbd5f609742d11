/** The executable's entry point (the npm bin and the bundle): run the command line, exit with its code. */
import { EXIT } from './exit-codes.js';
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => {
    // Let stdout and stderr drain (pipes are written asynchronously), then exit even if an idle
    // keep-alive socket lingers.
    let pending = 2;
    const done = () => {
      if (--pending === 0) process.exit(code);
    };
    process.stdout.write('', done);
    process.stderr.write('', done);
  },
  (err: unknown) => {
    process.stderr.write(`zfs-sync-agent: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(EXIT.SOFTWARE);
  },
);
