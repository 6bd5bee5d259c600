import { pooledRandomBytes } from './random-pool.js';

/*
 * Ids are 26 characters of Crockford base32: 10 for the creation time in milliseconds, 16 random
 * (80 bits). Time first means ids sort by creation and new rows land at the end of indexes.
 */

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const ID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;
export const ID_LENGTH = 26;

/** The latest time 10 base32 characters hold. */
const ID_TIME_MAX = 32 ** 10 - 1;

/** The 10 characters that stand for a time in milliseconds. */
function timePart(ms: number): string {
  let time = '';
  let t = Math.max(0, Math.floor(ms));
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  return time;
}

/** The lowest id a task made at `ms` can have: ids at or above it were made at or after `ms`. */
export function idFloor(ms: number): string {
  return timePart(Math.min(ms, ID_TIME_MAX)) + '0'.repeat(16);
}

export function newId(now: number): string {
  const time = timePart(now);
  const bytes = pooledRandomBytes(10);
  let random = '';
  // 80 random bits as 16 base32 characters: 5 bits each.
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      random += ALPHABET[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  return time + random;
}

export function isId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}
