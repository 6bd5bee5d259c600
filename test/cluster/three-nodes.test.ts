import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Credentials } from '../helpers/api-client.js';
import { getTask, waitForEmptyQueue, waitForTask } from '../helpers/api-tasks.js';
import { aliveNodes, clusterEnv, killNodes, type Node, startNodes, waitForDeliveries } from '../helpers/cluster-nodes.js';
import { mapPool } from '../helpers/pool.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';
import { logLines } from '../helpers/server-process.js';
import { TargetServer } from '../helpers/target-server.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Three server processes on one real Redis: atomic claims (each task delivered once), SIGKILL of a
 * node mid-run (every task still delivered, after the dead node's leases run out), and wake-ups that
 * cross nodes (the poll interval is set to a minute, so only a wake-up can make a task run soon).
 */
describe('three servers sharing one Redis', () => {
  let redis: RedisServer;
  let target: TargetServer;
  let nodes: Node[] | undefined;
  let creds: Credentials;
  let env: Record<string, string>;
  const deliveries = new Map<string, number>();

  before(async () => {
    redis = await startRedisServer();
    target = await TargetServer.start((request) => {
      const id = String(request.headers['x-kuueri-tasks-queue']);
      deliveries.set(id, (deliveries.get(id) ?? 0) + 1);
      return { status: 200, delayMs: request.url.includes('slow') ? 40 : 0 };
    });
    env = clusterEnv(redis.url, { TASKS_POLL_MS: '60000', TASKS_CONCURRENCY: '64' });
    nodes = await startNodes(3, env);
    creds = await nodes[0]!.client.register();
  });

  after(async () => {
    await killNodes(nodes);
    await target?.close();
    await redis?.close();
  });

  const subscribeAll = async (count: number, path: string, maxDelayMs: number): Promise<string[]> =>
    mapPool(
      Array.from({ length: count }, (_, i) => i),
      48,
      async (i) => {
        // As a client behind a load balancer: a node that dies mid-request is retried on another.
        // Only tasks answered 201 count as acknowledged.
        for (let attempt = 0; ; attempt++) {
          const alive = aliveNodes(nodes!);
          const node = alive[(i + attempt) % alive.length]!;
          try {
            const res = await node.client.subscribe(creds, {
              httpRequest: { url: target.url(`${path}?n=${i}`), method: 'POST' },
              config: { executionDelay: 1 + ((i * 7919) % maxDelayMs) },
            });
            assert.equal(res.status, 201, JSON.stringify(res.body));
            return res.body.id as string;
          } catch (error) {
            if (attempt >= 3 || error instanceof assert.AssertionError) throw error;
          }
        }
      },
    );

  test('3000 tasks subscribed across the nodes are each delivered exactly once', async () => {
    const ids = await subscribeAll(3000, '/fast', 1500);
    await waitForDeliveries(ids, deliveries, { timeoutMs: 60_000 });
    // Every task is then recorded COMPLETED (which also proves nothing is still in flight to be re-sent).
    await waitForEmptyQueue(nodes![2]!.client, creds, { timeoutMs: 30_000 });
    const twice = ids.filter((id) => deliveries.get(id) !== 1);
    assert.deepEqual(twice, [], `${twice.length} tasks were delivered more than once`);
    assert.equal(target.requests.length, ids.length);
  });

  test('a node killed with SIGKILL mid-run loses no task; its tasks run on the others', async (t) => {
    const before = target.requests.length;
    const pending = subscribeAll(3000, '/slow', 3000);
    // Kill one node once deliveries of this batch are under way, while it has requests in flight.
    await waitFor(
      () => `600 deliveries of this batch (${target.requests.length - before} so far)`,
      () => target.requests.length - before > 600,
      { timeoutMs: 60_000 },
    );
    await nodes![1]!.process.kill('SIGKILL');
    const ids = await pending;
    await waitForDeliveries(ids, deliveries, { timeoutMs: 60_000 });
    await waitForEmptyQueue(nodes![0]!.client, creds, { timeoutMs: 30_000 });
    const twice = ids.filter((id) => (deliveries.get(id) ?? 0) > 1);
    t.diagnostic(`delivered twice after the SIGKILL: ${twice.length} of ${ids.length} (requests the dead node had sent but not recorded)`);
    assert.ok(ids.every((id) => (deliveries.get(id) ?? 0) >= 1));
    // Duplicates come only from what the dead node had in flight: at most its concurrency.
    assert.ok(twice.length <= 64, `${twice.length} duplicates exceed what one node can have in flight`);
    for (const id of ids.slice(0, 50)) {
      const task = await nodes![2]!.client.task(creds, id);
      assert.equal(task.body.state, 'COMPLETED', `${id}: ${JSON.stringify(task.body)}`);
    }
  });

  test('a task subscribed on one node and due in 50 ms is sent at once, although no node polls for a minute', async () => {
    const res = await nodes![2]!.client.subscribe(creds, {
      httpRequest: { url: target.url('/wake'), method: 'POST' },
      config: { executionDelay: 50 },
    });
    assert.equal(res.status, 201);
    const id = res.body.id as string;
    // Without a wake-up crossing processes this would wait for the next poll, a minute away.
    await waitFor('the task to be sent', () => deliveries.has(id), { timeoutMs: 15_000 });
    const request = target.requests.find((r) => r.headers['x-kuueri-tasks-queue'] === id);
    assert.equal(request?.url, '/wake');
  });

  test('pause, resume, unsubscribe and delete work from any node, also while another node is sending the task', async () => {
    // Requests to /hold are held until the test answers them: "in flight" is a fact, not a race.
    target.respond((request) => {
      const id = String(request.headers['x-kuueri-tasks-queue']);
      deliveries.set(id, (deliveries.get(id) ?? 0) + 1);
      return request.url.includes('hold') ? { hang: true } : { status: 200 };
    });
    const [a, , c] = nodes!;
    // Paused while in flight: the attempt is recorded into the paused task, its next run kept as time left.
    const repeating = await a!.client.subscribe(creds, {
      httpRequest: { url: target.url('/hold'), method: 'POST' },
      config: { executionDelay: 10, repeat: 1, repeatInterval: '5s' },
    });
    const id = repeating.body.id as string;
    await waitFor('the first attempt to be sent', () => deliveries.has(id), { timeoutMs: 15_000 });
    assert.deepEqual((await c!.client.pause(creds, id)).body, { response: 'PAUSED' });
    assert.equal(target.answerHeld(200), 1, 'the attempt was still in flight when the task was paused');
    const paused = await waitForTask(c!.client, creds, id, (task) => task.updates.attempts === 1);
    assert.equal(paused.state, 'PAUSED');
    assert.equal(paused.statusCode, 200);
    assert.ok(paused.updates.pausedTimeLeft > 3000, JSON.stringify(paused));
    const resumed = await a!.client.resume(creds, id);
    assert.equal(resumed.body.state, 'RUNNING');
    assert.equal(resumed.body.currentlyRepeat, true);
    assert.deepEqual((await c!.client.unsubscribe(creds, id)).body, { response: 'UNSUBSCRIBED' });
    assert.deepEqual((await a!.client.remove(creds, id)).body, { response: 'EMPTY' });
    assert.equal((await c!.client.task(creds, id)).status, 404);

    // Cancelled while in flight: the late outcome is discarded.
    const held = await c!.client.subscribe(creds, {
      httpRequest: { url: target.url('/hold'), method: 'POST' },
      config: { executionDelay: 10, retry: 2 },
    });
    const heldId = held.body.id as string;
    await waitFor('the held attempt to be sent', () => deliveries.has(heldId), { timeoutMs: 15_000 });
    assert.deepEqual((await a!.client.unsubscribe(creds, heldId)).body, { response: 'UNSUBSCRIBED' });
    assert.equal(target.answerHeld(200), 1, 'the attempt was still in flight when the task was cancelled');
    // No event says the node that sent it has dropped the outcome, but a graceful stop waits for
    // every attempt in flight to end (recorded or dropped) before the process exits: stop the
    // nodes, then read the task through a fresh one.
    const running = aliveNodes(nodes!);
    const exits = await Promise.all(running.map((n) => n.process.kill('SIGTERM')));
    assert.deepEqual(
      exits,
      running.map(() => ({ code: 0, signal: null })),
      'every node stopped gracefully',
    );
    for (const n of running) {
      const aborted = logLines(n.process.output()).filter((l) => String(l.msg).startsWith('aborted attempts'));
      assert.deepEqual(aborted, [], 'the attempt ran to its end; it was not aborted by the stop');
    }
    const [reader] = await startNodes(1, env);
    nodes!.push(reader!);
    const cancelled = await getTask(reader!.client, creds, heldId);
    assert.equal(cancelled.state, 'CANCELED');
    assert.equal(cancelled.updates.attempts, 0, 'the outcome of the cancelled attempt was recorded');
  });
});
