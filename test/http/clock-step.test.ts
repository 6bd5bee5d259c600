import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SteadyClock } from '../../src/core/clock.js';
import type { Credentials } from '../helpers/api-client.js';
import { subscribeOk, waitForState } from '../helpers/api-tasks.js';
import { TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';

/**
 * The system clock set back an hour while tasks wait (NTP correcting a fast clock, `date -s`): with
 * the wall clock as the server's time, every task would be due an hour later than asked and
 * dispatch would stall that long. The server's clock is a SteadyClock over a wall clock the test
 * sets back; tasks still run after the delays they asked for.
 */
describe('the system clock set back while tasks wait', () => {
  const wall = { behindBy: 0 };
  const clock = new SteadyClock(() => Date.now() - wall.behindBy);
  let server: TestServer;
  let target: TargetServer;
  let creds: Credentials;

  before(async () => {
    server = await startTestServer({ overrides: { clock } });
    target = await TargetServer.start(() => ({ status: 200 }));
    creds = await server.client.register();
  });
  after(async () => {
    await server?.close();
    await target?.close();
  });

  test('stalls nothing: a task subscribed before the step and one after are both sent on time', async () => {
    const before = await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/before'), method: 'POST' },
      config: { executionDelay: 1_000 },
    });
    wall.behindBy = 3_600_000;
    const afterStep = await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/after'), method: 'POST' },
      config: { executionDelay: 500 },
    });
    assert.ok(afterStep.estimateExecAt >= before.estimateExecAt - 1_000, 'the server kept its time across the step');
    await waitForState(server.client, creds, before.id, 'COMPLETED', { timeoutMs: 10_000 });
    await waitForState(server.client, creds, afterStep.id, 'COMPLETED', { timeoutMs: 10_000 });
    assert.deepEqual(target.requests.map((r) => r.url.split('?')[0]).sort(), ['/after', '/before']);
  });
});
