/*
 * GET /v1beta/activity: deliveries and failures per minute over the last hour, counted by the
 * dispatcher as real attempts end and summed in the store. Time is a test clock, so which minute
 * an attempt falls in is a step of the test.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestClock } from '../../src/core/clock.js';
import type { ActivityView } from '../../src/core/shapes.js';
import type { Credentials } from '../helpers/api-client.js';
import { assertError } from '../helpers/api-assertions.js';
import { subscribeOk, waitForFinal } from '../helpers/api-tasks.js';
import { freePort } from '../helpers/ports.js';
import { TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait.js';

const MINUTE = 60_000;

describe('GET /v1beta/activity', () => {
  // 5 s into a minute, so the attempts of a step stay in it.
  const clock = new TestClock(Math.floor(Date.now() / MINUTE) * MINUTE + 5_000);
  const first = Math.floor(clock.now() / MINUTE) * MINUTE;
  let server: TestServer;
  let target: TargetServer;
  let creds: Credentials;
  let other: Credentials;

  const activity = async (who: Credentials = creds): Promise<ActivityView> => {
    const res = await server.client.request<ActivityView>('GET', '/v1beta/activity', { creds: who });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  const minuteAt = (view: ActivityView, at: number) => view.minutes.find((m) => m.at === at);

  /** Runs tasks to the URLs, due at once, until each has finished (no retries). */
  async function runTasks(urls: string[]): Promise<void> {
    const tasks = [];
    for (const url of urls) tasks.push(await subscribeOk(server.client, creds, { httpRequest: { url, method: 'POST' } }));
    clock.advance(10);
    for (const task of tasks) await waitForFinal(server.client, creds, task.id);
  }

  before(async () => {
    server = await startTestServer({ overrides: { clock } });
    target = await TargetServer.start();
    target.respond((request) => ({ status: request.url.startsWith('/fail') ? 500 : 200 }));
    creds = await server.client.register();
    other = await server.client.register();
  });
  after(async () => {
    await server?.close();
    await target?.close();
  });

  test('an hour of minutes, oldest first, one a minute, zeros included; the current minute last', async () => {
    const view = await activity();
    assert.equal(view.minutes.length, 60);
    assert.equal(view.minutes.at(-1)?.at, first);
    view.minutes.forEach((m, i) => assert.deepEqual(m, { at: first - (59 - i) * MINUTE, delivered: 0, failed: 0 }));
  });

  test('counts attempts answered 2xx as delivered and every other outcome as failed, per minute and per project', async () => {
    const closed = `http://127.0.0.1:${await freePort()}/nobody`;
    await runTasks([target.url('/ok/1'), target.url('/ok/2'), target.url('/ok/3'), target.url('/fail/1'), closed]);
    await waitFor('the first minute counted', async () => {
      const m = minuteAt(await activity(), first);
      return m?.delivered === 3 && m.failed === 2;
    });

    clock.advance(2 * MINUTE);
    await runTasks([target.url('/ok/4'), target.url('/fail/2')]);
    const view = await waitFor('the third minute counted', async () => {
      const seen = await activity();
      const m = minuteAt(seen, first + 2 * MINUTE);
      return m?.delivered === 1 && m.failed === 1 ? seen : undefined;
    });
    assert.equal(view.minutes.length, 60);
    assert.equal(view.minutes.at(-1)?.at, first + 2 * MINUTE);
    assert.deepEqual(
      view.minutes.filter((m) => m.delivered + m.failed > 0),
      [
        { at: first, delivered: 3, failed: 2 },
        { at: first + 2 * MINUTE, delivered: 1, failed: 1 },
      ],
    );
    assert.ok(
      (await activity(other)).minutes.every((m) => m.delivered === 0 && m.failed === 0),
      "another project's activity is its own",
    );

    // An hour on, the first minute has left the window.
    clock.advance(59 * MINUTE);
    assert.equal(minuteAt(await activity(), first), undefined);
    assert.deepEqual(minuteAt(await activity(), first + 2 * MINUTE), { at: first + 2 * MINUTE, delivered: 1, failed: 1 });
  });

  test('needs credentials', async () => {
    assertError(await server.client.request('GET', '/v1beta/activity'), 401, 'UNAUTHORIZED');
  });
});
