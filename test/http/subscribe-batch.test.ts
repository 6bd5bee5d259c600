import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { BatchItemResult, ErrorBody, QueuedView } from '../../src/core/shapes.js';
import { QUEUED_KEYS, assertError, assertQueued, assertValidation } from '../helpers/api-assertions.js';
import type { ApiResponse, Credentials } from '../helpers/api-client.js';
import { activeCount, b64, getTask, subscribeOk, waitForState } from '../helpers/api-tasks.js';
import { TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';

/** The batch answer: 200, an array of one result per item. */
function results(res: ApiResponse<unknown>, length: number): BatchItemResult[] {
  assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 2000));
  const body = res.body as BatchItemResult[];
  assert.ok(Array.isArray(body));
  assert.equal(body.length, length);
  return body;
}

/** A result that queued its task: exactly {statusCode: 201, task: the queued view}. */
function queued(result: BatchItemResult | undefined): QueuedView {
  assert.deepEqual(Object.keys(result ?? {}).sort(), ['statusCode', 'task'], JSON.stringify(result));
  assert.equal(result!.statusCode, 201);
  assert.deepEqual(Object.keys(result!.task!).sort(), QUEUED_KEYS);
  return assertQueued({ status: 201, body: result!.task, headers: new Headers({ 'content-type': 'application/json' }) }, 201);
}

/** A result that refused its item: exactly {statusCode, error}, the error with that status. */
function refused(result: BatchItemResult | undefined, status: number, code: string): ErrorBody {
  assert.deepEqual(Object.keys(result ?? {}).sort(), ['error', 'statusCode'], JSON.stringify(result));
  assert.equal(result!.statusCode, status);
  return assertError({ status, body: result!.error, headers: new Headers({ 'content-type': 'application/json' }) }, status, code);
}

