import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { BreakersView } from '../../src/core/shapes.js';
import type { Credentials } from '../helpers/api-client.js';
import { getTimeline, labelsOf, subscribeOk, waitForFinal } from '../helpers/api-tasks.js';
import { clusterEnv, killNodes, type Node, startNodes } from '../helpers/cluster-nodes.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';
import { TargetServer } from '../helpers/target-server.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Circuit breakers are shared through the store: two server processes on one real Redis. Node A
 * alone sees a target fail and opens the circuit; A is then killed, and node B (which never saw a
 * failure) holds a new task for the same host, although that task's own URL answers: the circuit is
 * the host's. Once the open time ends, B lets that task through as the probe; it succeeds and closes
 * the circuit.
 */
describe('circuit breakers across nodes on one Redis', () => {
  let redis: RedisServer;
  let target: TargetServer;
  const nodes: Node[] = [];
  let env: Record<string, string>;

  before(async () => {
    redis = await startRedisServer();
    target = await TargetServer.start((request) => ({ status: request.url.startsWith('/down') ? 503 : 200 }));
    env = clusterEnv(redis.url, { TASKS_POLL_MS: '100' });
  });
  after(async () => {
    await killNodes(nodes);
    await target?.close();
    await redis?.close();
  });

  const breakers = async (node: Node, creds: Credentials): Promise<BreakersView> => {
    const res = await node.client.request<BreakersView>('GET', '/v1beta/breakers', { creds });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };

  test("failures seen by one node open the circuit for another; the other's probe closes it", async () => {
    const [a] = await startNodes(1, env);
    nodes.push(a!);
    const creds = await a!.client.register();
    // Open long enough to outlast starting node B (a process start on a busy machine takes seconds).
    const policy = { failureThreshold: 2, openMs: 20_000, maxOpenMs: 40_000 };
    assert.equal((await a!.client.request('PUT', '/v1beta/breakers/policy', { creds, body: policy })).status, 200);
    const failing = await Promise.all(
      [1, 2].map((i) => subscribeOk(a!.client, creds, { httpRequest: { url: target.url(`/down/${i}`), method: 'POST' }, config: {} })),
    );
    for (const task of failing) assert.equal((await waitForFinal(a!.client, creds, task.id)).state, 'ERROR');
    await waitFor('node A to open the circuit', async () => ((await breakers(a!, creds)).circuits[0]?.state === 'open' ? true : undefined));

    const [b] = await startNodes(1, env);
    nodes.push(b!);
    await a!.process.kill('SIGKILL');
    const seen = await breakers(b!, creds);
    assert.equal(seen.circuits.length, 1);
    assert.equal(seen.circuits[0]!.state, 'open');
    assert.equal(seen.circuits[0]!.host, '127.0.0.1');

    const task = await subscribeOk(b!.client, creds, { httpRequest: { url: target.url('/up'), method: 'POST' }, config: {} });
    const held = await waitFor('node B to hold the task for the open circuit', async () => {
      const timeline = await getTimeline(b!.client, creds, task.id);
      return labelsOf(timeline).includes('Circuit') ? timeline : undefined;
    });
    assert.match(held.find((e) => e.label === 'Circuit')!.description, /using no attempt/);
    assert.equal(target.requestsOn('/up').length, 0, 'held, not sent');

    const done = await waitForFinal(b!.client, creds, task.id, { timeoutMs: 40_000 });
    assert.equal(done.state, 'COMPLETED');
    assert.equal(target.requestsOn('/up').length, 1);
    await waitFor('the probe to close the circuit', async () => ((await breakers(b!, creds)).circuits.length === 0 ? true : undefined));
  });
});
