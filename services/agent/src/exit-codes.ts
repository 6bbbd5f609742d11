/**
 * Exit codes a cron job or a systemd unit can act on (sysexits.h where one fits). Every failure
 * leaves one line on stderr that says what happened and what to do.
 */
export const EXIT = {
  OK: 0,
  /** One or more transfers failed or were refused; the witness was told (see the log lines). */
  TRANSFERS_FAILED: 1,
  /** Bad command line. */
  USAGE: 64,
  /** zfs printed something the agent cannot read: nothing was reported. */
  DATA: 65,
  /** The witness could not be reached (network, TLS, or it answered 5xx after retries). */
  UNAVAILABLE: 69,
  /** A bug: please report it with the log. */
  SOFTWARE: 70,
  /** zfs (or ssh) could not be run, or `zfs list` failed. */
  OS: 71,
  /** The state directory or the credentials file cannot be written. */
  CANT_CREATE: 73,
  /** The witness refused the credentials (401/403): the key is wrong, rotated or revoked. */
  NO_PERMISSION: 77,
  /** The configuration is missing or invalid. */
  CONFIG: 78,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error that ends the command with a specific exit code and a message for people. */
export class AgentError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'AgentError';
  }
}
