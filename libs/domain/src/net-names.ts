/**
 * Validation of the network identities a host registers (hostname, ssh_hostname, ssh_user).
 * These values end up in `ssh` command lines, so the rules are strict allow-lists: anything
 * outside them — quotes, spaces, `;`, `$`, backticks, `|`, `&`, newlines — is refused.
 */
import { isIP } from 'node:net';

const DNS_LABEL = /^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$/;

/** A DNS name (RFC 1123 labels; `_` tolerated because real fleets use it), at most 253 bytes. */
export function isDnsName(value: string): boolean {
  if (value.length === 0 || value.length > 253) return false;
  const name = value.endsWith('.') ? value.slice(0, -1) : value;
  if (name.length === 0) return false;
  return name.split('.').every((label) => DNS_LABEL.test(label));
}

/** An IPv4 or IPv6 literal (optionally in brackets for IPv6). */
export function isIpLiteral(value: string): boolean {
  const bare = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
  return isIP(bare) !== 0;
}

/** A host an ssh client can be pointed at: a DNS name or an IP literal. */
export function isHostName(value: string): boolean {
  return isDnsName(value) || isIpLiteral(value);
}

/**
 * A POSIX portable user name (IEEE Std 1003.1 3.437): letters, digits, `.`, `_`, `-`, not
 * starting with `-`; at most 32 characters as on Linux. A trailing `$` (Samba machine accounts)
 * is deliberately not allowed: it would be a shell metacharacter in a command line.
 */
export function isPosixUserName(value: string): boolean {
  return /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,31}$/.test(value);
}
