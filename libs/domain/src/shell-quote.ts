/**
 * POSIX shell quoting. Every value that reaches a command line a host will run goes through
 * `shellQuote`, even values that already passed validation: validation says what is allowed,
 * quoting makes sure the shell sees exactly one word whatever slipped through.
 */

/** Characters that never need quoting in a POSIX shell word. */
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quote one argument so a POSIX shell reads it back as exactly that one word. */
export function shellQuote(value: string): string {
  if (value.includes('\0')) throw new Error('a shell argument cannot contain a NUL byte');
  if (value !== '' && SAFE_WORD.test(value)) return value;
  // Inside single quotes nothing is special except the closing quote itself.
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** Join already-separate arguments into one command line, quoting each. */
export function shellJoin(args: readonly string[]): string {
  return args.map(shellQuote).join(' ');
}