describe('batch subscribe', { concurrency: true }, () => {
  let server: TestServer;
  let small: TestServer;
  let target: TargetServer;
  let creds: Credentials;

  before(async () => {
    [server, small, target] = await Promise.all([
      startTestServer(),
      // A queue limit of 5 and a batch body limit of 8 KiB.
      startTestServer({ env: { TASKS_QUEUE_LIMIT: '5', TASKS_MAX_BATCH_BODY_LENGTH: '8192' } }),
      TargetServer.start(),
    ]);
    creds = await server.client.register();
  });
  after(async () => {
    await Promise.all([server.close(), small.close(), target.close()]);
  });

  const body = (path: string, config: Record<string, unknown> = { executionDelay: '1h' }, extra: Record<string, unknown> = {}) => ({
    httpRequest: { url: target.url(path), method: 'POST', ...extra },
    config,
  });

  test('each item is judged on its own: the same errors and issues as the single subscribe, in order', async () => {
    const items: unknown[] = [
      body('/batch-ok-1'),
      body('/batch-bad-shape', { retry: '3', executionDelay: 'soon' }),
      { httpRequest: { url: 'ftp://example.com/x', method: 'POST', headers: { Host: 'x' } } },
      5,
      body('/batch-bad-time', { executionAt: 1 }, { bogus: true }),
      body('/batch-ok-2'),
    ];
    const answer = results(await server.client.subscribeBatch(creds, items), items.length);
    for (const [i, item] of items.entries()) {
      if (i === 0 || i === 5) continue;
      const single = await server.client.subscribe(creds, item);
      const error = refused(answer[i], 400, 'VALIDATION_FAILED');
      // The same but for the time a message may quote, read by each request.
      const timeless = (value: unknown): unknown => JSON.parse(JSON.stringify(value).replace(/now is \d+ ms/g, 'now is … ms'));
      assert.deepEqual(timeless(error), timeless(single.body), `item ${i}: the batch's error is the single subscribe's`);
    }
    const first = queued(answer[0]);
    const last = queued(answer[5]);
    assert.notEqual(first.id, last.id);
    for (const task of [first, last]) {
      const read = await getTask(server.client, creds, task.id);
      assert.equal(read.state, 'RUNNING');
      assert.equal(read.estimateExecAt, task.estimateExecAt);
    }
    // Two tasks were stored, and none of the refused ones (nor of the single subscribes).
    assert.equal(await activeCount(server.client, creds), 2);
  });

  test('each task is sealed with its own id: every one is sent as subscribed', async () => {
    const who = await server.client.register();
    const items = Array.from({ length: 20 }, (_, i) =>
      body(`/batch-sent-${i}`, { executionDelay: 1 }, { data: b64(`payload ${i}`), headers: { 'X-Item': String(i) } }),
    );
    const answer = results(await server.client.subscribeBatch(who, items), 20);
    const tasks = answer.map(queued);
    for (const [i, task] of tasks.entries()) {
      await target.waitForRequests(1, { path: `/batch-sent-${i}` });
      const [request] = target.requestsOn(`/batch-sent-${i}`);
      assert.ok(request, `item ${i} was sent`);
      assert.equal(request.body.toString(), `payload ${i}`);
      assert.equal(request.headers['x-item'], String(i));
      assert.equal(request.headers['x-kuueri-tasks-queue'], task.id);
      await waitForState(server.client, who, task.id, 'COMPLETED');
    }
  });

  test('1,000 bodies, more than a single request may carry, are all queued', async () => {
    const who = await server.client.register();
    // About 300 bytes each: the whole is past MAX_BODY_LENGTH (128 KiB), within the batch's limit.
    const items = Array.from({ length: 1_000 }, (_, i) =>
      body(`/batch-many-${i}`, { executionDelay: '1h' }, { data: b64('x'.repeat(150)) }),
    );
    assert.ok(JSON.stringify(items).length > 131_072);
    const answer = results(await server.client.subscribeBatch(who, items), 1_000);
    const ids = new Set(answer.map((r) => queued(r).id));
    assert.equal(ids.size, 1_000);
    assert.equal(await activeCount(server.client, who), 1_000);
  });

  test('the queue limit is counted item by item: those past it get QUEUE_FULL and store nothing', async () => {
    const who = await small.client.register();
    const at = (path: string): unknown => ({ httpRequest: { url: target.url(path), method: 'POST' }, config: { executionDelay: '1h' } });
    await subscribeOk(small.client, who, at('/limit-before-1'));
    await subscribeOk(small.client, who, at('/limit-before-2'));
    const items = [at('/limit-1'), at('/limit-2'), { httpRequest: { url: 'nope', method: 'POST' } }, at('/limit-3'), at('/limit-4')];
    const answer = results(await small.client.subscribeBatch(who, items), 5);
    queued(answer[0]);
    queued(answer[1]);
    refused(answer[2], 400, 'VALIDATION_FAILED');
    queued(answer[3]);
    const full = refused(answer[4], 429, 'QUEUE_FULL');
    assert.deepEqual(full, (await small.client.subscribe(who, at('/limit-single'))).body, "the single subscribe's QUEUE_FULL");
    assert.equal(await activeCount(small.client, who), 5);
  });

  test('a body that is not an array of 1 to 1,000 items is refused as a whole', async () => {
    const who = await server.client.register();
    const one = body('/batch-whole');
    const refusedWhole = async (payload: unknown, message: RegExp): Promise<void> => {
      const issues = assertValidation(await server.client.subscribeBatch(who, payload), ['body'], true);
      assert.match(issues[0]!.message, message);
    };
    await refusedWhole(one, /must be an array/);
    await refusedWhole('x', /must be an array/);
    await refusedWhole([], /must have at least 1 item/);
    await refusedWhole(
      Array.from({ length: 1_001 }, () => one),
      /must have at most 1000 items/,
    );
    assertError(await server.client.request('POST', '/v1beta/subscribe/batch', { creds }), 400, 'VALIDATION_FAILED');
    assertError(
      await server.client.request('POST', '/v1beta/subscribe/batch', {
        creds,
        rawBody: '[{',
        headers: { 'content-type': 'application/json' },
      }),
      400,
      'INVALID_JSON',
    );
    assert.equal(await activeCount(server.client, who), 0, 'nothing of them was stored');
  });

  test("past the batch's body limit: 413 naming that limit", async () => {
    const who = await small.client.register();
    const items = Array.from({ length: 100 }, (_, i) => body(`/batch-large-${i}`));
    assert.ok(JSON.stringify(items).length > 8192);
    assertError(await small.client.subscribeBatch(who, items), 413, 'BODY_TOO_LARGE', /8192 bytes/);
    assert.equal(await activeCount(small.client, who), 0);
  });

  test('without credentials: 401, and nothing is read', async () => {
    const res = await server.client.request('POST', '/v1beta/subscribe/batch', { body: [body('/batch-anonymous')] });
    assertError(res, 401, 'UNAUTHORIZED');
  });
});
