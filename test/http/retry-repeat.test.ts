import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TimelineEntryView } from '../../src/core/shapes.js';
import type { Credentials } from '../helpers/api-client.js';
import { getTask, getTimeline, labelsOf, subscribeOk, waitForState, waitForTask } from '../helpers/api-tasks.js';
import { attemptHeadersOf, TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';

/** Statuses each path answers, attempt by attempt (the last one repeats). */
const SCRIPTS: Record<string, number[]> = {
  '/retry-then-ok': [500, 200],
  '/always-fail': [500],
  '/always-ok': [200],
  '/repeat-then-retry': [200, 500, 200],
  '/retry-at': [502],
  '/repeat-at': [200],
  '/pause-retry': [500, 200],
};

/** Attempt headers as the target saw them, in order. */
const headersOn = (target: TargetServer, path: string): Array<Record<string, string | undefined>> =>
  target.requestsOn(path).map((r) => {
    const { queue: _queue, ...rest } = attemptHeadersOf(r);
    return rest;
  });

const h = (retryCount: number, currentlyRetry: boolean, repeatCount: number, currentlyRepeat: boolean): Record<string, string> => ({
  retryCount: String(retryCount),
  currentlyRetry: String(currentlyRetry),
  repeatCount: String(repeatCount),
  currentlyRepeat: String(currentlyRepeat),
});

/** The time an Error/Complete entry scheduled the next run for ("... at <ISO time>"). */
function scheduledAt(entry: TimelineEntryView): number {
  const match = / at (\d{4}-\d{2}-\d{2}T[\d:.]+Z)/.exec(entry.description);
  assert.ok(match, `no time in "${entry.description}"`);
  return Date.parse(match[1]!);
}

const TOLERANCE = 50;

describe('retry and repeat', { concurrency: true }, () => {
  let server: TestServer;
  let target: TargetServer;
  let creds: Credentials;

  before(async () => {
    server = await startTestServer();
    target = await TargetServer.start((request) => {
      const path = request.url.split('?')[0]!;
      const script = SCRIPTS[path] ?? [200];
      const index = target.requestsOn(path).length - 1;
      return { status: script[Math.min(index, script.length - 1)] };
    });
    creds = await server.client.register();
  });
  after(async () => {
    await server.close();
    await target.close();
  });

  test('a failure with retries left is retried after retryInterval until it succeeds', async () => {
    const queued = await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/retry-then-ok'), method: 'POST' },
      config: { retry: 2, retryInterval: '2s', retryExponential: false },
    });
    await target.waitForRequests(1, { path: '/retry-then-ok' });
    const waiting = await waitForTask(server.client, creds, queued.id, (t) => t.currentlyRetry);
    assert.equal(waiting.state, 'RUNNING');
    assert.equal(waiting.statusCode, 500);
    assert.equal(waiting.currentlyRepeat, false);
    assert.equal(waiting.estimateEndAt, 0);
    assert.equal(waiting.updates.retryCount, 1);
    assert.equal(waiting.updates.retryLimit, 2);
    assert.equal(waiting.updates.attempts, 1);
    assert.equal(waiting.updates.estimateNextRetryAt, waiting.estimateExecAt);
    assert.equal(waiting.updates.estimateNextRepeatAt, 0);
    const firstError = (await getTimeline(server.client, creds, queued.id))[1]!;
    assert.equal(firstError.label, 'Error');
    assert.equal(waiting.estimateExecAt - firstError.createdAt, 2000);

    const done = await waitForState(server.client, creds, queued.id, 'COMPLETED');
    const seen = target.requestsOn('/retry-then-ok');
    assert.equal(seen.length, 2);
    assert.ok(seen[1]!.at - seen[0]!.at >= 2000 - TOLERANCE, `retried after ${seen[1]!.at - seen[0]!.at} ms`);
    assert.deepEqual(headersOn(target, '/retry-then-ok'), [h(0, false, 0, false), h(1, true, 0, false)]);
    assert.equal(seen[1]!.headers['x-kuueri-tasks-queue'], queued.id);

    assert.equal(done.statusCode, 200);
    assert.equal(done.currentlyRetry, false);
    assert.ok(done.estimateEndAt >= seen[1]!.at - TOLERANCE, JSON.stringify(done));
    assert.equal(done.updates.attempts, 2);
    assert.equal(done.updates.retryCount, 1);
    assert.equal(done.updates.estimateNextRetryAt, 0);

    const timeline = await getTimeline(server.client, creds, queued.id);
    assert.deepEqual(labelsOf(timeline), ['Subscribe', 'Error', 'Retry', 'Complete']);
    assert.deepEqual(timeline[2]!.metadata, { retryCount: 1 });
    assert.match(timeline[2]!.description, /succeeded/);
    for (let i = 1; i < timeline.length; i++) assert.ok(timeline[i]!.createdAt >= timeline[i - 1]!.createdAt, 'oldest first');
    assert.equal(timeline[0]!.createdAt, queued.estimateStartAt);
    for (const entry of timeline) {
      const keys = Object.keys(entry).sort();
      const expected =
        entry.label === 'Retry' || entry.label === 'Repeat'
          ? ['createdAt', 'description', 'label', 'metadata']
          : ['createdAt', 'description', 'label'];
      assert.deepEqual(keys, expected, JSON.stringify(entry));
      assert.ok(entry.description.length > 0);
    }
  });

  test('retries exhausted: ERROR with estimateEndAt set; exponential retries wait retryInterval × n', async () => {
    const queued = await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/always-fail'), method: 'POST' },
      config: { retry: 2, retryInterval: 1000, retryExponential: true },
    });
    const done = await waitForState(server.client, creds, queued.id, 'ERROR', { timeoutMs: 20_000 });
    const seen = target.requestsOn('/always-fail');
    assert.equal(seen.length, 3);
    assert.deepEqual(headersOn(target, '/always-fail'), [h(0, false, 0, false), h(1, true, 0, false), h(2, false, 0, false)]);
    assert.ok(seen[1]!.at - seen[0]!.at >= 1000 - TOLERANCE, `first retry after ${seen[1]!.at - seen[0]!.at} ms`);
    assert.ok(seen[2]!.at - seen[1]!.at >= 2000 - TOLERANCE, `second retry after ${seen[2]!.at - seen[1]!.at} ms`);

    assert.equal(done.statusCode, 500);
    assert.equal(done.currentlyRetry, false);
    assert.equal(done.currentlyRepeat, false);
    assert.ok(done.estimateEndAt > 0 && done.estimateEndAt >= seen[2]!.at - TOLERANCE, JSON.stringify(done));
    assert.equal(done.updates.attempts, 3);
    assert.equal(done.updates.retryCount, 2);
    assert.equal(done.updates.retryLimit, 2);

    const timeline = await getTimeline(server.client, creds, queued.id);
    assert.deepEqual(labelsOf(timeline), ['Subscribe', 'Error', 'Retry', 'Error', 'Retry', 'Error']);
    assert.deepEqual(timeline[2]!.metadata, { retryCount: 1 });
    assert.deepEqual(timeline[4]!.metadata, { retryCount: 2 });
    assert.equal(scheduledAt(timeline[1]!) - timeline[1]!.createdAt, 1000);
    assert.equal(scheduledAt(timeline[3]!) - timeline[3]!.createdAt, 2000);
    assert.match(timeline[5]!.description, /500/);
    assert.match(timeline[5]!.description, /no retries left/);
    assert.equal(timeline[5]!.createdAt, done.estimateEndAt);
  });

  test('a success with repeats left runs again after repeatInterval; COMPLETED after repeat + 1 successes', async () => {
    const queued = await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/always-ok'), method: 'POST' },
      config: { repeat: 2, repeatInterval: 1500, repeatExponential: false },
    });
    await target.waitForRequests(1, { path: '/always-ok' });
    const waiting = await waitForTask(server.client, creds, queued.id, (t) => t.currentlyRepeat);
    assert.equal(waiting.state, 'RUNNING');
    assert.equal(waiting.statusCode, 200);
    assert.equal(waiting.currentlyRetry, false);
    assert.equal(waiting.updates.repeatCount, 1);
    assert.equal(waiting.updates.repeatLimit, 2);
    assert.equal(waiting.updates.estimateNextRepeatAt, waiting.estimateExecAt);
    assert.equal(waiting.updates.estimateNextRetryAt, 0);

    const done = await waitForState(server.client, creds, queued.id, 'COMPLETED');
    const seen = target.requestsOn('/always-ok');
    assert.equal(seen.length, 3);
    assert.deepEqual(headersOn(target, '/always-ok'), [h(0, false, 0, false), h(0, false, 1, true), h(0, false, 2, false)]);
    assert.ok(seen[1]!.at - seen[0]!.at >= 1500 - TOLERANCE);
    assert.ok(seen[2]!.at - seen[1]!.at >= 1500 - TOLERANCE);
    assert.equal(done.statusCode, 200);
    assert.equal(done.currentlyRepeat, false);
    assert.ok(done.estimateEndAt >= seen[2]!.at - TOLERANCE);
    assert.equal(done.updates.repeatCount, 2);
    assert.equal(done.updates.attempts, 3);

    const timeline = await getTimeline(server.client, creds, queued.id);
    assert.deepEqual(labelsOf(timeline), ['Subscribe', 'Complete', 'Repeat', 'Complete', 'Repeat', 'Complete']);
    assert.deepEqual(timeline[2]!.metadata, { repeatCount: 1 });
    assert.deepEqual(timeline[4]!.metadata, { repeatCount: 2 });
    assert.equal(scheduledAt(timeline[1]!) - timeline[1]!.createdAt, 1500);
    assert.equal(scheduledAt(timeline[3]!) - timeline[3]!.createdAt, 1500);
  });

  test('a repeat that fails is retried; the headers say where each attempt stands', async () => {
    const queued = await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/repeat-then-retry'), method: 'POST' },
      config: { repeat: 1, repeatInterval: 1000, retry: 1, retryInterval: 1000 },
    });
    const done = await waitForState(server.client, creds, queued.id, 'COMPLETED');
    assert.equal(target.requestsOn('/repeat-then-retry').length, 3);
    assert.deepEqual(headersOn(target, '/repeat-then-retry'), [
      h(0, false, 0, false), // first execution
      h(0, false, 1, false), // the one and last repeat
      h(1, false, 1, false), // the one and last retry of that repeat
    ]);
    assert.equal(done.statusCode, 200);
    const timeline = await getTimeline(server.client, creds, queued.id);
    assert.deepEqual(labelsOf(timeline), ['Subscribe', 'Complete', 'Repeat', 'Error', 'Retry', 'Complete']);
    assert.deepEqual(timeline[2]!.metadata, { repeatCount: 1 });
    assert.match(timeline[2]!.description, /failed/);
    assert.deepEqual(timeline[4]!.metadata, { retryCount: 1 });
    assert.match(timeline[4]!.description, /succeeded/);
  });

  test('retryAt: the one retry runs at that time', async () => {
    const retryAt = Date.now() + 2500;
    const queued = await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/retry-at'), method: 'POST' },
      config: { executionDelay: 1, retryAt },
    });
    await target.waitForRequests(1, { path: '/retry-at' });
    const waiting = await waitForTask(server.client, creds, queued.id, (t) => t.currentlyRetry);
    assert.equal(waiting.estimateExecAt, retryAt);
    assert.equal(waiting.updates.estimateNextRetryAt, retryAt);
    const done = await waitForState(server.client, creds, queued.id, 'ERROR');
    const seen = target.requestsOn('/retry-at');
    assert.equal(seen.length, 2);
    assert.ok(seen[1]!.at >= retryAt - TOLERANCE, `retried ${retryAt - seen[1]!.at} ms early`);
    assert.deepEqual(headersOn(target, '/retry-at'), [h(0, false, 0, false), h(1, false, 0, false)]);
    assert.equal(done.statusCode, 502);
    const timeline = await getTimeline(server.client, creds, queued.id);
    assert.deepEqual(labelsOf(timeline), ['Subscribe', 'Error', 'Retry', 'Error']);
    assert.deepEqual(timeline[2]!.metadata, { retryAt });
  });

  test('repeatAt: the one repeat runs at that time', async () => {
    const repeatAt = Date.now() + 2500;
    const queued = await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/repeat-at'), method: 'POST' },
      config: { executionDelay: 1, repeatAt },
    });
    const done = await waitForState(server.client, creds, queued.id, 'COMPLETED');
    const seen = target.requestsOn('/repeat-at');
    assert.equal(seen.length, 2);
    assert.ok(seen[1]!.at >= repeatAt - TOLERANCE, `repeated ${repeatAt - seen[1]!.at} ms early`);
    assert.deepEqual(headersOn(target, '/repeat-at'), [h(0, false, 0, false), h(0, false, 1, false)]);
    assert.equal(done.updates.repeatCount, 1);
    const timeline = await getTimeline(server.client, creds, queued.id);
    assert.deepEqual(labelsOf(timeline), ['Subscribe', 'Complete', 'Repeat', 'Complete']);
    assert.deepEqual(timeline[2]!.metadata, { repeatAt });
  });

  test('pausing while a retry is pending keeps it a retry; resuming runs it', async () => {
    const queued = await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/pause-retry'), method: 'POST' },
      config: { retry: 1, retryInterval: '3s' },
    });
    await target.waitForRequests(1, { path: '/pause-retry' });
    await waitForTask(server.client, creds, queued.id, (t) => t.currentlyRetry);
    assert.equal((await server.client.pause(creds, queued.id)).status, 200);
    const paused = await getTask(server.client, creds, queued.id);
    assert.equal(paused.state, 'PAUSED');
    assert.equal(paused.updates.attempts, 1, 'paused too late: the retry already ran');
    assert.equal(paused.currentlyRetry, true);
    assert.ok(paused.updates.pausedTimeLeft > 0 && paused.updates.pausedTimeLeft <= 3000, JSON.stringify(paused.updates));
    const resumed = await server.client.resume(creds, queued.id);
    assert.equal(resumed.status, 200, JSON.stringify(resumed.body));
    assert.equal(resumed.body.currentlyRetry, true);
    const done = await waitForState(server.client, creds, queued.id, 'COMPLETED');
    assert.equal(done.statusCode, 200);
    assert.deepEqual(headersOn(target, '/pause-retry'), [h(0, false, 0, false), h(1, false, 0, false)]);
    assert.deepEqual(labelsOf(await getTimeline(server.client, creds, queued.id)), [
      'Subscribe',
      'Error',
      'Pause',
      'Resume',
      'Retry',
      'Complete',
    ]);
  });
});
