import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { QueuedView } from '../../src/core/shapes.js';
import { QUEUED_KEYS, UNKNOWN_ID, assertError, assertQueued, assertValidation } from '../helpers/api-assertions.js';
import type { ApiResponse, Credentials } from '../helpers/api-client.js';
import { getTask, getTimeline, labelsOf, subscribeOk, waitForState, waitForTask } from '../helpers/api-tasks.js';
import { TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';

describe('run now and reschedule', { concurrency: true }, () => {
  let server: TestServer;
  let target: TargetServer;
  let creds: Credentials;

  before(async () => {
    server = await startTestServer();
    target = await TargetServer.start((request) => {
      const path = request.url.split('?')[0]!;
      if (path.startsWith('/fail')) return { status: 500 };
      if (path.startsWith('/hang')) return { hang: true };
      return { status: 200 };
    });
    creds = await server.client.register();
  });
  after(async () => {
    await server.close();
    await target.close();
  });

  const at = (path: string, config: Record<string, unknown> = {}): unknown => ({
    httpRequest: { url: target.url(path), method: 'POST' },
    config: { executionDelay: '1h', ...config },
  });

  /** A 200 with the queued shape, in whatever state. */
  function queued(res: ApiResponse): QueuedView {
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(Object.keys(res.body).sort(), QUEUED_KEYS, JSON.stringify(res.body));
    return res.body as unknown as QueuedView;
  }

  // Every task here is due in an hour: the dispatcher's timer waits for that, so a request that
  // arrives within the wait's bound was sent because the write woke it.
  test('execute sends a task at once and keeps its repeat settings', async () => {
    const task = await subscribeOk(server.client, creds, at('/repeat', { repeat: 1, repeatInterval: '1h' }));
    const before = Date.now();
    const first = assertQueued(await server.client.execute(creds, task.id), 200);
    assert.equal(first.id, task.id);
    assert.ok(first.estimateExecAt >= before && first.estimateExecAt <= Date.now(), `estimateExecAt ${first.estimateExecAt}`);
    await target.waitForRequests(1, { path: '/repeat' });
    const repeating = await waitForTask(server.client, creds, task.id, (t) => t.currentlyRepeat);
    assert.equal(repeating.state, 'RUNNING');
    assert.equal(repeating.updates.repeatCount, 1);
    assert.ok(repeating.estimateExecAt >= Date.now() + 3_000_000, 'the repeat is an hour after the run, as configured');

    queued(await server.client.execute(creds, task.id));
    const requests = await target.waitForRequests(2, { path: '/repeat' });
    assert.equal(requests[1]!.headers['x-kuueri-tasks-repeat-count'], '1', 'the run now is the repeat');
    await waitForState(server.client, creds, task.id, 'COMPLETED');
    assert.deepEqual(labelsOf(await getTimeline(server.client, creds, task.id)), [
      'Subscribe',
      'Execute',
      'Complete',
      'Execute',
      'Repeat',
      'Complete',
    ]);
  });

  test('execute keeps the retry settings: a failed run now retries as configured', async () => {
    const task = await subscribeOk(server.client, creds, at('/fail-retry', { retry: 1, retryInterval: '1h' }));
    queued(await server.client.execute(creds, task.id));
    const retrying = await waitForTask(server.client, creds, task.id, (t) => t.currentlyRetry);
    assert.equal(retrying.updates.retryCount, 1);
    assert.ok(retrying.estimateExecAt >= Date.now() + 3_000_000, 'the retry is an hour after the failure');

    queued(await server.client.execute(creds, task.id));
    const requests = await target.waitForRequests(2, { path: '/fail-retry' });
    assert.equal(requests[1]!.headers['x-kuueri-tasks-retry-count'], '1', 'the run now is the retry');
    const done = await waitForState(server.client, creds, task.id, 'ERROR');
    assert.equal(done.updates.attempts, 2);
    assert.deepEqual(labelsOf(await getTimeline(server.client, creds, task.id)), [
      'Subscribe',
      'Execute',
      'Error',
      'Execute',
      'Retry',
      'Error',
    ]);
  });

  test('execute of a PAUSED task makes it RUNNING and sends it', async () => {
    const task = await subscribeOk(server.client, creds, at('/paused'));
    assert.equal((await server.client.pause(creds, task.id)).status, 200);
    assertQueued(await server.client.execute(creds, task.id), 200);
    await target.waitForRequests(1, { path: '/paused' });
    await waitForState(server.client, creds, task.id, 'COMPLETED');
    assert.deepEqual(labelsOf(await getTimeline(server.client, creds, task.id)), ['Subscribe', 'Pause', 'Execute', 'Complete']);
  });

  test('an attempt in flight: execute and reschedule answer TASK_IN_FLIGHT, and nothing is sent twice', async () => {
    const task = await subscribeOk(server.client, creds, at('/hang'));
    queued(await server.client.execute(creds, task.id));
    await target.waitForRequests(1, { path: '/hang' });
    assertError(await server.client.execute(creds, task.id), 409, 'TASK_IN_FLIGHT');
    assertError(await server.client.reschedule(creds, task.id, { executionDelay: '1m' }), 409, 'TASK_IN_FLIGHT');
    assert.equal((await server.client.pause(creds, task.id)).status, 200);
    assertError(await server.client.execute(creds, task.id), 409, 'TASK_IN_FLIGHT', /in flight/);
    assert.equal(target.answerHeld(200), 1);
    // Its outcome is recorded into the paused task: a success with no repeat left completes it.
    await waitForState(server.client, creds, task.id, 'COMPLETED');
    assert.equal(target.requestsOn('/hang').length, 1);
    assert.deepEqual(labelsOf(await getTimeline(server.client, creds, task.id)), ['Subscribe', 'Execute', 'Pause', 'Complete']);
  });

  test('reschedule moves the next execution earlier (sent then, not before) and later', async () => {
    const task = await subscribeOk(server.client, creds, at('/moved'));
    const later = queued(await server.client.reschedule(creds, task.id, { executionDelay: '2h' }));
    assert.ok(later.estimateExecAt >= task.estimateExecAt + 3_000_000, `${later.estimateExecAt} vs ${task.estimateExecAt}`);
    assert.equal((await getTask(server.client, creds, task.id)).estimateExecAt, later.estimateExecAt);

    const when = Date.now() + 300;
    const sooner = assertQueued(await server.client.reschedule(creds, task.id, { executionAt: when }), 200);
    assert.equal(sooner.estimateExecAt, when);
    const [received] = await target.waitForRequests(1, { path: '/moved' });
    assert.ok(received!.at >= when, `sent ${when - received!.at} ms before its time`);
    await waitForState(server.client, creds, task.id, 'COMPLETED');
    assert.deepEqual(labelsOf(await getTimeline(server.client, creds, task.id)), ['Subscribe', 'Reschedule', 'Reschedule', 'Complete']);
  });

  test('reschedule of a PAUSED task sets its time left; it stays PAUSED', async () => {
    const task = await subscribeOk(server.client, creds, at('/paused-moved'));
    assert.equal((await server.client.pause(creds, task.id)).status, 200);
    const answer = queued(await server.client.reschedule(creds, task.id, { executionDelay: '10m' }));
    assert.equal(answer.state, 'PAUSED');
    assert.equal(answer.estimateExecAt, 0);
    const read = await getTask(server.client, creds, task.id);
    assert.equal(read.state, 'PAUSED');
    assert.equal(read.updates.pausedTimeLeft, 600_000);
    const timeline = await getTimeline(server.client, creds, task.id);
    assert.deepEqual(labelsOf(timeline), ['Subscribe', 'Pause', 'Reschedule']);
    assert.match(timeline[2]!.description, /10m after it resumes/);
  });

  test('wrong states and unknown tasks', async () => {
    const done = await subscribeOk(server.client, creds, at('/done'));
    queued(await server.client.execute(creds, done.id));
    await waitForState(server.client, creds, done.id, 'COMPLETED');
    const canceled = await subscribeOk(server.client, creds, at('/canceled'));
    assert.equal((await server.client.unsubscribe(creds, canceled.id)).status, 200);
    for (const id of [done.id, canceled.id]) {
      assertError(await server.client.execute(creds, id), 409, 'TASK_STATE_CONFLICT', /allowed from RUNNING or PAUSED/);
      assertError(await server.client.reschedule(creds, id, { executionDelay: '1m' }), 409, 'TASK_STATE_CONFLICT');
    }
    assertError(await server.client.execute(creds, UNKNOWN_ID), 404, 'TASK_NOT_FOUND');
    assertError(await server.client.reschedule(creds, UNKNOWN_ID, { executionDelay: '1m' }), 404, 'TASK_NOT_FOUND');
    assertError(await server.client.execute(creds, 'not-an-id'), 404, 'TASK_NOT_FOUND');
    // Another project's task is not found either.
    const other = await server.client.register();
    assertError(await server.client.execute(other, canceled.id), 404, 'TASK_NOT_FOUND');
  });

  test('reschedule refuses bad bodies, naming the field, and changes nothing', async () => {
    const task = await subscribeOk(server.client, creds, at('/bad-bodies'));
    const reschedule = (body: unknown): Promise<ApiResponse> => server.client.reschedule(creds, task.id, body);
    assertValidation(await reschedule({}), ['body'], true);
    assertValidation(await reschedule({ executionDelay: '1m', executionAt: Date.now() + 60_000 }), ['body'], true);
    assertValidation(await reschedule({ executionDelay: 0 }), ['executionDelay'], true);
    assertValidation(await reschedule({ executionDelay: 'soon' }), ['executionDelay'], true);
    assertValidation(await reschedule({ executionDelay: '400d' }), ['executionDelay'], true);
    assertValidation(await reschedule({ executionAt: Date.now() - 1 }), ['executionAt'], true);
    assertValidation(await reschedule({ executionAt: '2030-01-01' }), ['executionAt'], true);
    assertValidation(await reschedule({ executionDelay: '1m', when: 'now' }), ['when'], true);
    assertValidation(await reschedule([]), ['body'], true);
    assertError(await server.client.request('PATCH', `/v1beta/reschedule/${task.id}`, { creds }), 400, 'VALIDATION_FAILED');
    assertError(
      await server.client.request('PATCH', `/v1beta/reschedule/${task.id}`, {
        creds,
        rawBody: '{',
        headers: { 'content-type': 'application/json' },
      }),
      400,
      'INVALID_JSON',
    );
    const read = await getTask(server.client, creds, task.id);
    assert.equal(read.estimateExecAt, task.estimateExecAt);
    assert.deepEqual(labelsOf(await getTimeline(server.client, creds, task.id)), ['Subscribe']);
  });
});
