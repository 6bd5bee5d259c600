import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Credentials } from '../helpers/api-client.js';
import { getTask, getTimeline, labelsOf, subscribeOk, waitForState } from '../helpers/api-tasks.js';
import { TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A noisy neighbour: project A's target accepts every request and never answers, project B's
 * answers at once. With 4 slots and a project share of 50%, A fills 2 slots and its other tasks
 * wait in the store; B's tasks run in the slots left. Without shares A's tasks would take every slot
 * for their whole timeout, and B's would wait behind them.
 */
describe('fair dispatch: a project whose target hangs leaves slots for the others', () => {
  let server: TestServer;
  let hanging: TargetServer;
  let fast: TargetServer;
  let a: Credentials;
  let b: Credentials;

  before(async () => {
    server = await startTestServer({ env: { TASKS_CONCURRENCY: '4', TASKS_PROJECT_SHARE: '50', TASKS_HOST_SHARE: '100' } });
    hanging = await TargetServer.start(() => ({ hang: true }));
    fast = await TargetServer.start();
    a = await server.client.register();
    b = await server.client.register();
  });
  after(async () => {
    await server.close();
    await hanging.close();
    await fast.close();
  });

  test("B's tasks are delivered while A's hang; A's beyond its share wait without an attempt", async () => {
    const aTasks = [];
    for (let i = 0; i < 8; i++) {
      aTasks.push(
        await subscribeOk(server.client, a, { httpRequest: { url: hanging.url(`/a/${i}`), method: 'GET' }, config: { timeout: '600s' } }),
      );
    }
    await waitFor("A's share of the slots (2 of 4) held by its hanging target", () => hanging.heldCount === 2);

    const bTasks = [];
    for (let i = 0; i < 6; i++) {
      bTasks.push(await subscribeOk(server.client, b, { httpRequest: { url: fast.url(`/b/${i}`), method: 'GET' } }));
    }
    for (const task of bTasks) await waitForState(server.client, b, task.id, 'COMPLETED');
    assert.equal(fast.requests.length, 6, 'every task of B delivered once');

    assert.equal(hanging.requests.length, 2, 'A never held more than its share, across the claims that took B');
    assert.equal(hanging.heldCount, 2);
    const sent = new Set(hanging.requests.map((r) => r.url));
    const waiting = aTasks.filter((_, i) => !sent.has(`/a/${i}`));
    for (const task of waiting) {
      const view = await getTask(server.client, a, task.id);
      assert.equal(view.state, 'RUNNING');
      assert.equal(view.updates.attempts, 0);
    }
    assert.equal(waiting.length, 6, "A's tasks beyond its share were not sent");
    assert.deepEqual(
      labelsOf(await getTimeline(server.client, a, waiting[0]!.id)),
      ['Subscribe'],
      'waiting leaves no mark on the timeline',
    );

    // A's target answers: the waiting tasks get their turn, two at a time, and all complete.
    hanging.respond(() => ({ status: 200 }));
    hanging.answerHeld(200);
    for (const task of aTasks) await waitForState(server.client, a, task.id, 'COMPLETED');
    assert.equal(hanging.requests.length, 8, 'each task of A sent once');
  });
});
