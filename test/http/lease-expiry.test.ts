import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestClock } from '../../src/core/clock.js';
import type { Credentials } from '../helpers/api-client.js';
import { getTimeline, subscribeOk, waitForState } from '../helpers/api-tasks.js';
import { TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';

/**
 * A lease that runs out while its own process still sends the task (renewals came too late: a
 * starved event loop) must not make that process send the task a second time when its next claim
 * takes the task again. The clock is a test clock and the lease as long as allowed, so no renewal
 * runs during the test and "the lease ran out" is a step of the test, not a race.
 */
describe('a lease that runs out under its own process', () => {
  const LEASE_MS = 600_000;
  const clock = new TestClock(Date.now());
  let server: TestServer;
  let target: TargetServer;
  let creds: Credentials;

  before(async () => {
    server = await startTestServer({ env: { TASKS_LEASE_MS: String(LEASE_MS) }, overrides: { clock } });
    target = await TargetServer.start(() => ({ hang: true })); // every request held until answered
    creds = await server.client.register();
  });

  after(async () => {
    target?.answerHeld(200);
    await server?.close();
    await target?.close();
  });

  test('is taken over by the next claim: the attempt in flight is sent once and its outcome recorded', async () => {
    const slow = await subscribeOk(server.client, creds, { httpRequest: { url: target.url('/slow'), method: 'POST' } });
    clock.advance(10); // due
    await target.waitForRequests(1); // in flight, held by the target

    clock.advance(LEASE_MS + 1); // the lease has run out; the task is due again in the store
    // A new task wakes the dispatcher: its claim takes every due task, the held one included.
    const next = await subscribeOk(server.client, creds, { httpRequest: { url: target.url('/next'), method: 'POST' } });
    clock.advance(10);
    await target.waitForRequests(2);
    target.respond(() => ({ status: 200 }));
    target.answerHeld(200);

    await waitForState(server.client, creds, next.id, 'COMPLETED');
    await waitForState(server.client, creds, slow.id, 'COMPLETED');
    const paths = target.requests.map((r) => r.url.split('?')[0]);
    assert.deepEqual(
      paths.filter((p) => p === '/slow'),
      ['/slow'],
      `the target received: ${paths.join(', ')}`,
    );
    const attempts = (await getTimeline(server.client, creds, slow.id)).filter((e) => ['Complete', 'Retry', 'Error'].includes(e.label));
    assert.equal(attempts.length, 1, `one attempt on the timeline: ${JSON.stringify(attempts)}`);
  });
});
