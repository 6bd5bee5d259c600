import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitForState } from '../helpers/api-tasks.js';
import { TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';

describe('smoke: register, subscribe, delivery', () => {
  let server: TestServer;
  let target: TargetServer;
  before(async () => {
    server = await startTestServer();
    target = await TargetServer.start();
  });
  after(async () => {
    await server.close();
    await target.close();
  });

  test('a subscribed task reaches the target with its body, params and headers', async () => {
    const creds = await server.client.register();
    const res = await server.client.subscribe(creds, {
      httpRequest: {
        url: target.url('/hook'),
        method: 'POST',
        data: Buffer.from('{"hello":"world"}').toString('base64'),
        params: { key: 'value' },
        headers: { 'Content-Type': 'application/json', 'X-Custom': 'yes' },
      },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const [received] = await target.waitForRequests(1);
    assert.equal(received!.method, 'POST');
    assert.equal(received!.url, '/hook?key=value');
    assert.equal(received!.body.toString(), '{"hello":"world"}');
    assert.equal(received!.headers['user-agent'], 'Kuueri-Tasks');
    assert.equal(received!.headers['x-custom'], 'yes');
    assert.equal(received!.headers['x-kuueri-tasks-queue'], res.body.id);
    const done = await waitForState(server.client, creds, res.body.id as string, 'COMPLETED');
    assert.equal(done.statusCode, 200);
  });
});
