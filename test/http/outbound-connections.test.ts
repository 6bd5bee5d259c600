import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Credentials } from '../helpers/api-client.js';
import { getTask, subscribeOk, waitForState } from '../helpers/api-tasks.js';
import { TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait.js';

/** The sockets the server keeps to targets are bounded: per host by its share of the slots, and in how long they stay idle. */
describe('outbound connections', () => {
  const CONCURRENCY = 16;
  let server: TestServer;
  let creds: Credentials;

  before(async () => {
    server = await startTestServer({ env: { TASKS_CONCURRENCY: String(CONCURRENCY), TASKS_HOST_SHARE: '50', TASKS_PROJECT_SHARE: '100' } });
    creds = await server.client.register();
  });
  after(async () => {
    await server.close();
  });

  test('one host gets its share of the slots (each a connection); its other tasks wait in the store, unsent', async () => {
    const perOrigin = CONCURRENCY / 2;
    const tasks = perOrigin + 4;
    const target = await TargetServer.start(() => ({ hang: true }));
    try {
      const ids: string[] = [];
      for (let i = 0; i < tasks; i++) {
        ids.push(
          (
            await subscribeOk(server.client, creds, {
              httpRequest: { url: target.url('/held'), method: 'POST' },
              config: { timeout: '60s' },
            })
          ).id,
        );
      }
      // The host's share of the slots is in flight, each attempt on a connection of its own.
      await waitFor(
        () => `${perOrigin} attempts in flight and held (${server.server.dispatcher.active}, ${target.heldCount})`,
        () => server.server.dispatcher.active === perOrigin && target.heldCount === perOrigin,
      );
      for (const id of ids) {
        assert.equal((await getTask(server.client, creds, id)).updates.attempts, 0, 'no attempt recorded while held or waiting');
      }
      target.respond(() => ({ status: 200 }));
      target.answerHeld();
      for (const id of ids) await waitForState(server.client, creds, id, 'COMPLETED');
      assert.equal(target.requests.length, tasks, 'each task sent once');
    } finally {
      await target.close();
    }
  });

  test('an idle connection is closed within 10 s, whatever keep-alive time the target offers', async () => {
    const target = await TargetServer.start(() => ({ status: 200, headers: { connection: 'keep-alive', 'keep-alive': 'timeout=600' } }));
    try {
      const queued = await subscribeOk(server.client, creds, { httpRequest: { url: target.url('/once'), method: 'POST' } });
      await waitForState(server.client, creds, queued.id, 'COMPLETED');
      // The target would keep it for 600 s; undici's own bound was 60 s before.
      await target.waitForClosedConnections({ timeoutMs: 15_000 });
    } finally {
      await target.close();
    }
  });
});
