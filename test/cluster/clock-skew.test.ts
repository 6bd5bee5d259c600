import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { type Clock, systemClock } from '../../src/core/clock.js';
import type { QueuedView } from '../../src/core/shapes.js';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import type { Credentials } from '../helpers/api-client.js';
import { subscribeOk, waitForState } from '../helpers/api-tasks.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';
import { TEST_CRYPTO_KEY } from '../helpers/server-env.js';
import { TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Two servers on one real Redis whose machines' clocks disagree by ten minutes: one five minutes
 * behind, one five minutes ahead (each a Clock given to its store: the seam a machine's clock
 * enters by). Were each to use its own clock, the one ahead would see the other's leases as long
 * run out and send its tasks again, and would take the other's heartbeat, ten minutes "old", for a
 * restart of the whole service and release every lease at once. On Redis's time neither happens.
 */
describe('servers whose clocks are minutes apart, on one Redis', () => {
  const FIVE_MINUTES = 5 * 60_000;
  let redis: RedisServer;
  let raw: Redis;
  let target: TargetServer;
  const nodes: TestServer[] = [];
  const sent = new Map<string, number>();

  const skewed = (ms: number): Clock => ({ now: () => systemClock.now() + ms });

  /** A server in this process whose machine's clock is `skewMs` off. */
  async function startNode(skewMs: number, env: Record<string, string>): Promise<TestServer> {
    const store = await RedisStore.connect({ url: redis.url, retentionSeconds: 3600, clock: skewed(skewMs) });
    const node = await startTestServer({
      env: { TASKS_DB: redis.url, TASKS_CRYPTO_KEY: TEST_CRYPTO_KEY, TASKS_LEASE_MS: '3000', ...env },
      overrides: { store },
    });
    nodes.push(node);
    return node;
  }

  before(async () => {
    redis = await startRedisServer();
    raw = new Redis(redis.url, { lazyConnect: true, db: 1 });
    await raw.connect();
    target = await TargetServer.start((request) => {
      const id = String(request.headers['x-kuueri-tasks-queue']);
      sent.set(id, (sent.get(id) ?? 0) + 1);
      return request.url.startsWith('/hold') ? { hang: true } : { status: 200 };
    });
  });
  after(async () => {
    target?.answerHeld(200);
    for (const node of nodes) await node.close();
    raw?.disconnect();
    await target?.close();
    await redis?.close();
  });

  test('a task in flight on the node behind is not taken by the node ahead; each task is sent once', async () => {
    // One slot and one task claimed ahead: while the held task is in flight, the node behind can
    // take at most one more, so of two more tasks the node ahead must send one.
    const behind = await startNode(-FIVE_MINUTES, { TASKS_CONCURRENCY: '1' });
    const creds: Credentials = await behind.client.register();
    const held = await subscribeOk(behind.client, creds, { httpRequest: { url: target.url('/hold'), method: 'POST' } });
    await target.waitForRequests(1, { path: '/hold' });
    const token = await raw.hget(`kt:task:${held.id}`, 'leaseToken');
    assert.ok(token, 'the held task has a lease');

    const ahead = await startNode(FIVE_MINUTES, {});
    const redisNow = Number((await raw.time())[0]) * 1000;
    const more: QueuedView[] = [];
    for (const path of ['/one', '/two']) {
      more.push(await subscribeOk(ahead.client, creds, { httpRequest: { url: target.url(path), method: 'POST' } }));
    }
    for (const queued of more) {
      assert.ok(
        Math.abs(queued.estimateExecAt - redisNow) < 60_000,
        `due now on Redis's clock, not five minutes off: ${queued.estimateExecAt}`,
      );
    }
    // The node ahead has claimed since it started: its claims saw the held task's lease.
    await waitFor('the node ahead to send a task', () => more.some((q) => sent.has(q.id)));
    assert.equal(await raw.hget(`kt:task:${held.id}`, 'leaseToken'), token, 'the held task is still leased by the node behind');
    assert.equal(sent.get(held.id), 1, 'the held task was sent once');

    target.answerHeld(200);
    for (const id of [held.id, ...more.map((q) => q.id)]) await waitForState(ahead.client, creds, id, 'COMPLETED');
    assert.deepEqual(
      [held.id, ...more.map((q) => q.id)].map((id) => sent.get(id)),
      [1, 1, 1],
      'each task was sent once',
    );
  });
});
