import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TaskListView, TaskView } from '../../src/core/shapes.js';
import type { Credentials } from '../helpers/api-client.js';
import { b64, getTimeline, subscribeOk, waitForFinal } from '../helpers/api-tasks.js';
import { TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';

/**
 * Dead letters and replay: tasks that ended ERROR or EXCEEDED are listed by state, and
 * `PATCH /v1beta/replay/:id` (or the bulk action `replay`) runs each again as a new task with the
 * original's request and config and a fresh retry budget, the two linked on their timelines.
 */
const QUEUE_LIMIT = 6;

describe('replay', { concurrency: true }, () => {
  let server: TestServer;
  let target: TargetServer;

  before(async () => {
    server = await startTestServer({ env: { TASKS_QUEUE_LIMIT: String(QUEUE_LIMIT) } });
    target = await TargetServer.start((request) => ({ status: request.url.startsWith('/ok') ? 200 : 500 }));
  });
  after(async () => {
    await server?.close();
    await target?.close();
  });

  const replay = (creds: Credentials, id: string) => server.client.request<TaskView>('PATCH', `/v1beta/replay/${id}`, { creds });
  const bulk = (creds: Credentials, payload: unknown) => server.client.request('POST', '/v1beta/queues/bulk', { creds, body: payload });

  /** A task that ran (now) and ended as its target made it. */
  async function ended(creds: Credentials, path: string, extra: Record<string, unknown> = {}): Promise<TaskView> {
    const queued = await subscribeOk(server.client, creds, { httpRequest: { url: target.url(path), method: 'POST' }, ...extra });
    return waitForFinal(server.client, creds, queued.id);
  }

  test('an ERROR task is listed by state and replayed as a new task with its request, config and tags, linked both ways', async () => {
    const creds = await server.client.register();
    const original = await ended(creds, '/fail-one?n=1', {
      httpRequest: {
        url: target.url('/fail-one?n=1'),
        method: 'PUT',
        headers: { 'X-Custom': 'kept' },
        data: b64('the same body'),
      },
      config: { retry: 1, retryInterval: '1s' },
      tags: ['dead'],
    });
    assert.equal(original.state, 'ERROR');
    assert.equal(original.updates.attempts, 2);
    const listed = await server.client.request<TaskListView>('GET', '/v1beta/queues?state=ERROR,EXCEEDED', { creds });
    assert.deepEqual(
      listed.body.tasks.map((t) => t.id),
      [original.id],
    );

    const res = await replay(creds, original.id);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const copy = res.body;
    assert.notEqual(copy.id, original.id);
    assert.equal(copy.state, 'RUNNING');
    assert.deepEqual([copy.updates.retryCount, copy.updates.attempts], [0, 0], 'a fresh retry budget');
    assert.deepEqual(copy.tags, ['dead']);
    assert.deepEqual(copy.target, original.target);
    assert.deepEqual({ ...copy.config, executionDelay: 0 }, { ...original.config, executionDelay: 0 });

    const done = await waitForFinal(server.client, creds, copy.id);
    assert.equal(done.state, 'ERROR');
    assert.equal(done.updates.attempts, 2, 'retried again as the original was');
    const sent = target.requestsOn('/fail-one');
    assert.equal(sent.length, 4);
    for (const request of sent) {
      assert.equal(request.method, 'PUT');
      assert.equal(request.headers['x-custom'], 'kept');
      assert.equal(request.body.toString(), 'the same body');
    }

    const after = (await server.client.task(creds, original.id)).body as unknown as TaskView;
    assert.deepEqual({ ...after }, { ...original }, 'the original stays as it was');
    const linkBack = (await getTimeline(server.client, creds, original.id)).at(-1)!;
    assert.equal(linkBack.label, 'Replay');
    assert.deepEqual(linkBack.metadata, { replayedAs: copy.id });
    const link = (await getTimeline(server.client, creds, copy.id)).find((e) => e.label === 'Replay');
    assert.deepEqual(link?.metadata, { replayOf: original.id });
  });

  test('only ERROR and EXCEEDED tasks are replayable: others answer 409 TASK_NOT_REPLAYABLE', async () => {
    const creds = await server.client.register();
    const completed = await ended(creds, '/ok');
    assert.equal(completed.state, 'COMPLETED');
    const waiting = await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/ok'), method: 'POST' },
      config: { executionDelay: '1h' },
    });
    for (const id of [completed.id, waiting.id]) {
      const res = await replay(creds, id);
      assert.equal(res.status, 409);
      assert.equal((res.body as unknown as { code: string }).code, 'TASK_NOT_REPLAYABLE');
    }
    assert.equal((await replay(creds, '01KDXQ0000ABCDEFGHJKMNPQRS')).status, 404);
    const other = await server.client.register();
    const failed = await ended(creds, '/fail-other');
    assert.equal((await replay(other, failed.id)).status, 404, "another project's task is not found");
  });

  test('bulk replay by filter takes the ERROR and EXCEEDED tasks it selects; by ids counts the others as not allowed', async () => {
    const creds = await server.client.register();
    const failed = await Promise.all([1, 2, 3].map((n) => ended(creds, `/fail-batch?n=${n}`, { tags: ['batch'] })));
    const completed = await ended(creds, '/ok-batch', { tags: ['batch'] });
    const elsewhere = await ended(creds, '/fail-elsewhere', { tags: ['other'] });

    const res = await bulk(creds, { action: 'replay', filter: { tag: 'batch' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { done: 3, notFound: 0, notAllowed: 0, busy: 0, queueFull: 0 });
    for (const task of failed) {
      const timeline = await getTimeline(server.client, creds, task.id);
      assert.equal(timeline.at(-1)!.label, 'Replay', `${task.id} was replayed`);
    }
    assert.notEqual((await getTimeline(server.client, creds, elsewhere.id)).at(-1)!.label, 'Replay', 'not selected');
    const tagged = await server.client.request<TaskListView>('GET', '/v1beta/queues?tag=batch', { creds });
    assert.equal(tagged.body.tasks.length, 4 + 3, 'three new tasks carry the tag');

    const byIds = await bulk(creds, { action: 'replay', ids: [completed.id, elsewhere.id] });
    assert.deepEqual(byIds.body, { done: 1, notFound: 0, notAllowed: 1, busy: 0, queueFull: 0 });
  });

  test('a replay counts against the queue like a subscribe: 429 QUEUE_FULL, and queueFull in bulk', async () => {
    const creds = await server.client.register();
    const failed = await ended(creds, '/fail-full');
    for (let i = 0; i < QUEUE_LIMIT; i++) {
      await subscribeOk(server.client, creds, {
        httpRequest: { url: target.url('/ok'), method: 'POST' },
        config: { executionDelay: '1h' },
      });
    }
    const res = await replay(creds, failed.id);
    assert.equal(res.status, 429);
    assert.equal((res.body as unknown as { code: string }).code, 'QUEUE_FULL');
    const inBulk = await bulk(creds, { action: 'replay', ids: [failed.id] });
    assert.deepEqual(inBulk.body, { done: 0, notFound: 0, notAllowed: 0, busy: 0, queueFull: 1 });
    assert.notEqual((await getTimeline(server.client, creds, failed.id)).at(-1)!.label, 'Replay', 'no link without a replay');
  });
});
