/*
 * Restart rules for retries and repeats whose time passed while no server ran: pinned to an
 * absolute retryAt/repeatAt they end EXCEEDED without another request; a relative retry
 * (retryInterval) runs at once, with an Alert.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TaskView } from '../../src/core/shapes.js';
import { ApiClient } from '../helpers/api-client.js';
import { getTimeline, waitForFinal, waitForTask } from '../helpers/api-tasks.js';
import { PROCESS_ENV } from '../helpers/server-env.js';
import { ProcessPool, spawnServer } from '../helpers/server-process.js';
import { type RecordedRequest, TargetServer } from '../helpers/target-server.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { holdUntil } from '../helpers/wait.js';

const AHEAD_MS = 5_000;

const queueOf = (r: RecordedRequest): string => String(r.headers['x-kuueri-tasks-queue']);

describe('retryAt / repeatAt / retryInterval that passed while the server was down', () => {
  const pool = new ProcessPool();
  let dir: string;
  let target: TargetServer;

  before(async () => {
    dir = makeTempDir('exceeded');
    const seen = new Map<string, number>();
    target = await TargetServer.start((request) => {
      const id = queueOf(request);
      const n = seen.get(id) ?? 0;
      seen.set(id, n + 1);
      const path = request.url.split('?')[0];
      if (path === '/fail') return { status: 500 };
      if (path === '/fail-once' && n === 0) return { status: 500 };
      return { status: 200 };
    });
  });

  after(async () => {
    await pool.killAll();
    await target.close();
    removeDir(dir);
  });

  test('absolute retryAt and repeatAt end EXCEEDED without another request; a relative retry runs at once', async () => {
    let server = pool.track(await spawnServer(PROCESS_ENV, dir));
    let client = new ApiClient(server.url);
    const creds = await client.register();
    const sentFor = (id: string): RecordedRequest[] => target.requests.filter((r) => queueOf(r) === id);

    const pinnedAt = Date.now() + AHEAD_MS;
    const subscribe = async (path: string, config: Record<string, unknown>): Promise<string> => {
      const res = await client.subscribe(creds, { httpRequest: { url: target.url(path), method: 'POST' }, config });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.id as string;
    };
    // Fails every time: were it sent again, it would end ERROR, not EXCEEDED.
    const retryAtId = await subscribe('/fail', { executionDelay: 1, retryAt: pinnedAt });
    const repeatAtId = await subscribe('/ok', { executionDelay: 1, repeatAt: pinnedAt });
    const relativeId = await subscribe('/fail-once', { executionDelay: 1, retry: 1, retryInterval: '3s', retryExponential: false });

    // Each first attempt is recorded and the task waits for its next run.
    const waiting = (id: string, what: (t: TaskView) => boolean): Promise<TaskView> => waitForTask(client, creds, id, what);
    const retryAt = await waiting(retryAtId, (t) => t.state === 'RUNNING' && t.currentlyRetry);
    const repeatAt = await waiting(repeatAtId, (t) => t.state === 'RUNNING' && t.currentlyRepeat);
    const relative = await waiting(relativeId, (t) => t.state === 'RUNNING' && t.currentlyRetry);
    assert.equal(retryAt.updates.estimateNextRetryAt, pinnedAt);
    assert.equal(repeatAt.updates.estimateNextRepeatAt, pinnedAt);
    assert.equal(retryAt.statusCode, 500);

    const killed = await server.kill('SIGKILL');
    assert.equal(killed.signal, 'SIGKILL');
    const killedAt = Date.now();
    assert.ok(
      killedAt < pinnedAt && killedAt < relative.estimateExecAt,
      'the process was killed before the next runs fell due (setup was too slow)',
    );
    for (const id of [retryAtId, repeatAtId, relativeId]) assert.equal(sentFor(id).length, 1, `task ${id} sent once before the kill`);

    // Waiting on the clock is the point: every next run must fall due while nothing runs.
    await holdUntil(Math.max(pinnedAt, relative.estimateExecAt) + 200, 'the next runs fall due while no server runs');
    server = pool.track(await spawnServer(PROCESS_ENV, dir));
    client = new ApiClient(server.url);

    const relativeDone = await waitForFinal(client, creds, relativeId);
    const retryAtDone = await waitForFinal(client, creds, retryAtId);
    const repeatAtDone = await waitForFinal(client, creds, repeatAtId);

    // The relative retry ran after the restart, as a recovered run.
    assert.equal(relativeDone.state, 'COMPLETED');
    const relativeSent = sentFor(relativeId);
    assert.equal(relativeSent.length, 2);
    assert.equal(relativeSent[1]!.headers['x-kuueri-tasks-retry-count'], '1');
    const relativeTimeline = await getTimeline(client, creds, relativeId);
    assert.ok(
      relativeTimeline.some((e) => e.label === 'Alert'),
      `Alert on the relative retry: ${relativeTimeline.map((e) => e.label).join(' > ')}`,
    );
    assert.ok(!relativeTimeline.some((e) => e.label === 'Exceeded'));

    // Canary: a task subscribed now is sent and recorded, so the dispatcher has run past the others.
    const canaryId = await subscribe('/ok', { executionDelay: 1 });
    assert.equal((await waitForFinal(client, creds, canaryId)).state, 'COMPLETED');

    for (const [name, id, done] of [
      ['retryAt', retryAtId, retryAtDone],
      ['repeatAt', repeatAtId, repeatAtDone],
    ] as const) {
      assert.equal(done.state, 'EXCEEDED', `${name} task ended ${done.state}`);
      assert.equal(done.updates.attempts, 1, `${name} task: no attempt after the restart`);
      assert.equal(sentFor(id).length, 1, `${name} task: the target was not called again`);
      const timeline = await getTimeline(client, creds, id);
      const labels = timeline.map((e) => e.label);
      assert.equal(labels.filter((l) => l === 'Exceeded').length, 1, `${name}: ${labels.join(' > ')}`);
      assert.equal(labels.at(-1), 'Exceeded', `${name}: ${labels.join(' > ')}`);
      assert.ok(timeline.at(-1)!.createdAt >= pinnedAt, `${name}: Exceeded recorded after the pinned time passed`);
    }
    const info = await client.info(creds);
    assert.equal(info.body.taskInQueue, 0);
  });
});
