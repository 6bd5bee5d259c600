import { randomBytes } from 'node:crypto';

/*
 * Random bytes for ids and IVs from a pool refilled 4 KiB at a time: still the operating system's
 * CSPRNG, but one system call per few hundred draws instead of one per draw (a system call costs
 * about as much as a whole refill). A drawn slice is never handed out again: a refill allocates
 * a new pool, so slices already returned stay as they were.
 */

const POOL_SIZE = 4096;
let pool = Buffer.alloc(0);
let offset = 0;

export function pooledRandomBytes(size: number): Buffer {
  if (size > POOL_SIZE) return randomBytes(size);
  if (offset + size > pool.length) {
    pool = randomBytes(POOL_SIZE);
    offset = 0;
  }
  const bytes = pool.subarray(offset, offset + size);
  offset += size;
  return bytes;
}
