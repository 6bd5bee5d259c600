/*
 * A change that keeps losing its compare-and-set (another writer changes the task between each read
 * and write) answers 409 TASK_BUSY after its tries, not a 500, and changes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertError } from '../helpers/api-assertions.js';
import type { Credentials } from '../helpers/api-client.js';
import { getTask, getTimeline, labelsOf, subscribeOk } from '../helpers/api-tasks.js';
import { TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';

describe('writes that keep losing the race', () => {
  let server: TestServer;
  let target: TargetServer;
  let creds: Credentials;

  before(async () => {
    server = await startTestServer();
    target = await TargetServer.start();
    creds = await server.client.register();
  });
  after(async () => {
    await server.close();
    await target.close();
  });

  /**
   * While `work` runs, every task the API reads is one write behind the store (as when another
   * writer commits between the read and the compare-and-set): the store itself refuses each write.
   */
  async function withStaleReads(work: () => Promise<void>): Promise<number> {
    const store = server.server.store;
    const findTask = store.findTask.bind(store);
    let reads = 0;
    store.findTask = async (projectId, id) => {
      const task = await findTask(projectId, id);
      reads++;
      return task && { ...task, version: task.version - 1 };
    };
    try {
      await work();
    } finally {
      store.findTask = findTask;
    }
    return reads;
  }

  const subscribe = (): Promise<string> =>
    subscribeOk(server.client, creds, { httpRequest: { url: target.url('/busy'), method: 'POST' }, config: { executionDelay: '1h' } }).then(
      (q) => q.id,
    );

  test('pause, resume and unsubscribe answer 409 TASK_BUSY and leave the task as it was', async () => {
    const running = await subscribe();
    const paused = await subscribe();
    assert.equal((await server.client.pause(creds, paused)).status, 200);

    const reads = await withStaleReads(async () => {
      assertError(await server.client.pause(creds, running), 409, 'TASK_BUSY', /try again/);
      assertError(await server.client.unsubscribe(creds, running), 409, 'TASK_BUSY');
      assertError(await server.client.resume(creds, paused), 409, 'TASK_BUSY');
    });
    assert.ok(reads >= 3 * 2, `each change tried more than once (${reads} reads)`);

    assert.equal((await getTask(server.client, creds, running)).state, 'RUNNING');
    assert.equal((await getTask(server.client, creds, paused)).state, 'PAUSED');
    assert.deepEqual(labelsOf(await getTimeline(server.client, creds, running)), ['Subscribe']);
    assert.deepEqual(labelsOf(await getTimeline(server.client, creds, paused)), ['Subscribe', 'Pause']);
  });

  test('delete answers 409 TASK_BUSY and keeps the task', async () => {
    const id = await subscribe();
    assert.equal((await server.client.unsubscribe(creds, id)).status, 200);
    await withStaleReads(async () => {
      assertError(await server.client.remove(creds, id), 409, 'TASK_BUSY');
    });
    assert.equal((await getTask(server.client, creds, id)).state, 'CANCELED');
    assert.equal((await server.client.remove(creds, id)).status, 200, 'deleted once the reads are current');
  });
});
