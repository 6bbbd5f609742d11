/**
 * zfs-sync-agent: the command line. Parses arguments, loads the configuration and credentials,
 * runs one command and turns its outcome into an exit code (exit-codes.ts) with one line on
 * stderr that says what to do.
 */
import { parseArgs } from 'node:util';
import { loadAgentConfig, type AgentConfig } from './config.js';
import { resolveCredentials } from './credentials.js';
import { daemon, parseInterval } from './daemon.js';
import { AgentError, EXIT } from './exit-codes.js';
import { createLogger, type Logger } from './log.js';
import { report, type AgentContext } from './report.js';
import { status } from './status.js';
import { sync, type SyncOutcome } from './sync.js';
import { AGENT_VERSION } from './version.js';
import { WitnessClient } from './witness.js';

const HELP = `zfs-sync-agent ${AGENT_VERSION} — reports this host's ZFS snapshots to a zfs-sync witness and runs its transfer plans

usage: zfs-sync-agent [--config FILE] [-v|--verbose] [-q|--quiet] [--log-json] COMMAND [options]

commands:
  report              send the complete snapshot inventory, then a heartbeat
  sync [--dry-run]    fetch this host's instructions and run them (--dry-run: print the commands, run nothing)
  run [--dry-run]     report, then sync (what cron or the systemd timer runs; --dry-run: only print what sync would run)
  daemon [--interval 5m]
                      run in a loop (±10 % jitter; backs off while the witness is unreachable)
  status [--json]     this host's links: direction, verdict, lag, conflicts
  version             print the version

configuration: ${'/etc/zfs-sync/agent.yaml'} (or --config / ZFS_SYNC_AGENT_CONFIG), overridden by
ZFS_SYNC_AGENT_<KEY> environment variables (e.g. ZFS_SYNC_AGENT_WITNESS_URL).

exit codes: 0 ok · 1 a transfer failed or was refused (or, for status, a link needs attention)
  64 usage · 65 unreadable zfs output · 69 witness unreachable · 70 internal error
  71 zfs/ssh failed · 73 cannot write state · 77 credentials refused · 78 configuration
`;

interface Parsed {
  command: string | undefined;
  values: Record<string, string | boolean | undefined>;
}

function parse(argv: string[]): Parsed {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string', short: 'c' },
        verbose: { type: 'boolean', short: 'v' },
        quiet: { type: 'boolean', short: 'q' },
        'log-json': { type: 'boolean' },
        'dry-run': { type: 'boolean', short: 'n' },
        json: { type: 'boolean' },
        interval: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
    if (positionals.length > 1) throw new AgentError(`unexpected argument ${JSON.stringify(positionals[1])}`, EXIT.USAGE, 'see zfs-sync-agent --help');
    return { command: values.help ? 'help' : values.version ? 'version' : positionals[0], values };
  } catch (err) {
    if (err instanceof AgentError) throw err;
    throw new AgentError((err as Error).message, EXIT.USAGE, 'see zfs-sync-agent --help');
  }
}

async function context(config: AgentConfig, log: Logger): Promise<AgentContext> {
  const credentials = await resolveCredentials(config, log);
  return { config, log, witness: new WitnessClient(config, log, credentials) };
}

function syncExit(outcome: SyncOutcome): number {
  return outcome.failed + outcome.refused > 0 ? EXIT.TRANSFERS_FAILED : EXIT.OK;
}

/** report + sync, as one run of cron or the timer. */
async function runOnce(ctx: AgentContext, opts: { dryRun: boolean; signal?: AbortSignal }): Promise<number> {
  if (!opts.dryRun) await report(ctx);
  const outcome = await sync(ctx, { dryRun: opts.dryRun, ...(opts.signal ? { signal: opts.signal } : {}) });
  if (!opts.dryRun) summarise(ctx.log, outcome);
  return syncExit(outcome);
}

function summarise(log: Logger, o: SyncOutcome): void {
  if (o.offered === 0) return log.info('sync: nothing to run');
  const line = `sync: ${o.succeeded} succeeded, ${o.failed} failed, ${o.refused} refused, ${o.skipped} skipped`;
  if (o.failed + o.refused > 0) log.error(line);
  else log.info(line);
}

function reportError(log: Logger, err: unknown): number {
  if (err instanceof AgentError) {
    log.error(err.hint ? `${err.message} — ${err.hint}` : err.message);
    return err.exitCode;
  }
  log.error(`internal error: ${(err as Error)?.stack ?? String(err)}`);
  return EXIT.SOFTWARE;
}

export async function main(argv: string[]): Promise<number> {
  let log = createLogger({ level: 'info', format: 'text' });
  try {
    const { command, values } = parse(argv);
    if (command === undefined || command === 'help') {
      process.stdout.write(HELP);
      return command === undefined ? EXIT.USAGE : EXIT.OK;
    }
    if (command === 'version') {
      process.stdout.write(`zfs-sync-agent ${AGENT_VERSION}\n`);
      return EXIT.OK;
    }
    if (!['report', 'sync', 'run', 'daemon', 'status'].includes(command)) throw new AgentError(`unknown command ${JSON.stringify(command)}`, EXIT.USAGE, 'see zfs-sync-agent --help');
    const config = loadAgentConfig({ ...(typeof values.config === 'string' ? { file: values.config } : {}) });
    const level = values.verbose ? 'debug' : values.quiet ? 'warn' : config.logLevel;
    log = createLogger({ level, format: values['log-json'] ? 'json' : config.logFormat });
    const dryRun = values['dry-run'] === true;
    const ctx = await context(config, log);
    switch (command) {
      case 'report':
        await report(ctx);
        return EXIT.OK;
      case 'sync': {
        const outcome = await sync(ctx, { dryRun });
        if (!dryRun) summarise(log, outcome);
        return syncExit(outcome);
      }
      case 'run':
        return await runOnce(ctx, { dryRun });
      case 'status':
        return await status(ctx, { json: values.json === true });
      case 'daemon': {
        const interval = parseInterval(typeof values.interval === 'string' ? values.interval : '5m');
        if (interval === null || interval < 10) throw new AgentError(`--interval ${values.interval}: give a duration of at least 10s, such as 90s, 5m or 1h`, EXIT.USAGE);
        return await daemon(log, interval, async (signal) => {
          try {
            return await runOnce(ctx, { dryRun: false, signal });
          } catch (err) {
            return reportError(log, err);
          }
        });
      }
    }
    return EXIT.USAGE;
  } catch (err) {
    return reportError(log, err);
  }
}
