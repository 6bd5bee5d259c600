import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Credentials } from '../helpers/api-client.js';
import { killNodes, type Node, clusterEnv, startNodes } from '../helpers/cluster-nodes.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';
import { TargetServer } from '../helpers/target-server.js';
import { holdFor, waitFor } from '../helpers/wait.js';

/**
 * Flow control across three server processes on one real Redis: a key's limits are kept and
 * counted in the store, so they hold for the three nodes together (core/flow.ts), and a killed
 * node's tasks in flight stop counting against the key's parallelism when their lease ends.
 */
describe('flow control across three servers sharing one Redis', () => {
  let redis: RedisServer;
  let target: TargetServer;
  let nodes: Node[] | undefined;
  let creds: Credentials;

  before(async () => {
    redis = await startRedisServer();
    target = await TargetServer.start((request) => (request.url.startsWith('/hang/') ? { hang: true } : { status: 200 }));
    nodes = await startNodes(3, clusterEnv(redis.url, { TASKS_CONCURRENCY: '64' }));
    creds = await nodes[0]!.client.register();
  });

  after(async () => {
    await killNodes(nodes);
    await target?.close();
    await redis?.close();
  });

  /** Subscribes `count` tasks of the key, a batch through each node in turn. */
  async function subscribeKeyed(key: string, path: string, count: number): Promise<void> {
    const perBatch = Math.ceil(count / 3);
    for (let batch = 0; batch * perBatch < count; batch++) {
      const items = Array.from({ length: Math.min(perBatch, count - batch * perBatch) }, (_, i) => ({
        httpRequest: { url: target.url(`${path}${batch * perBatch + i}`), method: 'POST' },
        flowKey: key,
      }));
      const res = await nodes![batch % 3]!.client.subscribeBatch(creds, items);
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
  }

  test('a rate of 50/s delivers 500 ± 2% in the 10 s from the first delivery', async (t) => {
    const put = await nodes![1]!.client.request('PUT', '/v1beta/flow/fifty', { creds, body: { rate: { limit: 50, periodMs: 1000 } } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    await subscribeKeyed('fifty', '/rate/', 700);
    const arrivals = (): number[] => target.requests.filter((r) => r.url.startsWith('/rate/')).map((r) => r.at);
    const first = await waitFor('the first delivery', () => arrivals()[0]);
    // The window is over once a delivery arrives after it (the backlog outlasts it: 700 > 550).
    await waitFor('a delivery after the 10 s window', () => arrivals().some((at) => at >= first + 10_000), { timeoutMs: 30_000 });
    const inWindow = arrivals().filter((at) => at < first + 10_000).length;
    t.diagnostic(`${inWindow} deliveries in the 10 s from the first`);
    assert.ok(Math.abs(inWindow - 500) <= 10, `${inWindow} deliveries in the 10 s window, expected 500 ± 10`);
    const urls = target.requests.filter((r) => r.url.startsWith('/rate/')).map((r) => r.url);
    assert.equal(new Set(urls).size, urls.length, 'no task delivered twice');
    await nodes![0]!.client.request('DELETE', '/v1beta/flow/fifty', { creds });
  });

  test("parallelism holds across the nodes, and a killed node's tasks stop counting when their lease ends", async () => {
    const put = await nodes![0]!.client.request('PUT', '/v1beta/flow/four', { creds, body: { parallelism: 4 } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const hung = (): number => target.requests.filter((r) => r.url.startsWith('/hang/')).length;
    await subscribeKeyed('four', '/hang/', 12);
    await waitFor('four tasks of the key in flight', () => target.heldCount === 4 && hung() === 4);
    await holdFor(500, 'time for any node to start a fifth');
    assert.equal(hung(), 4, 'four at most, whichever nodes claimed them');
    const status = await nodes![2]!.client.request('GET', '/v1beta/flow/four', { creds });
    assert.deepEqual([status.body.inFlight, status.body.waiting], [4, 8]);

    // Kill two nodes: the tasks they held stay counted until their lease ends (TASKS_LEASE_MS,
    // 3 s), then the key has room again and the last node starts others in their place.
    await Promise.all([nodes![0]!.process.kill('SIGKILL'), nodes![1]!.process.kill('SIGKILL')]);
    // The dead nodes' connections close at once; what stays held is the survivor's.
    await waitFor("the dead nodes' requests to close", () => target.heldCount < 4, { timeoutMs: 5_000 }).catch(() => undefined);
    const survivors = target.heldCount;
    await waitFor('four in flight again, after the dead leases ended', () => target.heldCount === 4, { timeoutMs: 20_000 });
    await holdFor(500, 'time for the survivor to start more than the places freed');
    assert.equal(hung(), 4 + (4 - survivors), `as many started as the dead nodes held (${4 - survivors}), no more`);
    const after = await nodes![2]!.client.request('GET', '/v1beta/flow/four', { creds });
    assert.equal(after.body.inFlight, 4);
  });
});
