import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { assertError, assertValidation, ID_PATTERN } from '../helpers/api-assertions.js';
import { activeCount } from '../helpers/api-tasks.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';

let counter = 0;
const email = (tag: string): string => `${tag}.${++counter}.${process.pid}.${Date.now()}@example.com`;

describe('POST /v1beta/register and GET /v1beta/info', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  test('register answers 201 with exactly {id, token, signingSecret}', async () => {
    const res = await server.client.request('POST', '/v1beta/register', { body: { email: email('fresh') } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(Object.keys(res.body).sort(), ['id', 'signingSecret', 'token']);
    assert.match(res.body.signingSecret as string, /^whsec_/);
    assert.match(res.body.id as string, ID_PATTERN);
    assert.equal(typeof res.body.token, 'string');
    assert.ok((res.body.token as string).length >= 32, 'the token is long enough to be a secret');
    assert.notEqual(res.body.token, res.body.id);
  });

  test('two registrations get different ids and tokens', async () => {
    const a = await server.client.register(email('a'));
    const b = await server.client.register(email('b'));
    assert.notEqual(a.id, b.id);
    assert.notEqual(a.token, b.token);
  });

  test('the token works: info answers the project', async () => {
    const address = email('info');
    const before = Date.now();
    const creds = await server.client.register(address);
    const after = Date.now();
    const res = await server.client.info(creds);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(Object.keys(res.body).sort(), ['as', 'createdAt', 'email', 'taskInQueue', 'taskInQueueLimit']);
    assert.equal(res.body.email, address);
    assert.equal(typeof res.body.createdAt, 'number');
    assert.ok((res.body.createdAt as number) >= before - 1000 && (res.body.createdAt as number) <= after + 1000, JSON.stringify(res.body));
    assert.equal(res.body.taskInQueue, 0);
    assert.equal(res.body.taskInQueueLimit, 1000);
    assert.equal(res.body.as, 'DEV');
  });

  test('info never shows the token or a hash of it', async () => {
    const creds = await server.client.register(email('secret'));
    const res = await server.client.info(creds);
    assert.equal(res.status, 200);
    const text = JSON.stringify(res.body);
    assert.ok(!text.includes(creds.token), 'token in info');
    for (const key of Object.keys(res.body)) assert.doesNotMatch(key, /token|hash|secret|password/i);
    // No long hex/base64 blob that could be a hash either.
    for (const value of Object.values(res.body)) {
      if (typeof value === 'string') assert.doesNotMatch(value, /^[A-Za-z0-9+/_=-]{32,}$/, `suspicious value ${value}`);
    }
  });

  test('a malformed email answers 400 VALIDATION_FAILED naming email', async () => {
    for (const bad of ['not-an-email', 'a@b', '@example.com', 'user@', 'two@@example.com', 'sp ace@example.com', 'a..b@example.com', '']) {
      const res = await server.client.request('POST', '/v1beta/register', { body: { email: bad } });
      assertValidation(res, ['email']);
    }
  });

  test('a missing email, a wrong type or an unknown field answers 400', async () => {
    assertValidation(await server.client.request('POST', '/v1beta/register', { body: {} }), ['email']);
    assertValidation(await server.client.request('POST', '/v1beta/register', { body: { email: 42 } }), ['email']);
    assertValidation(await server.client.request('POST', '/v1beta/register', { body: { email: email('extra'), admin: true } }), ['admin']);
  });

  test('an email already registered answers 409 EMAIL_TAKEN, compared case-insensitively', async () => {
    const address = email('dup');
    await server.client.register(address);
    const same = await server.client.request('POST', '/v1beta/register', { body: { email: address } });
    assertError(same, 409, 'EMAIL_TAKEN');
    const upper = await server.client.request('POST', '/v1beta/register', { body: { email: address.toUpperCase() } });
    assertError(upper, 409, 'EMAIL_TAKEN');
    const mixed = address.replace(/^./, (c) => c.toUpperCase()).replace('example.com', 'Example.COM');
    assertError(await server.client.request('POST', '/v1beta/register', { body: { email: mixed } }), 409, 'EMAIL_TAKEN');
  });

  test('register does not need credentials and ignores wrong ones', async () => {
    const res = await server.client.request('POST', '/v1beta/register', {
      body: { email: email('nocreds') },
      headers: { authorization: 'Bearer nonsense', 'x-kuueri-tasks-project': 'nonsense' },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  });

  test('register with malformed JSON answers 400 INVALID_JSON, with another content type 415', async () => {
    assertError(
      await server.client.request('POST', '/v1beta/register', { rawBody: '{"email": ', headers: { 'content-type': 'application/json' } }),
      400,
      'INVALID_JSON',
    );
    assertError(
      await server.client.request('POST', '/v1beta/register', {
        rawBody: 'email=a@example.com',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
  });

  test('a new project has nothing in queue', async () => {
    const creds = await server.client.register(email('empty'));
    assert.equal(await activeCount(server.client, creds), 0);
  });

  test('GET /healthz answers 200 without credentials', async () => {
    const res = await server.client.request('GET', '/healthz');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, 'ok');
  });

  test('GET / answers a small index without credentials: name, version, the API base and links that answer', async () => {
    const res = await server.client.request<{ links: Record<string, string> }>('GET', '/');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    // The API docs, and the web app (npm run build makes it before the tests run).
    assert.deepEqual(res.body, {
      name: 'Kuueri Tasks',
      version,
      api: '/v1beta',
      links: { health: '/healthz', openapi: '/v1beta/openapi.json', docs: '/docs', app: '/dashboard' },
    });
    for (const [name, path] of Object.entries(res.body.links)) {
      assert.equal((await server.client.request('GET', path)).status, 200, `the ${name} link answers`);
    }
  });

  test('an unknown route answers 404 NOT_FOUND with the error shape, with or without credentials', async () => {
    assertError(await server.client.request('GET', '/v1beta/nothing-here'), 404, 'NOT_FOUND');
    assertError(await server.client.request('GET', '/nothing-here'), 404, 'NOT_FOUND');
    assertError(await server.client.request('POST', '/v1beta/info'), 404, 'NOT_FOUND');
    const creds = await server.client.register(email('404'));
    assertError(await server.client.request('DELETE', '/v1beta/queues', { creds }), 404, 'NOT_FOUND');
    assertError(await server.client.request('PUT', '/v1beta/subscribe', { creds }), 404, 'NOT_FOUND');
  });
});

describe('GET /v1beta/info in production', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { TASKS_LEVEL: 'PRODUCTION', TASKS_QUEUE_LIMIT: '7' } });
  });
  after(async () => {
    await server.close();
  });

  test('a project registered in production is GUEST, and taskInQueueLimit follows the configured limit', async () => {
    const creds = await server.client.register(email('prod'));
    const res = await server.client.info(creds);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.as, 'GUEST');
    assert.equal(res.body.taskInQueueLimit, 7);
  });
});
