import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FlowView } from '../../src/core/shapes.js';
import type { Credentials } from '../helpers/api-client.js';
import { getTask, getTimeline, labelsOf, subscribeOk, waitForState } from '../helpers/api-tasks.js';
import { TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';
import { holdFor, waitFor } from '../helpers/wait.js';

/**
 * Flow control through the API with real targets (core/flow.ts): a key's rate, parallelism, order
 * and pause hold the key's tasks back in the store, without an attempt or a timeline entry, and let
 * them go as the limits allow. Runs on SQLite and on Redis (scripts/run-tests.mjs).
 */
describe('flow control', () => {
  let server: TestServer;
  let target: TargetServer;
  let me: Credentials;
  let other: Credentials;

  before(async () => {
    server = await startTestServer({ env: { TASKS_CONCURRENCY: '16' } });
    target = await TargetServer.start();
    me = await server.client.register();
    other = await server.client.register();
  });
  after(async () => {
    await server.close();
    await target.close();
  });

  const putFlow = (creds: Credentials, key: string, body: unknown) =>
    server.client.request<FlowView>('PUT', `/v1beta/flow/${key}`, { creds, body });
  const getFlow = (creds: Credentials, key: string) => server.client.request<FlowView>('GET', `/v1beta/flow/${key}`, { creds });
  const subscribeKeyed = (key: string, path: string, config: Record<string, unknown> = {}) =>
    subscribeOk(server.client, me, { httpRequest: { url: target.url(path), method: 'POST' }, config, flowKey: key });

  test('the routes set, read, list, pause, resume and remove a key, per project', async () => {
    const put = await putFlow(me, 'billing:eu', { rate: { limit: 10, periodMs: 1000 }, parallelism: 3 });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual(put.body, {
      key: 'billing:eu',
      rate: { limit: 10, periodMs: 1000 },
      parallelism: 3,
      ordered: false,
      paused: false,
      inFlight: 0,
      waiting: 0,
    });
    const hidden = await server.client.request('GET', '/v1beta/flow/billing:eu', { creds: other });
    assert.deepEqual([hidden.status, hidden.body.code], [404, 'FLOW_NOT_FOUND'], "another project's key is not mine");
    const paused = await server.client.request<FlowView>('PATCH', '/v1beta/flow/billing:eu/pause', { creds: me });
    assert.equal(paused.body.paused, true);
    const changed = await putFlow(me, 'billing:eu', { ordered: true });
    assert.deepEqual([changed.body.rate, changed.body.parallelism, changed.body.ordered, changed.body.paused], [null, null, true, true]);
    const resumed = await server.client.request<FlowView>('PATCH', '/v1beta/flow/billing:eu/resume', { creds: me });
    assert.equal(resumed.body.paused, false);
    const list = await server.client.request<{ flows: FlowView[] }>('GET', '/v1beta/flow', { creds: me });
    assert.deepEqual(
      list.body.flows.map((f) => f.key),
      ['billing:eu'],
    );
    assert.equal((await server.client.request('DELETE', '/v1beta/flow/billing:eu', { creds: me })).status, 200);
    const gone = await server.client.request('DELETE', '/v1beta/flow/billing:eu', { creds: me });
    assert.deepEqual([gone.status, gone.body.code], [404, 'FLOW_NOT_FOUND']);
    assert.equal((await server.client.request('PATCH', '/v1beta/flow/billing:eu/resume', { creds: me })).status, 404);
  });

  test('bad keys and limits are refused', async () => {
    const badRate = await server.client.request('PUT', '/v1beta/flow/k', { creds: me, body: { rate: { limit: 0, periodMs: 1000 } } });
    assert.deepEqual([badRate.status, badRate.body.code], [400, 'VALIDATION_FAILED']);
    const unknown = await putFlow(me, 'k', { burst: 3 });
    assert.equal(unknown.status, 400);
    const badKey = await server.client.request('PUT', '/v1beta/flow/-starts-with-a-dash', { creds: me, body: {} });
    assert.equal(badKey.status, 400);
    const badTask = await server.client.subscribe(me, { httpRequest: { url: target.url('/x'), method: 'POST' }, flowKey: 'a b' });
    assert.deepEqual([badTask.status, badTask.body.code], [400, 'VALIDATION_FAILED']);
  });

  test('a task shows its flow key; a key with no limits lets it through', async () => {
    const queued = await subscribeKeyed('free-key', '/free');
    await waitForState(server.client, me, queued.id, 'COMPLETED');
    assert.equal((await getTask(server.client, me, queued.id)).flowKey, 'free-key');
  });

  test('a rate: at most its limit start in any window of its period', async () => {
    await putFlow(me, 'rated', { rate: { limit: 4, periodMs: 1000 } });
    const tasks = [];
    for (let i = 0; i < 10; i++) tasks.push(await subscribeKeyed('rated', `/rated/${i}`));
    for (const task of tasks) await waitForState(server.client, me, task.id, 'COMPLETED', { timeoutMs: 20_000 });
    const arrivals = target.requests.filter((r) => r.url.startsWith('/rated/')).map((r) => r.at);
    assert.equal(arrivals.length, 10, 'each task delivered once');
    // Starts are spaced by the store; arrivals may differ from starts by the delivery's own time.
    const slackMs = 150;
    for (let i = 0; i + 4 < arrivals.length; i++) {
      assert.ok(arrivals[i + 4]! - arrivals[i]! >= 1000 - slackMs, `deliveries ${i} and ${i + 4} are a period apart`);
    }
    for (const task of tasks) {
      const view = await getTask(server.client, me, task.id);
      assert.equal(view.updates.attempts, 1, 'waiting used no attempt');
      assert.deepEqual(labelsOf(await getTimeline(server.client, me, task.id)), ['Subscribe', 'Complete']);
    }
  });

  test('parallelism: at most N in flight; the others wait in the store, RUNNING, without an attempt', async () => {
    await putFlow(me, 'narrow', { parallelism: 2 });
    const hanging = await TargetServer.start(() => ({ hang: true }));
    try {
      const tasks = [];
      for (let i = 0; i < 5; i++) {
        tasks.push(
          await subscribeOk(server.client, me, { httpRequest: { url: hanging.url(`/n/${i}`), method: 'GET' }, flowKey: 'narrow' }),
        );
      }
      await waitFor('two tasks of the key in flight', () => hanging.heldCount === 2);
      await holdFor(300, 'time for a claim that would start a third');
      assert.equal(hanging.requests.length, 2);
      const status = (await getFlow(me, 'narrow')).body;
      assert.deepEqual([status.inFlight, status.waiting], [2, 3]);
      const sent = new Set(hanging.requests.map((r) => r.url));
      const waiting = tasks.filter((_, i) => !sent.has(`/n/${i}`));
      for (const task of waiting) {
        const view = await getTask(server.client, me, task.id);
        assert.deepEqual([view.state, view.updates.attempts], ['RUNNING', 0]);
        assert.deepEqual(labelsOf(await getTimeline(server.client, me, task.id)), ['Subscribe']);
      }
      // Each answer frees a place, and only as many start as were freed.
      hanging.answerHeld(200);
      await waitFor('the next two in flight', () => hanging.requests.length === 4 && hanging.heldCount === 2);
      await holdFor(200, 'time for a claim that would start a fifth');
      assert.equal(hanging.requests.length, 4);
      hanging.answerHeld(200);
      await waitFor('the last one in flight', () => hanging.requests.length === 5 && hanging.heldCount === 1);
      hanging.answerHeld(200);
      for (const task of tasks) await waitForState(server.client, me, task.id, 'COMPLETED');
      assert.equal(hanging.requests.length, 5, 'each sent once');
    } finally {
      await hanging.close();
    }
  });

  test('ordered: one at a time in subscription order; a failing head is retried before the next starts', async () => {
    await putFlow(me, 'fifo', { ordered: true });
    let headFailures = 1;
    const ordered = await TargetServer.start((request) => {
      if (request.url === '/o/0' && headFailures > 0) {
        headFailures--;
        return { status: 503 };
      }
      return { status: 200 };
    });
    try {
      const tasks = [];
      for (let i = 0; i < 4; i++) {
        tasks.push(
          await subscribeOk(server.client, me, {
            httpRequest: { url: ordered.url(`/o/${i}`), method: 'GET' },
            config: { retry: 1, retryInterval: '1s' },
            flowKey: 'fifo',
          }),
        );
      }
      for (const task of tasks) await waitForState(server.client, me, task.id, 'COMPLETED', { timeoutMs: 20_000 });
      assert.deepEqual(
        ordered.requests.map((r) => r.url),
        ['/o/0', '/o/0', '/o/1', '/o/2', '/o/3'],
      );
    } finally {
      await ordered.close();
    }
  });

  test('a paused key starts nothing until resumed', async () => {
    const paused = await server.client.request<FlowView>('PATCH', '/v1beta/flow/held/pause', { creds: me });
    assert.deepEqual([paused.status, paused.body.paused, paused.body.rate], [200, true, null]);
    const tasks = [];
    for (let i = 0; i < 3; i++) tasks.push(await subscribeKeyed('held', `/held/${i}`));
    const free = await subscribeOk(server.client, me, { httpRequest: { url: target.url('/not-held'), method: 'POST' } });
    await waitForState(server.client, me, free.id, 'COMPLETED');
    await waitFor('the key holds its three due tasks', async () => (await getFlow(me, 'held')).body.waiting === 3);
    assert.equal(target.requestsOn('/held/0').length + target.requestsOn('/held/1').length + target.requestsOn('/held/2').length, 0);
    await server.client.request('PATCH', '/v1beta/flow/held/resume', { creds: me });
    for (const task of tasks) await waitForState(server.client, me, task.id, 'COMPLETED');
  });
});
