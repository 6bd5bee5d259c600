import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertError, assertQueued } from '../helpers/api-assertions.js';
import type { Credentials } from '../helpers/api-client.js';
import { activeCount, getTask, getTimeline, labelsOf, subscribeOk, waitForState, waitForTask } from '../helpers/api-tasks.js';
import { TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait.js';

describe('managing a task: pause, resume, unsubscribe, delete', { concurrency: true }, () => {
  let server: TestServer;
  let target: TargetServer;
  let creds: Credentials;

  before(async () => {
    server = await startTestServer();
    target = await TargetServer.start((request) => {
      const path = request.url.split('?')[0]!;
      if (path.startsWith('/fail')) return { status: 500 };
      if (path.startsWith('/slow')) return { status: 200, delayMs: 2000 };
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
    config,
  });

  /** A task in the given state. */
  async function taskIn(state: 'RUNNING' | 'PAUSED' | 'CANCELED' | 'COMPLETED' | 'ERROR', who = creds): Promise<string> {
    switch (state) {
      case 'RUNNING':
        return (await subscribeOk(server.client, who, at('/never', { executionDelay: '1h' }))).id;
      case 'PAUSED': {
        const id = await taskIn('RUNNING', who);
        assert.equal((await server.client.pause(who, id)).status, 200);
        return id;
      }
      case 'CANCELED': {
        const id = await taskIn('RUNNING', who);
        assert.equal((await server.client.unsubscribe(who, id)).status, 200);
        return id;
      }
      case 'COMPLETED': {
        const id = (await subscribeOk(server.client, who, at('/ok'))).id;
        await waitForState(server.client, who, id, 'COMPLETED');
        return id;
      }
      case 'ERROR': {
        const id = (await subscribeOk(server.client, who, at('/fail'))).id;
        await waitForState(server.client, who, id, 'ERROR');
        return id;
      }
    }
  }

  test('pause keeps a task from being sent; resume restarts the clock with the time that was left', async () => {
    const queued = await subscribeOk(server.client, creds, at('/paused', { executionDelay: 3000 }));
    const paused = await server.client.pause(creds, queued.id);
    assert.equal(paused.status, 200);
    assert.deepEqual(paused.body, { response: 'PAUSED' });

    const task = await getTask(server.client, creds, queued.id);
    assert.equal(task.state, 'PAUSED');
    const left = task.updates.pausedTimeLeft;
    assert.ok(left > 0 && left <= 3000, `pausedTimeLeft ${left}`);
    assert.equal(task.updates.attempts, 0, 'paused too late: the task already ran');
    assert.equal(task.estimateEndAt, 0);

    // A later task is the signal that the paused one's due time has passed.
    const signal = await subscribeOk(server.client, creds, at('/paused-signal', { executionDelay: 4000 }));
    await target.waitForRequests(1, { path: '/paused-signal' });
    assert.ok(Date.now() > queued.estimateExecAt);
    assert.equal(target.requestsOn('/paused').length, 0, 'a paused task was sent');
    assert.equal((await getTask(server.client, creds, queued.id)).state, 'PAUSED');
    assert.equal(
      (await getTask(server.client, creds, queued.id)).updates.pausedTimeLeft,
      left,
      'the time left does not run down while paused',
    );
    await waitForState(server.client, creds, signal.id, 'COMPLETED');

    const before = Date.now();
    const resumed = await server.client.resume(creds, queued.id);
    const after = Date.now();
    const body = assertQueued(resumed, 200);
    assert.equal(body.id, queued.id);
    assert.equal(body.estimateStartAt, queued.estimateStartAt);
    assert.ok(
      body.estimateExecAt >= before + left && body.estimateExecAt <= after + left,
      `estimateExecAt ${body.estimateExecAt} not in [${before + left}, ${after + left}]`,
    );
    assert.equal((await getTask(server.client, creds, queued.id)).updates.pausedTimeLeft, 0);

    const [received] = await target.waitForRequests(1, { path: '/paused' });
    assert.ok(received!.at >= body.estimateExecAt - 50, 'sent before its resumed time');
    const done = await waitForState(server.client, creds, queued.id, 'COMPLETED');
    assert.equal(done.statusCode, 200);
    const timeline = await getTimeline(server.client, creds, queued.id);
    assert.deepEqual(labelsOf(timeline), ['Subscribe', 'Pause', 'Resume', 'Complete']);
  });

  test('unsubscribe a RUNNING task: UNSUBSCRIBED, CANCELED with estimateEndAt set, never sent', async () => {
    const queued = await subscribeOk(server.client, creds, at('/cancel-running', { executionDelay: 2500 }));
    const before = Date.now();
    const res = await server.client.unsubscribe(creds, queued.id);
    const after = Date.now();
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { response: 'UNSUBSCRIBED' });
    const task = await getTask(server.client, creds, queued.id);
    assert.equal(task.state, 'CANCELED');
    assert.ok(task.estimateEndAt >= before && task.estimateEndAt <= after, JSON.stringify(task));
    assert.equal(task.currentlyRetry, false);
    assert.equal(task.currentlyRepeat, false);

    await subscribeOk(server.client, creds, at('/cancel-running-signal', { executionDelay: 3500 }));
    await target.waitForRequests(1, { path: '/cancel-running-signal' });
    assert.equal(target.requestsOn('/cancel-running').length, 0, 'a cancelled task was sent');
    assert.equal((await getTask(server.client, creds, queued.id)).state, 'CANCELED');
    assert.deepEqual(labelsOf(await getTimeline(server.client, creds, queued.id)), ['Subscribe', 'Unsubscribe']);
  });

  test('unsubscribe a PAUSED task: UNSUBSCRIBED, CANCELED with estimateEndAt set, never sent', async () => {
    const queued = await subscribeOk(server.client, creds, at('/cancel-paused', { executionDelay: 2500 }));
    assert.equal((await server.client.pause(creds, queued.id)).status, 200);
    const before = Date.now();
    const res = await server.client.unsubscribe(creds, queued.id);
    const after = Date.now();
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { response: 'UNSUBSCRIBED' });
    const task = await getTask(server.client, creds, queued.id);
    assert.equal(task.state, 'CANCELED');
    assert.ok(task.estimateEndAt >= before && task.estimateEndAt <= after, JSON.stringify(task));
    assert.equal(task.updates.pausedTimeLeft, 0);

    await subscribeOk(server.client, creds, at('/cancel-paused-signal', { executionDelay: 3500 }));
    await target.waitForRequests(1, { path: '/cancel-paused-signal' });
    assert.equal(target.requestsOn('/cancel-paused').length, 0, 'a cancelled task was sent');
    assert.deepEqual(labelsOf(await getTimeline(server.client, creds, queued.id)), ['Subscribe', 'Pause', 'Unsubscribe']);
  });

  test('unsubscribe while an attempt is in flight: the late answer does not bring the task back', async () => {
    const queued = await subscribeOk(server.client, creds, at('/slow-cancel'));
    await target.waitForRequests(1, { path: '/slow-cancel' });
    assert.equal((await server.client.unsubscribe(creds, queued.id)).status, 200);
    await waitFor('the dispatcher to be idle', () => server.server.dispatcher.active === 0);
    const task = await getTask(server.client, creds, queued.id);
    assert.equal(task.state, 'CANCELED');
    assert.equal(task.statusCode, 0);
    assert.deepEqual(labelsOf(await getTimeline(server.client, creds, queued.id)), ['Subscribe', 'Unsubscribe']);
  });

  test('pause while an attempt is in flight: its outcome is recorded, the next run waits for resume', async () => {
    const queued = await subscribeOk(server.client, creds, at('/slow-pause', { repeat: 1, repeatInterval: 1000 }));
    await target.waitForRequests(1, { path: '/slow-pause' });
    assert.equal((await server.client.pause(creds, queued.id)).status, 200);
    const paused = await waitForTask(server.client, creds, queued.id, (t) => t.updates.attempts === 1);
    assert.equal(paused.state, 'PAUSED');
    assert.equal(paused.statusCode, 200);
    assert.equal(paused.currentlyRepeat, true);
    // The clock stopped at the pause, so the whole repeat interval is still ahead.
    assert.ok(
      paused.updates.pausedTimeLeft > 500 && paused.updates.pausedTimeLeft <= 1000,
      `paused with ${JSON.stringify(paused.updates)}`,
    );
    assert.equal(paused.estimateExecAt, 0, 'a paused task has no execution scheduled');
    const before = Date.now();
    const resumed = await server.client.resume(creds, queued.id);
    assert.equal(resumed.status, 200);
    assert.ok((resumed.body.estimateExecAt as number) >= before + paused.updates.pausedTimeLeft, JSON.stringify(resumed.body));
    await waitForState(server.client, creds, queued.id, 'COMPLETED');
    const seen = target.requestsOn('/slow-pause');
    assert.equal(seen.length, 2);
    assert.ok(seen[1]!.at >= before + 500, `the repeat ran ${seen[1]!.at - before} ms after resume`);
    assert.deepEqual(labelsOf(await getTimeline(server.client, creds, queued.id)), [
      'Subscribe',
      'Pause',
      'Complete',
      'Resume',
      'Repeat',
      'Complete',
    ]);
  });

  test('every disallowed transition answers 409 TASK_STATE_CONFLICT saying the state, and changes nothing', async () => {
    const cases: Array<
      [state: 'RUNNING' | 'PAUSED' | 'CANCELED' | 'COMPLETED' | 'ERROR', actions: Array<'pause' | 'resume' | 'unsubscribe' | 'remove'>]
    > = [
      ['RUNNING', ['resume', 'remove']],
      ['PAUSED', ['pause']],
      ['CANCELED', ['pause', 'resume', 'unsubscribe']],
      ['COMPLETED', ['pause', 'resume', 'unsubscribe']],
      ['ERROR', ['pause', 'resume', 'unsubscribe']],
    ];
    for (const [state, actions] of cases) {
      const id = await taskIn(state);
      const before = await getTask(server.client, creds, id);
      const timelineBefore = await getTimeline(server.client, creds, id);
      for (const action of actions) {
        const res = await server.client[action](creds, id);
        assertError(res, 409, 'TASK_STATE_CONFLICT', new RegExp(`\\b${state}\\b`));
      }
      const after = await getTask(server.client, creds, id);
      assert.deepEqual(after, before, `${state} task changed`);
      assert.deepEqual(await getTimeline(server.client, creds, id), timelineBefore);
    }
  });

  test('DELETE is allowed from PAUSED, CANCELED, COMPLETED and ERROR: EMPTY, then 404 for everything', async () => {
    for (const state of ['PAUSED', 'CANCELED', 'COMPLETED', 'ERROR'] as const) {
      const id = await taskIn(state);
      const res = await server.client.remove(creds, id);
      assert.equal(res.status, 200, `${state}: ${JSON.stringify(res.body)}`);
      assert.deepEqual(res.body, { response: 'EMPTY' });
      for (const gone of [
        await server.client.task(creds, id),
        await server.client.timeline(creds, id),
        await server.client.remove(creds, id),
        await server.client.pause(creds, id),
        await server.client.resume(creds, id),
        await server.client.unsubscribe(creds, id),
      ]) {
        assert.equal(gone.status, 404, `${state}: ${JSON.stringify(gone.body)}`);
        assert.equal((gone.body as { code?: string }).code, 'TASK_NOT_FOUND');
      }
    }
  });

  test('DELETE of a RUNNING task is refused and keeps it', async () => {
    const id = await taskIn('RUNNING');
    assertError(await server.client.remove(creds, id), 409, 'TASK_STATE_CONFLICT', /RUNNING/);
    assert.equal((await getTask(server.client, creds, id)).state, 'RUNNING');
  });

  test('a deleted paused task never runs', async () => {
    const queued = await subscribeOk(server.client, creds, at('/deleted', { executionDelay: 2500 }));
    assert.equal((await server.client.pause(creds, queued.id)).status, 200);
    assert.equal((await server.client.remove(creds, queued.id)).status, 200);
    await subscribeOk(server.client, creds, at('/deleted-signal', { executionDelay: 3500 }));
    await target.waitForRequests(1, { path: '/deleted-signal' });
    assert.equal(target.requestsOn('/deleted').length, 0);
  });

  test('taskInQueue counts RUNNING and PAUSED tasks only', async () => {
    const own = await server.client.register();
    assert.equal(await activeCount(server.client, own), 0);
    const a = await taskIn('RUNNING', own);
    await taskIn('RUNNING', own);
    const c = await taskIn('RUNNING', own);
    assert.equal(await activeCount(server.client, own), 3);
    assert.equal((await server.client.pause(own, a)).status, 200);
    assert.equal(await activeCount(server.client, own), 3);
    assert.equal((await server.client.unsubscribe(own, c)).status, 200);
    assert.equal(await activeCount(server.client, own), 2);
    await taskIn('COMPLETED', own);
    await taskIn('ERROR', own);
    assert.equal(await activeCount(server.client, own), 2);
    assert.equal((await server.client.resume(own, a)).status, 200);
    assert.equal(await activeCount(server.client, own), 2);
    assert.equal((await server.client.unsubscribe(own, a)).status, 200);
    assert.equal((await server.client.remove(own, a)).status, 200);
    assert.equal(await activeCount(server.client, own), 1);
  });

  test('PATCH routes ignore an empty JSON body and refuse a malformed one', async () => {
    const id = await taskIn('RUNNING');
    const paused = await server.client.request('PATCH', `/v1beta/pause/${id}`, {
      creds,
      rawBody: '',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(paused.status, 200, JSON.stringify(paused.body));
    const bad = await server.client.request('PATCH', `/v1beta/resume/${id}`, {
      creds,
      rawBody: '{',
      headers: { 'content-type': 'application/json' },
    });
    assertError(bad, 400, 'INVALID_JSON');
    assert.equal((await getTask(server.client, creds, id)).state, 'PAUSED');
  });
});
