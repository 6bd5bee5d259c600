import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TestClock } from '../../src/core/clock.js';
import { ActivityCounter, MINUTE_MS } from '../../src/dispatch/activity-counter.js';
import { silentLogger } from '../../src/logger.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

describe('ActivityCounter', () => {
  test('counts per project and minute in memory; stop writes them; two counters on one store sum', async () => {
    const clock = new TestClock();
    const store = new SqliteStore({ path: ':memory:', clock });
    const minute = Math.floor(clock.now() / MINUTE_MS) * MINUTE_MS;
    // A flush interval no test reaches: only stop() writes.
    const [a, b] = [new ActivityCounter(store, clock, silentLogger, 3_600_000), new ActivityCounter(store, clock, silentLogger, 3_600_000)];
    try {
      a.start();
      b.start();
      a.count('p', true);
      a.count('p', false);
      b.count('p', true);
      b.count('q', false);
      clock.advance(MINUTE_MS);
      a.count('p', true);
      assert.deepEqual(await store.readActivity('p', minute, minute + 2 * MINUTE_MS), [], 'nothing written before a flush');
      await Promise.all([a.stop(), b.stop()]);
      assert.deepEqual(await store.readActivity('p', minute, minute + 2 * MINUTE_MS), [
        { projectId: 'p', minute, delivered: 2, failed: 1 },
        { projectId: 'p', minute: minute + MINUTE_MS, delivered: 1, failed: 0 },
      ]);
      assert.deepEqual(await store.readActivity('q', minute, minute + MINUTE_MS), [{ projectId: 'q', minute, delivered: 0, failed: 1 }]);
    } finally {
      await store.close();
    }
  });

  test('counts a flush could not write are kept for the next one', async () => {
    const clock = new TestClock();
    const minute = Math.floor(clock.now() / MINUTE_MS) * MINUTE_MS;
    const broken = new SqliteStore({ path: ':memory:', clock });
    await broken.close(); // every write now fails
    const counter = new ActivityCounter(broken, clock, silentLogger);
    counter.count('p', true);
    await counter.flush();
    // The same counter on a working store: what the failed flush held is written now.
    const store = new SqliteStore({ path: ':memory:', clock });
    try {
      Object.defineProperty(counter, 'store', { value: store });
      counter.count('p', false);
      await counter.flush();
      assert.deepEqual(await store.readActivity('p', minute, minute + MINUTE_MS), [{ projectId: 'p', minute, delivered: 1, failed: 1 }]);
    } finally {
      await store.close();
    }
  });
});
