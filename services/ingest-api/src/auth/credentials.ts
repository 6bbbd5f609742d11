import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Keys are 256 random bits with a recognisable prefix, so a leaked key can be found by secret
 * scanners and told apart from an operator token at a glance.
 */
export const HOST_KEY_PREFIX = 'zs_host_';
export const ADMIN_TOKEN_PREFIX = 'zs_admin_';

export function newHostKey(): string {
  return HOST_KEY_PREFIX + randomBytes(32).toString('base64url');
}

export function newAdminToken(): string {
  return ADMIN_TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/** What is stored: the SHA-256 of the key, hex. The key itself is shown once and forgotten. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Constant-time comparison of two hex digests. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}
