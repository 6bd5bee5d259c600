import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { type Clock, systemClock } from '../../src/core/clock.js';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The Redis store's clock is Redis's, whatever the local clock says: measured at open, measured
 * again while it runs, on a real redis-server. A local clock off by minutes is the Clock seam.
 */
describe('time on a Redis store', () => {
  const FIVE_MINUTES = 5 * 60_000;
  let redis: RedisServer;
  let raw: Redis;

  before(async () => {
    redis = await startRedisServer();
    raw = new Redis(redis.url, { lazyConnect: true, db: 1 }); // db 1: the heartbeat's
    await raw.connect();
  });
  after(async () => {
    raw?.disconnect();
    await redis?.close();
  });

  /** Redis's TIME in milliseconds. */
  const redisNow = async (): Promise<number> => {
    const [seconds, micros] = await raw.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  };

  /** `clock`'s reading lies between two readings of Redis's TIME taken around it, within `slackMs`. */
  async function assertRedisTime(clock: Clock, slackMs = 200): Promise<void> {
    const before = await redisNow();
    const read = clock.now();
    const after = await redisNow();
    assert.ok(read >= before - slackMs && read <= after + slackMs, `read ${read}, Redis said ${before}..${after}`);
  }

  /** A local clock `skew.ms` away from the system's. */
  const skewed = (skew: { ms: number }): Clock => ({ now: () => systemClock.now() + skew.ms });

  test('a store opened on a clock five minutes ahead, or behind, reads Redis time', async () => {
    for (const ms of [FIVE_MINUTES, -FIVE_MINUTES]) {
      const store = await RedisStore.connect({ url: redis.url, retentionSeconds: 60, prefix: 'skew:', clock: skewed({ ms }) });
      try {
        await assertRedisTime(store.clock);
        const facts = (await store.inspect()).facts;
        assert.ok(Math.abs(Number(facts.clockOffsetMs) + ms) < 1_000, `the start-up log names the offset: ${JSON.stringify(facts)}`);
        // A heartbeat is written in Redis's time: what another node compares with its own.
        await store.heartbeat(store.clock.now());
        const written = Number(await raw.get('skew:heartbeat'));
        assert.ok(Math.abs(written - (await redisNow())) < 1_000, `heartbeat ${written}`);
      } finally {
        await store.close();
      }
    }
  });

  test('a local clock stepped after the store opened is corrected at the next measurement', async () => {
    const skew = { ms: 0 };
    const store = await RedisStore.connect({ url: redis.url, retentionSeconds: 60, prefix: 'step:', clock: skewed(skew), clockSyncMs: 50 });
    try {
      await assertRedisTime(store.clock);
      skew.ms = FIVE_MINUTES;
      await waitFor('the store clock to read Redis time again', async () => Math.abs(store.clock.now() - (await redisNow())) < 200);
      skew.ms = -FIVE_MINUTES;
      await waitFor('the store clock to read Redis time again', async () => Math.abs(store.clock.now() - (await redisNow())) < 200);
      await assertRedisTime(store.clock);
    } finally {
      await store.close();
    }
  });
});
