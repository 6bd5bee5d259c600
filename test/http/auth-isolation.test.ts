import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ErrorBody } from '../../src/core/shapes.js';
import { assertError, UNKNOWN_ID } from '../helpers/api-assertions.js';
import { type Credentials, authHeaders } from '../helpers/api-client.js';
import { activeCount, getTask, getTimeline, labelsOf, subscribeOk } from '../helpers/api-tasks.js';
import { TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';

/** Every /v1beta route but register, with the task id to put in its path. */
const ROUTES = (taskId: string): Array<{ method: string; path: string; body?: unknown }> => [
  { method: 'GET', path: '/v1beta/info' },
  {
    method: 'POST',
    path: '/v1beta/subscribe',
    body: { httpRequest: { url: 'http://127.0.0.1:9/x', method: 'POST' }, config: { executionDelay: '1h' } },
  },
  { method: 'GET', path: `/v1beta/queues/${taskId}` },
  { method: 'GET', path: `/v1beta/queues/${taskId}/timeline` },
  { method: 'PATCH', path: `/v1beta/pause/${taskId}` },
  { method: 'PATCH', path: `/v1beta/resume/${taskId}` },
  { method: 'PATCH', path: `/v1beta/unsubscribe/${taskId}` },
  { method: 'PATCH', path: `/v1beta/execute/${taskId}` },
  { method: 'PATCH', path: `/v1beta/reschedule/${taskId}`, body: { executionDelay: '1h' } },
  { method: 'DELETE', path: `/v1beta/queues/${taskId}` },
];

const TASK_ROUTES = (taskId: string): Array<{ method: string; path: string; body?: unknown }> =>
  ROUTES(taskId).filter((r) => r.path.includes(taskId));

describe('authentication and project isolation', () => {
  let server: TestServer;
  let target: TargetServer;
  let a: Credentials;
  let b: Credentials;
  let running: string;
  let paused: string;

  const later = (): unknown => ({
    httpRequest: { url: target.url('/never'), method: 'POST' },
    config: { executionDelay: '1h' },
  });

  before(async () => {
    server = await startTestServer();
    target = await TargetServer.start();
    a = await server.client.register();
    b = await server.client.register();
    running = (await subscribeOk(server.client, a, later())).id;
    paused = (await subscribeOk(server.client, a, later())).id;
    const res = await server.client.pause(a, paused);
    assert.equal(res.status, 200, JSON.stringify(res.body));
  });
  after(async () => {
    await server.close();
    await target.close();
  });

  const variants = (): Array<{ name: string; headers: Record<string, string> }> => [
    { name: 'no credentials', headers: {} },
    { name: 'authorization only', headers: { authorization: `Bearer ${a.token}` } },
    { name: 'project header only', headers: { 'x-kuueri-tasks-project': a.id } },
    { name: 'malformed token', headers: { authorization: 'Bearer abc', 'x-kuueri-tasks-project': a.id } },
    { name: 'empty bearer', headers: { authorization: 'Bearer ', 'x-kuueri-tasks-project': a.id } },
    { name: 'token without a scheme', headers: { authorization: a.token, 'x-kuueri-tasks-project': a.id } },
    {
      name: 'Basic scheme',
      headers: { authorization: `Basic ${Buffer.from(`${a.id}:${a.token}`).toString('base64')}`, 'x-kuueri-tasks-project': a.id },
    },
    {
      name: 'wrong but well-formed token',
      headers: { authorization: `Bearer kt_${'A'.repeat(43)}`, 'x-kuueri-tasks-project': a.id },
    },
    { name: "the other project's token", headers: { authorization: `Bearer ${b.token}`, 'x-kuueri-tasks-project': a.id } },
    { name: "a valid token with the other project's id", headers: { authorization: `Bearer ${a.token}`, 'x-kuueri-tasks-project': b.id } },
    { name: 'malformed project id', headers: { authorization: `Bearer ${a.token}`, 'x-kuueri-tasks-project': 'not-an-id' } },
    { name: 'unknown project id', headers: { authorization: `Bearer ${a.token}`, 'x-kuueri-tasks-project': UNKNOWN_ID } },
    { name: 'token with trailing garbage', headers: { authorization: `Bearer ${a.token} extra`, 'x-kuueri-tasks-project': a.id } },
  ];

  test('every route but register answers 401 UNAUTHORIZED with one and the same message for every credential problem', async () => {
    const messages = new Set<string>();
    let checked = 0;
    for (const route of ROUTES(running)) {
      for (const variant of variants()) {
        const res = await server.client.request(route.method, route.path, { headers: variant.headers, body: route.body });
        const body = assertError(res, 401, 'UNAUTHORIZED');
        messages.add(body.message);
        assert.ok(!body.message.includes(a.token) && !body.message.includes(b.id), `${route.method} ${route.path} (${variant.name}) leaks`);
        checked++;
      }
    }
    assert.equal(checked, ROUTES(running).length * variants().length);
    assert.equal(messages.size, 1, `messages differ: ${[...messages].join(' | ')}`);
  });

  test('credentials are checked before the id or the body: no 404 and no 400 leaks to a stranger', async () => {
    for (const route of TASK_ROUTES(UNKNOWN_ID)) {
      assertError(await server.client.request(route.method, route.path), 401, 'UNAUTHORIZED');
    }
    assertError(await server.client.request('GET', '/v1beta/queues/not-an-id'), 401, 'UNAUTHORIZED');
    assertError(await server.client.request('POST', '/v1beta/subscribe', { body: { nonsense: true } }), 401, 'UNAUTHORIZED');
    assertError(
      await server.client.request('POST', '/v1beta/subscribe', { rawBody: '{not json', headers: { 'content-type': 'application/json' } }),
      401,
      'UNAUTHORIZED',
    );
  });

  test('refused requests changed nothing: the tasks are as they were and nothing was subscribed', async () => {
    assert.equal((await getTask(server.client, a, running)).state, 'RUNNING');
    assert.deepEqual(labelsOf(await getTimeline(server.client, a, running)), ['Subscribe']);
    assert.equal((await getTask(server.client, a, paused)).state, 'PAUSED');
    assert.deepEqual(labelsOf(await getTimeline(server.client, a, paused)), ['Subscribe', 'Pause']);
    assert.equal(await activeCount(server.client, a), 2);
    assert.equal(await activeCount(server.client, b), 0);
  });

  test('the right credentials work on every route', async () => {
    const own = await subscribeOk(server.client, a, later());
    assert.equal((await server.client.task(a, own.id)).status, 200);
    assert.equal((await server.client.timeline(a, own.id)).status, 200);
    assert.equal((await server.client.pause(a, own.id)).status, 200);
    assert.equal((await server.client.resume(a, own.id)).status, 200);
    assert.equal((await server.client.unsubscribe(a, own.id)).status, 200);
    assert.equal((await server.client.remove(a, own.id)).status, 200);
    assert.equal((await server.client.info(a)).status, 200);
  });

  /** The answer with the id in it replaced, so answers for two ids can be compared. */
  const normalised = (body: unknown, id: string): unknown => JSON.parse(JSON.stringify(body).split(id).join('<id>')) as unknown;

  test("another project's task answers 404 on every task route, exactly as an unknown id does", async () => {
    for (const id of [running, paused]) {
      for (const [index, route] of TASK_ROUTES(id).entries()) {
        const theirs = await server.client.request(route.method, route.path, { creds: b, body: route.body });
        const unknownRoute = TASK_ROUTES(UNKNOWN_ID)[index]!;
        const unknown = await server.client.request(unknownRoute.method, unknownRoute.path, { creds: b, body: unknownRoute.body });
        assert.equal(theirs.status, 404, `${route.method} ${route.path}: ${JSON.stringify(theirs.body)}`);
        assert.equal((theirs.body as unknown as ErrorBody).code, 'TASK_NOT_FOUND');
        assert.deepEqual(normalised(theirs.body, id), normalised(unknown.body, UNKNOWN_ID), `${route.method} ${route.path}`);
        assert.equal(theirs.headers.get('content-type'), unknown.headers.get('content-type'));
      }
    }
    // ...and the owner's tasks were not touched.
    assert.equal((await getTask(server.client, a, running)).state, 'RUNNING');
    assert.deepEqual(labelsOf(await getTimeline(server.client, a, running)), ['Subscribe']);
    assert.equal((await getTask(server.client, a, paused)).state, 'PAUSED');
    assert.deepEqual(labelsOf(await getTimeline(server.client, a, paused)), ['Subscribe', 'Pause']);
    assert.equal(await activeCount(server.client, a), 2);
  });

  test('an unknown or malformed task id answers 404 TASK_NOT_FOUND on every task route', async () => {
    for (const id of [UNKNOWN_ID, 'abc', running.toLowerCase(), 'x'.repeat(300), '%20']) {
      for (const route of TASK_ROUTES(id)) {
        const res = await server.client.request(route.method, route.path, { creds: a, body: route.body });
        assert.equal(res.status, 404, `${route.method} ${route.path}: ${JSON.stringify(res.body)}`);
        assert.equal((res.body as unknown as ErrorBody).code, 'TASK_NOT_FOUND', `${route.method} ${route.path}`);
      }
    }
  });

  test('a task-not-found answer has exactly {statusCode, code, error, message}', async () => {
    for (const route of TASK_ROUTES(UNKNOWN_ID)) {
      assertError(await server.client.request(route.method, route.path, { creds: a, body: route.body }), 404, 'TASK_NOT_FOUND');
    }
  });

  test('the credential headers are not case-sensitive by name (HTTP header names never are)', async () => {
    const headers = Object.fromEntries(Object.entries(authHeaders(a)).map(([k, v]) => [k.toUpperCase(), v]));
    const res = await server.client.request('GET', '/v1beta/info', { headers });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  });
});
