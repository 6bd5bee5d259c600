import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import type { Credentials } from '../helpers/api-client.js';
import { getTimeline, subscribeOk, waitForState } from '../helpers/api-tasks.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';
import { TEST_CRYPTO_KEY } from '../helpers/server-env.js';
import { TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A real redis-server with a small maxmemory (and noeviction, as the shipped config has), filled
 * up while an attempt is in flight: new tasks are refused with 503 and Retry-After, the attempt's
 * lease is kept, and its outcome is recorded once memory is freed instead of being dropped (which
 * would make the task run again).
 */
describe('Redis at its maxmemory', () => {
  const LEASE_MS = 3_000;
  let redis: RedisServer;
  let raw: Redis;
  let target: TargetServer;
  let server: TestServer;
  let creds: Credentials;

  before(async () => {
    redis = await startRedisServer({ args: ['--maxmemory', '16mb', '--maxmemory-policy', 'noeviction'] });
    raw = new Redis(redis.url, { lazyConnect: true, db: 1 });
    await raw.connect();
    target = await TargetServer.start((request) => (request.url.startsWith('/hold') ? { hang: true } : { status: 200 }));
    server = await startTestServer({ env: { TASKS_DB: redis.url, TASKS_CRYPTO_KEY: TEST_CRYPTO_KEY, TASKS_LEASE_MS: String(LEASE_MS) } });
    creds = await server.client.register();
  });
  after(async () => {
    target?.answerHeld(200);
    await server?.close();
    raw?.disconnect();
    await target?.close();
    await redis?.close();
  });

  /**
   * Writes filler keys until Redis refuses one for want of memory; answers how many it took. The
   * refused write's own 256 KB leave memory again once it is refused, room for small writes: the
   * limit is then set a megabyte under what Redis holds, so it stays full whatever runs meanwhile.
   */
  async function fill(): Promise<number> {
    const chunk = 'x'.repeat(256 * 1024);
    for (let i = 0; i < 1_000; i++) {
      try {
        await raw.set(`filler:${i}`, chunk);
      } catch (error) {
        assert.match((error as Error).message, /^OOM/);
        const used = Number(/used_memory:(\d+)/.exec(await raw.info('memory'))?.[1]);
        await raw.config('SET', 'maxmemory', String(used - 1024 * 1024));
        return i;
      }
    }
    throw new Error('Redis never refused a write: is maxmemory set?');
  }

  /** How many commands Redis has refused for want of memory (INFO errorstats). */
  const oomRefusals = async (): Promise<number> => Number(/errorstat_OOM:count=(\d+)/.exec(await raw.info('errorstats'))?.[1] ?? 0);

  test('subscribe answers 503 with Retry-After; an outcome waits, under a kept lease, and is recorded once memory is freed', async () => {
    const held = await subscribeOk(server.client, creds, { httpRequest: { url: target.url('/hold'), method: 'POST' } });
    await target.waitForRequests(1, { path: '/hold' });
    const leasedUntil = Number(await raw.hget(`kt:task:${held.id}`, 'leaseUntil'));

    const fillers = await fill();
    const refused = await server.client.subscribe(creds, { httpRequest: { url: target.url('/refused'), method: 'POST' } });
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body.code, 'STORE_UNAVAILABLE');
    assert.equal(refused.headers.get('retry-after'), '5');

    // The target answers; Redis refuses the outcome.
    const before = await oomRefusals();
    assert.equal(target.answerHeld(200), 1);
    await waitFor('Redis to refuse the outcome', async () => (await oomRefusals()) > before);
    // Past the end of the lease it had, the lease is still the sender's (renewed while Redis is
    // full) and the task still waits for its outcome: it is not sent again.
    await waitFor(
      'the lease to be renewed past its first end',
      async () => Number(await raw.hget(`kt:task:${held.id}`, 'leaseUntil')) > leasedUntil + LEASE_MS,
    );
    assert.equal((await server.client.task(creds, held.id)).body.state, 'RUNNING');

    await raw.del(...Array.from({ length: fillers }, (_, i) => `filler:${i}`));
    await raw.config('SET', 'maxmemory', '16mb');
    await waitForState(server.client, creds, held.id, 'COMPLETED');
    assert.equal(target.requestsOn('/hold').length, 1, 'sent once');
    const attempts = (await getTimeline(server.client, creds, held.id)).filter((e) => e.label === 'Complete');
    assert.equal(attempts.length, 1, 'one outcome recorded');
    await subscribeOk(server.client, creds, { httpRequest: { url: target.url('/after'), method: 'POST' } });
  });
});
