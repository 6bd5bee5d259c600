import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Credentials } from '../helpers/api-client.js';
import { b64, getTimeline, labelsOf, subscribeOk, waitForState, waitForTask } from '../helpers/api-tasks.js';
import { attemptHeadersOf, type TargetAnswer, TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';

/**
 * The target answers by path: /status/<code> answers that status, /reset drops the connection,
 * /flaky/<name> answers 503 the first time and drops the connection after; anything else 200.
 */
function answerFor(url: string, seen: number): TargetAnswer {
  const path = url.split('?')[0]!;
  const status = /^\/status\/(\d{3})$/.exec(path);
  if (status) return { status: Number(status[1]) };
  if (path === '/reset') return { reset: true };
  if (path.startsWith('/flaky/')) return seen === 0 ? { status: 503 } : { reset: true };
  return { status: 200 };
}

describe('delivery: what the target receives and what the answer means', { concurrency: true }, () => {
  let server: TestServer;
  let target: TargetServer;
  let creds: Credentials;

  before(async () => {
    server = await startTestServer();
    target = await TargetServer.start((request) => {
      const path = request.url.split('?')[0]!;
      return answerFor(request.url, target.requestsOn(path).length - 1);
    });
    creds = await server.client.register();
  });
  after(async () => {
    await server.close();
    await target.close();
  });

  test('POST: method, path and params as query string, decoded body, user headers, User-Agent and attempt headers', async () => {
    const queued = await subscribeOk(server.client, creds, {
      httpRequest: {
        url: target.url('/post'),
        method: 'POST',
        data: b64('{"hello":"world"}'),
        params: { key: 'value', other: 'a b&c=d/é' },
        headers: { 'Content-Type': 'application/json', 'X-Custom': 'yes', Authorization: 'Bearer for-the-target' },
      },
    });
    const [received] = await target.waitForRequests(1, { path: '/post' });
    assert.equal(received!.method, 'POST');
    const url = new URL(received!.url, 'http://target');
    assert.equal(url.pathname, '/post');
    assert.deepEqual(
      [...url.searchParams.entries()],
      [
        ['key', 'value'],
        ['other', 'a b&c=d/é'],
      ],
    );
    assert.equal(received!.body.toString('utf8'), '{"hello":"world"}');
    assert.equal(received!.headers['content-type'], 'application/json');
    assert.equal(received!.headers['x-custom'], 'yes');
    assert.equal(received!.headers.authorization, 'Bearer for-the-target');
    assert.equal(received!.headers['user-agent'], 'Kuueri-Tasks');
    assert.deepEqual(attemptHeadersOf(received!), {
      queue: queued.id,
      retryCount: '0',
      currentlyRetry: 'false',
      repeatCount: '0',
      currentlyRepeat: 'false',
    });
    const done = await waitForState(server.client, creds, queued.id, 'COMPLETED');
    assert.equal(done.statusCode, 200);
    assert.equal(done.currentlyRetry, false);
    assert.equal(done.currentlyRepeat, false);
    assert.ok(done.estimateEndAt >= queued.estimateExecAt, JSON.stringify(done));
    assert.equal(done.updates.attempts, 1);
    assert.deepEqual(labelsOf(await getTimeline(server.client, creds, queued.id)), ['Subscribe', 'Complete']);
  });

  test('params are appended to a query string already in the url', async () => {
    await subscribeOk(server.client, creds, {
      httpRequest: { url: `${target.url('/query')}?fixed=1`, method: 'POST', params: { added: '2' } },
    });
    const [received] = await target.waitForRequests(1, { path: '/query' });
    const url = new URL(received!.url, 'http://target');
    assert.equal(url.searchParams.get('fixed'), '1');
    assert.equal(url.searchParams.get('added'), '2');
  });

  test('a binary body arrives byte for byte', async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await subscribeOk(server.client, creds, {
      httpRequest: {
        url: target.url('/binary'),
        method: 'PUT',
        data: bytes.toString('base64'),
        headers: { 'Content-Type': 'application/octet-stream' },
      },
    });
    const [received] = await target.waitForRequests(1, { path: '/binary' });
    assert.equal(received!.method, 'PUT');
    assert.ok(received!.body.equals(bytes), 'body differs');
  });

  test('PATCH carries its body', async () => {
    await subscribeOk(server.client, creds, { httpRequest: { url: target.url('/patch'), method: 'PATCH', data: b64('patched') } });
    const [received] = await target.waitForRequests(1, { path: '/patch' });
    assert.equal(received!.method, 'PATCH');
    assert.equal(received!.body.toString(), 'patched');
  });

  test('DELETE is sent without a body even when data was given', async () => {
    const queued = await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/delete'), method: 'DELETE', data: b64('must not be sent') },
    });
    const [received] = await target.waitForRequests(1, { path: '/delete' });
    assert.equal(received!.method, 'DELETE');
    assert.equal(received!.body.length, 0);
    assert.ok(!received!.headers['content-length'] || received!.headers['content-length'] === '0', JSON.stringify(received!.headers));
    assert.equal(received!.headers['x-kuueri-tasks-queue'], queued.id);
    assert.equal((await waitForState(server.client, creds, queued.id, 'COMPLETED')).statusCode, 200);
  });

  test('GET works', async () => {
    const queued = await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/get'), method: 'GET', params: { q: '1' }, headers: { Accept: 'text/plain' } },
    });
    const [received] = await target.waitForRequests(1, { path: '/get' });
    assert.equal(received!.method, 'GET');
    assert.equal(received!.url, '/get?q=1');
    assert.equal(received!.body.length, 0);
    assert.equal(received!.headers.accept, 'text/plain');
    assert.equal(received!.headers['user-agent'], 'Kuueri-Tasks');
    const done = await waitForState(server.client, creds, queued.id, 'COMPLETED');
    assert.equal(done.statusCode, 200);
  });

  test("the user's User-Agent is replaced by Kuueri-Tasks, whatever its case", async () => {
    await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/ua1'), method: 'POST', headers: { 'User-Agent': 'mine/1.0' } },
    });
    await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/ua2'), method: 'POST', headers: { 'user-agent': 'mine/2.0' } },
    });
    for (const path of ['/ua1', '/ua2']) {
      const [received] = await target.waitForRequests(1, { path });
      assert.equal(received!.headers['user-agent'], 'Kuueri-Tasks', path);
    }
  });

  test('every task tells the target its own id', async () => {
    const ids = await Promise.all(
      [1, 2, 3].map(
        async (n) => (await subscribeOk(server.client, creds, { httpRequest: { url: target.url(`/own/${n}`), method: 'POST' } })).id,
      ),
    );
    for (const [index, id] of ids.entries()) {
      const [received] = await target.waitForRequests(1, { path: `/own/${index + 1}` });
      assert.equal(received!.headers['x-kuueri-tasks-queue'], id);
    }
  });

  test('2xx answers other than 200 are successes and their status is kept', async () => {
    for (const status of [201, 202, 204, 299]) {
      const queued = await subscribeOk(server.client, creds, { httpRequest: { url: target.url(`/status/${status}`), method: 'POST' } });
      const done = await waitForState(server.client, creds, queued.id, 'COMPLETED');
      assert.equal(done.statusCode, status);
    }
  });

  test('a non-2xx answer is a failure: ERROR with that statusCode and a timeline entry saying so', async () => {
    for (const status of [400, 404, 409, 500, 503, 304]) {
      const queued = await subscribeOk(server.client, creds, { httpRequest: { url: target.url(`/status/${status}`), method: 'POST' } });
      const done = await waitForState(server.client, creds, queued.id, 'ERROR');
      assert.equal(done.statusCode, status);
      assert.ok(done.estimateEndAt > 0, JSON.stringify(done));
      assert.equal(done.currentlyRetry, false);
      const timeline = await getTimeline(server.client, creds, queued.id);
      assert.deepEqual(labelsOf(timeline), ['Subscribe', 'Error']);
      assert.match(timeline[1]!.description, new RegExp(String(status)));
    }
  });

  test('a connection dropped without an answer is a failure with statusCode 0', async () => {
    const queued = await subscribeOk(server.client, creds, { httpRequest: { url: target.url('/reset'), method: 'POST' } });
    const done = await waitForState(server.client, creds, queued.id, 'ERROR');
    assert.equal(done.statusCode, 0);
    const timeline = await getTimeline(server.client, creds, queued.id);
    assert.deepEqual(labelsOf(timeline), ['Subscribe', 'Error']);
    assert.ok(timeline[1]!.description.length > 0);
  });

  test('a refused connection is a failure with statusCode 0', async () => {
    const closed = await TargetServer.start();
    const url = closed.url('/gone');
    await closed.close();
    const queued = await subscribeOk(server.client, creds, { httpRequest: { url, method: 'POST' } });
    const done = await waitForState(server.client, creds, queued.id, 'ERROR');
    assert.equal(done.statusCode, 0);
    const timeline = await getTimeline(server.client, creds, queued.id);
    assert.match(timeline.at(-1)!.description, /refused|ECONNREFUSED/i);
  });

  test('statusCode keeps the last status seen: a 503 followed by a dropped connection ends with 503', async () => {
    const queued = await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/flaky/keep'), method: 'POST' },
      config: { retry: 1, retryInterval: 1000 },
    });
    const retrying = await waitForTask(server.client, creds, queued.id, (t) => t.currentlyRetry);
    assert.equal(retrying.state, 'RUNNING');
    assert.equal(retrying.statusCode, 503);
    const done = await waitForState(server.client, creds, queued.id, 'ERROR');
    assert.equal(target.requestsOn('/flaky/keep').length, 2);
    assert.equal(done.statusCode, 503);
    assert.deepEqual(labelsOf(await getTimeline(server.client, creds, queued.id)), ['Subscribe', 'Error', 'Retry', 'Error']);
  });
});
