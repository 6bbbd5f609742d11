/** The executable's entry point (the npm bin and the bundle): run the command line, exit with its code. */
import { EXIT } from './exit-codes.js';
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => {
    // Let stderr drain, then exit even if an idle keep-alive socket lingers.
    process.stderr.write('', () => process.exit(code));
  },
  (err: unknown) => {
    process.stderr.write(`zfs-sync-agent: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(EXIT.SOFTWARE);
  },
);
