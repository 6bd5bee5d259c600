import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import type { CallbackPayload } from '../../src/core/callbacks.js';
import type { Credentials } from '../helpers/api-client.js';
import { b64, getTimeline, subscribeOk, waitForFinal } from '../helpers/api-tasks.js';
import { type RecordedRequest, TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait.js';

/*
 * Callbacks (config.callback): after an attempt, the server POSTs the task's view and the attempt,
 * signed, to the callback URL for the events the task asked for, with retries of its own, and notes
 * each outcome on the task's timeline. A real target takes the deliveries (/ok answers 200, /fail
 * 500) and a second real server the callbacks (/cb/flaky fails its first call, /cb/down always).
 */
describe('callbacks', { concurrency: true }, () => {
  let server: TestServer;
  let target: TargetServer;
  let receiver: TargetServer;
  let creds: Credentials & { signingSecret: string };

  before(async () => {
    server = await startTestServer({ env: { TASKS_POLL_MS: '50' } });
    target = await TargetServer.start((request) => ({ status: request.url.startsWith('/fail') ? 500 : 200 }));
    receiver = await TargetServer.start((request) => {
      if (request.url.startsWith('/cb/down')) return { status: 503 };
      if (request.url.startsWith('/cb/flaky')) return { status: receiver.requestsOn(request.url).length === 1 ? 500 : 200 };
      return { status: 204 };
    });
    const res = await server.client.request<Credentials & { signingSecret: string }>('POST', '/v1beta/register', {
      body: { email: `callbacks.${process.pid}.${Date.now()}@example.com` },
    });
    creds = res.body;
  });
  after(async () => {
    await server?.close();
    await target?.close();
    await receiver?.close();
  });

  const payloadOf = (request: RecordedRequest): CallbackPayload => JSON.parse(request.body.toString('utf8')) as CallbackPayload;
  const verify = (request: RecordedRequest): void => {
    const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, String(v)]));
    new Webhook(creds.signingSecret).verify(request.body, headers);
  };
  const callbackEntries = async (id: string) => (await getTimeline(server.client, creds, id)).filter((e) => e.label === 'Callback');

  test('success: a signed JSON with the task view and the attempt; the outcome on the timeline', async () => {
    const task = await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/ok'), method: 'POST', data: b64('{"x":1}') },
      config: { callback: { url: receiver.url('/cb/success'), on: ['success', 'failure'] } },
    });
    const [call] = await receiver.waitForRequests(1, { path: '/cb/success' });
    assert.equal(call!.method, 'POST');
    assert.equal(call!.headers['content-type'], 'application/json');
    assert.equal(call!.headers['x-kuueri-tasks-queue'], task.id);
    assert.equal(call!.headers['x-kuueri-tasks-callback'], 'success');
    verify(call!);
    const payload = payloadOf(call!);
    assert.equal(payload.type, 'task.success');
    assert.equal(payload.task.id, task.id);
    assert.equal(payload.task.state, 'COMPLETED');
    assert.equal(payload.task.target.url, target.url('/ok'));
    assert.equal(payload.attempt.ok, true);
    assert.equal(payload.attempt.statusCode, 200);
    assert.equal(typeof payload.attempt.at, 'number');
    const entries = await waitFor('the Callback entry', async () => {
      const found = await callbackEntries(task.id);
      return found.length === 1 ? found : undefined;
    });
    assert.match(entries[0]!.description, /task\.success delivered .*status 204, attempt 1 of 3/);
    assert.equal(entries[0]!.metadata?.delivered, true);
    assert.equal(receiver.requestsOn('/cb/success').length, 1, 'no failure callback for a success');
  });

  test('failure and exhausted: a callback per failed attempt, exhausted once the retries are used up', async () => {
    const task = await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/fail/cb'), method: 'POST' },
      config: { retry: 1, retryInterval: 1_000, callback: { url: receiver.url('/cb/failing'), on: ['failure', 'exhausted'] } },
    });
    await waitForFinal(server.client, creds, task.id);
    const calls = await receiver.waitForRequests(3, { path: '/cb/failing' });
    const types = calls.map((c) => payloadOf(c).type).sort();
    assert.deepEqual(types, ['task.exhausted', 'task.failure', 'task.failure']);
    for (const call of calls) verify(call);
    const exhausted = calls.find((c) => payloadOf(c).type === 'task.exhausted')!;
    assert.equal(payloadOf(exhausted).task.state, 'ERROR');
    assert.equal(payloadOf(exhausted).attempt.statusCode, 500);
    assert.equal(new Set(calls.map((c) => c.headers['webhook-id'])).size, 3, 'each callback has its own webhook-id');
    await waitFor('three Callback entries', async () => (await callbackEntries(task.id)).length === 3);
  });

  test('a failing callback is retried with the same webhook-id, and its outcome noted', async () => {
    const task = await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/ok'), method: 'POST' },
      config: { callback: { url: receiver.url('/cb/flaky'), on: ['success'] } },
    });
    const calls = await receiver.waitForRequests(2, { path: '/cb/flaky' });
    assert.equal(calls[0]!.headers['webhook-id'], calls[1]!.headers['webhook-id']);
    verify(calls[1]!);
    const [entry] = await waitFor('the Callback entry', async () => {
      const found = await callbackEntries(task.id);
      return found.length === 1 ? found : undefined;
    });
    assert.match(entry!.description, /attempt 2 of 3/);
  });

  test('a callback that never succeeds stops after its attempts; the timeline says it failed', async () => {
    const task = await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/ok'), method: 'POST' },
      config: { callback: { url: receiver.url('/cb/down'), on: ['success'] } },
    });
    const [entry] = await waitFor(
      'the Callback entry',
      async () => {
        const found = await callbackEntries(task.id);
        return found.length === 1 ? found : undefined;
      },
      { timeoutMs: 20_000 },
    );
    assert.match(entry!.description, /failed after 3 attempts: status 503/);
    assert.equal(entry!.metadata?.delivered, false);
    assert.equal(receiver.requestsOn('/cb/down').length, 3);
  });

  test('the callback URL is judged by the target guard and the events are checked at subscribe', async () => {
    const refused = await server.client.subscribe(creds, {
      httpRequest: { url: target.url('/ok'), method: 'POST' },
      config: { callback: { url: 'http://169.254.169.254/latest/meta-data', on: ['success'] } },
    });
    assert.equal(refused.status, 400);
    assert.match(JSON.stringify(refused.body), /config\.callback\.url/);
    const badEvent = await server.client.subscribe(creds, {
      httpRequest: { url: target.url('/ok'), method: 'POST' },
      config: { callback: { url: receiver.url('/cb/x'), on: ['sometimes'] } },
    });
    assert.equal(badEvent.status, 400);
    assert.match(JSON.stringify(badEvent.body), /config\.callback\.on/);
    const view = await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/ok'), method: 'POST' },
      config: { executionDelay: 3_600_000, callback: { url: receiver.url('/cb/view'), on: ['exhausted'] } },
    });
    const read = await server.client.task(creds, view.id);
    assert.deepEqual((read.body as { config: { callback: unknown } }).config.callback, {
      url: receiver.url('/cb/view'),
      on: ['exhausted'],
    });
  });
});
