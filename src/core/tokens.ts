import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

/*
 * Project tokens: 256 random bits, shown once, stored only as SHA-256. A slow password hash buys
 * nothing here (the secret already has 256 bits of entropy) and costs milliseconds per request,
 * which is what made the original slow.
 */

const TOKEN_PREFIX = 'kt_';
export const TOKEN_PATTERN = /^kt_[A-Za-z0-9_-]{43}$/;

export function newToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function hashToken(token: string): Buffer {
  // One-shot: no Hash object to build per request.
  return hash('sha256', token, 'buffer');
}

/** Constant-time comparison of a presented token against a stored hash. */
export function tokenMatches(token: string, storedHash: Uint8Array): boolean {
  const presented = hashToken(token);
  return storedHash.length === presented.length && timingSafeEqual(presented, storedHash);
}
