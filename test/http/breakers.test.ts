import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import type { AttemptsView, BreakersView, CircuitView, ErrorBody } from '../../src/core/shapes.js';
import type { Credentials } from '../helpers/api-client.js';
import { getTimeline, labelsOf, subscribeOk, waitForFinal } from '../helpers/api-tasks.js';
import { TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait.js';

/*
 * Circuit breakers on a real server and real targets (SQLite, then Redis: scripts/run-tests.mjs).
 * A target that fails opens its project's circuit after N failures in a row; while open, tasks wait
 * without using attempts (each attempt the task logs is a request the target received); a failed
 * probe doubles the open time; once the target answers again, the probe closes the circuit and the
 * tasks complete. Projects without a policy keep the seed's retries; another project sees nothing.
 */
describe('circuit breakers', { concurrency: true }, () => {
  let server: TestServer;
  let target: TargetServer;
  let receiver: TargetServer;
  /** Paths of the target that fail (503) until taken out. */
  const down = new Set<string>(['/flaky', '/always']);

  before(async () => {
    server = await startTestServer({ env: { TASKS_POLL_MS: '50' } });
    target = await TargetServer.start((request) => ({ status: down.has(`/${request.url.split('/')[1]}`) ? 503 : 200 }));
    receiver = await TargetServer.start(() => ({ status: 204 }));
  });
  after(async () => {
    await server?.close();
    await target?.close();
    await receiver?.close();
  });

  const register = async (): Promise<Credentials & { signingSecret: string }> =>
    (
      await server.client.request<Credentials & { signingSecret: string }>('POST', '/v1beta/register', {
        body: { email: `breakers.${process.pid}.${Date.now()}.${Math.random()}@example.com` },
      })
    ).body;
  const breakers = async (creds: Credentials): Promise<BreakersView> => {
    const res = await server.client.request<BreakersView>('GET', '/v1beta/breakers', { creds });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  const hostCircuit = async (creds: Credentials): Promise<CircuitView | undefined> =>
    (await breakers(creds)).circuits.find((c) => c.kind === 'host');
  const attemptsOf = async (creds: Credentials, id: string): Promise<AttemptsView> =>
    (await server.client.request<AttemptsView>('GET', `/v1beta/queues/${id}/attempts`, { creds })).body;

  test('a failing target opens the circuit; tasks wait without attempts; a failed probe doubles the time; recovery closes it', async () => {
    const creds = await register();
    const policy = { failureThreshold: 3, openMs: 300, maxOpenMs: 1_200, callbackUrl: receiver.url('/circuit') };
    const put = await server.client.request('PUT', '/v1beta/breakers/policy', { creds, body: policy });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual(put.body, policy);

    const tasks = await Promise.all(
      [1, 2, 3].map((i) =>
        subscribeOk(server.client, creds, {
          httpRequest: { url: target.url(`/flaky/${i}`), method: 'POST' },
          config: { retry: 30, retryInterval: 1_000 },
        }),
      ),
    );

    // Opened by the third failure in a row: one signed callback says so.
    const [call] = await receiver.waitForRequests(1, { path: '/circuit' });
    const headers = Object.fromEntries(Object.entries(call!.headers).map(([k, v]) => [k, String(v)]));
    new Webhook(creds.signingSecret).verify(call!.body, headers);
    const payload = JSON.parse(call!.body.toString('utf8')) as { type: string; circuit: CircuitView };
    assert.equal(payload.type, 'circuit.opened');
    assert.equal(payload.circuit.state, 'open');
    assert.equal(payload.circuit.host, '127.0.0.1');
    assert.equal(payload.circuit.failures, 3);
    assert.equal(payload.circuit.openMs, 300);

    // Another project sees none of it, and its tasks to the same host keep the seed's retries.
    const other = await register();
    assert.deepEqual(await breakers(other), { policy: null, circuits: [] });
    const notFound = await server.client.request<ErrorBody>('GET', '/v1beta/breakers/host/127.0.0.1', { creds: other });
    assert.equal(notFound.status, 404);
    assert.equal(notFound.body.code, 'CIRCUIT_NOT_FOUND');
    const plain = await subscribeOk(server.client, other, {
      httpRequest: { url: target.url('/always/plain'), method: 'POST' },
      config: { retry: 1, retryInterval: 1_000 },
    });

    // Probes fail while the target is down: the open time doubles.
    const reopened = await waitFor('a failed probe to open the circuit again for twice the time', async () => {
      const circuit = await hostCircuit(creds);
      return circuit && circuit.opens >= 2 && circuit.state === 'open' ? circuit : undefined;
    });
    assert.ok(reopened.openMs >= 600 && reopened.openMs <= 1_200, `open time ${reopened.openMs}`);
    assert.equal(reopened.host, '127.0.0.1');
    const byName = await server.client.request<CircuitView>('GET', '/v1beta/breakers/host/127.0.0.1', { creds });
    assert.equal(byName.status, 200);
    assert.equal(byName.body.key, reopened.key);
    await waitFor('a task to wait for the open circuit', async () => {
      for (const task of tasks) if (labelsOf(await getTimeline(server.client, creds, task.id)).includes('Circuit')) return true;
      return undefined;
    });

    down.delete('/flaky');
    for (const [i, task] of tasks.entries()) {
      const done = await waitForFinal(server.client, creds, task.id, { timeoutMs: 30_000 });
      assert.equal(done.state, 'COMPLETED');
      // Every attempt the task logs is a request the target received: waiting used none.
      const attempts = await attemptsOf(creds, task.id);
      assert.equal(attempts.length, target.requestsOn(`/flaky/${i + 1}`).length);
    }
    const waits = (await Promise.all(tasks.map((t) => getTimeline(server.client, creds, t.id))))
      .flat()
      .filter((e) => e.label === 'Circuit');
    assert.ok(waits.length > 0);
    for (const entry of waits) assert.match(entry.description, /using no attempt/);
    await waitFor('the circuit to close (no record left)', async () => ((await breakers(creds)).circuits.length === 0 ? true : undefined));
    assert.equal(receiver.requestsOn('/circuit').length, 1, 'one callback per opening; failed probes send none');

    const plainDone = await waitForFinal(server.client, other, plain.id);
    assert.equal(plainDone.state, 'ERROR');
    assert.ok(!labelsOf(await getTimeline(server.client, other, plain.id)).includes('Circuit'));
    assert.equal(target.requestsOn('/always/plain').length, 2, 'the first attempt and its one retry, as without breakers');
  });

  test('policy routes: off by default, checked, shown; a circuit is read by host name and reset; off forgets circuits', async () => {
    const creds = await register();
    const off = await server.client.request<ErrorBody>('GET', '/v1beta/breakers/policy', { creds });
    assert.equal(off.status, 404);
    assert.equal(off.body.code, 'BREAKERS_OFF');

    const bad = await server.client.request<ErrorBody>('PUT', '/v1beta/breakers/policy', {
      creds,
      body: { failureThreshold: 1, openMs: 5_000, maxOpenMs: 1_000, callbackUrl: 'ftp://example.com/x' },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'VALIDATION_FAILED');
    assert.deepEqual(bad.body.issues?.map((i) => i.field).sort(), ['callbackUrl', 'maxOpenMs']);

    const policy = { failureThreshold: 1, openMs: 60_000, maxOpenMs: 120_000 };
    assert.equal((await server.client.request('PUT', '/v1beta/breakers/policy', { creds, body: policy })).status, 200);
    const shown = await server.client.request('GET', '/v1beta/breakers/policy', { creds });
    assert.deepEqual(shown.body, { ...policy, callbackUrl: null });

    const task = await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/always/reset'), method: 'POST' },
      config: { retry: 5, retryInterval: 1_000 },
    });
    const open = await waitFor('the circuit to open after one failure', async () => {
      const circuit = await hostCircuit(creds);
      return circuit?.state === 'open' ? circuit : undefined;
    });
    assert.equal(open.failures, 1);
    // The task waits for the minute the circuit is open, with one attempt used.
    await waitFor('the task to wait for the circuit', async () =>
      labelsOf(await getTimeline(server.client, creds, task.id)).includes('Circuit') ? true : undefined,
    );
    assert.equal((await attemptsOf(creds, task.id)).length, 1);
    assert.equal(target.requestsOn('/always/reset').length, 1);

    const reset = await server.client.request('DELETE', '/v1beta/breakers/host/127.0.0.1', { creds });
    assert.equal(reset.status, 200, JSON.stringify(reset.body));
    assert.deepEqual((await breakers(creds)).circuits, []);
    const again = await server.client.request<ErrorBody>('DELETE', `/v1beta/breakers/host/${open.key}`, { creds });
    assert.equal(again.body.code, 'CIRCUIT_NOT_FOUND');

    const removed = await server.client.request('DELETE', '/v1beta/breakers/policy', { creds });
    assert.equal(removed.status, 200);
    assert.deepEqual(await breakers(creds), { policy: null, circuits: [] });
    assert.equal((await server.client.request('PATCH', `/v1beta/unsubscribe/${task.id}`, { creds })).status, 200);
  });

  test("a task with a flow key passes through its key's circuit too: its failures open both", async () => {
    const creds = await register();
    const policy = { failureThreshold: 1, openMs: 60_000, maxOpenMs: 120_000 };
    assert.equal((await server.client.request('PUT', '/v1beta/breakers/policy', { creds, body: policy })).status, 200);
    const task = await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/always/flow'), method: 'POST' },
      flowKey: 'payments',
      config: { retry: 5, retryInterval: 1_000 },
    });
    const flow = await waitFor('the flow key circuit to open after one failure', async () => {
      const circuit = (await breakers(creds)).circuits.find((c) => c.kind === 'flow');
      return circuit?.state === 'open' ? circuit : undefined;
    });
    assert.equal(flow.key, 'payments');
    assert.equal(flow.host, null);
    assert.equal((await hostCircuit(creds))?.state, 'open');
    const byKey = await server.client.request<CircuitView>('GET', '/v1beta/breakers/flow/payments', { creds });
    assert.equal(byKey.status, 200);
    assert.equal(byKey.body.failures, 1);
    // Reset the host's circuit: the flow key's still holds the task, with its one attempt used.
    assert.equal((await server.client.request('DELETE', '/v1beta/breakers/host/127.0.0.1', { creds })).status, 200);
    await waitFor('the task to wait for a circuit', async () =>
      labelsOf(await getTimeline(server.client, creds, task.id)).includes('Circuit') ? true : undefined,
    );
    assert.equal(target.requestsOn('/always/flow').length, 1);
    assert.equal((await server.client.request('PATCH', `/v1beta/unsubscribe/${task.id}`, { creds })).status, 200);
  });
});
