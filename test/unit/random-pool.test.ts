import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pooledRandomBytes } from '../../src/core/random-pool.js';

describe('pooledRandomBytes', () => {
  test('answers the size asked, and draws across several refills never repeat', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2_000; i++) {
      const bytes = pooledRandomBytes(12); // 24 KB drawn: six refills of the 4 KiB pool
      assert.equal(bytes.length, 12);
      seen.add(bytes.toString('hex'));
    }
    assert.equal(seen.size, 2_000);
  });

  test('a slice already returned keeps its bytes after the pool is refilled', () => {
    const first = pooledRandomBytes(16);
    const copy = Buffer.from(first);
    for (let i = 0; i < 1_000; i++) pooledRandomBytes(16); // past a refill
    assert.deepEqual(first, copy);
  });

  test('a size larger than the pool is served whole', () => {
    const big = pooledRandomBytes(10_000);
    assert.equal(big.length, 10_000);
    assert.notDeepEqual(big.subarray(0, 5_000), big.subarray(5_000));
  });
});
