import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertError } from '../helpers/api-assertions.js';
import type { Credentials } from '../helpers/api-client.js';
import { activeCount, b64, subscribeOk, waitForState } from '../helpers/api-tasks.js';
import { TargetServer } from '../helpers/target-server.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';

describe('queue limit (TASKS_QUEUE_LIMIT=2)', { concurrency: true }, () => {
  let server: TestServer;
  let target: TargetServer;

  before(async () => {
    server = await startTestServer({ env: { TASKS_QUEUE_LIMIT: '2' } });
    target = await TargetServer.start((request) => ({ status: request.url.startsWith('/fail') ? 500 : 200 }));
  });
  after(async () => {
    await server.close();
    await target.close();
  });

  const later = (): unknown => ({ httpRequest: { url: target.url('/later'), method: 'POST' }, config: { executionDelay: '1h' } });

  test('info shows the limit; the third subscribe answers 429 QUEUE_FULL and stores nothing; a cancelled task frees a slot', async () => {
    const creds = await server.client.register();
    const info = await server.client.info(creds);
    assert.equal(info.body.taskInQueueLimit, 2);
    const first = await subscribeOk(server.client, creds, later());
    await subscribeOk(server.client, creds, later());
    assert.equal(await activeCount(server.client, creds), 2);

    assertError(await server.client.subscribe(creds, later()), 429, 'QUEUE_FULL');
    assertError(await server.client.subscribe(creds, later()), 429, 'QUEUE_FULL');
    assert.equal(await activeCount(server.client, creds), 2);

    assert.equal((await server.client.unsubscribe(creds, first.id)).status, 200);
    assert.equal(await activeCount(server.client, creds), 1);
    await subscribeOk(server.client, creds, later());
    assertError(await server.client.subscribe(creds, later()), 429, 'QUEUE_FULL');
    assert.equal(await activeCount(server.client, creds), 2);
  });

  test('a paused task still holds its slot; deleting it frees the slot', async () => {
    const creds = await server.client.register();
    const a = await subscribeOk(server.client, creds, later());
    await subscribeOk(server.client, creds, later());
    assert.equal((await server.client.pause(creds, a.id)).status, 200);
    assertError(await server.client.subscribe(creds, later()), 429, 'QUEUE_FULL');
    assert.equal((await server.client.remove(creds, a.id)).status, 200);
    assert.equal(await activeCount(server.client, creds), 1);
    await subscribeOk(server.client, creds, later());
  });

  test('a completed task frees its slot', async () => {
    const creds = await server.client.register();
    await subscribeOk(server.client, creds, later());
    const quick = await subscribeOk(server.client, creds, {
      httpRequest: { url: target.url('/quick'), method: 'POST' },
      config: { executionDelay: '2s' },
    });
    assertError(await server.client.subscribe(creds, later()), 429, 'QUEUE_FULL');
    await waitForState(server.client, creds, quick.id, 'COMPLETED');
    assert.equal(await activeCount(server.client, creds), 1);
    await subscribeOk(server.client, creds, later());
  });

  test('a task that ended in ERROR frees its slot', async () => {
    const creds = await server.client.register();
    await subscribeOk(server.client, creds, later());
    const failing = await subscribeOk(server.client, creds, { httpRequest: { url: target.url('/fail'), method: 'POST' } });
    await waitForState(server.client, creds, failing.id, 'ERROR');
    assert.equal(await activeCount(server.client, creds), 1);
    await subscribeOk(server.client, creds, later());
  });

  test('the limit is per project', async () => {
    const full = await server.client.register();
    const other = await server.client.register();
    await subscribeOk(server.client, full, later());
    await subscribeOk(server.client, full, later());
    assertError(await server.client.subscribe(full, later()), 429, 'QUEUE_FULL');
    await subscribeOk(server.client, other, later());
    await subscribeOk(server.client, other, later());
  });

  test('concurrent subscribes never go past the limit', async () => {
    const creds = await server.client.register();
    const answers = await Promise.all(Array.from({ length: 8 }, () => server.client.subscribe(creds, later())));
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [201, 201, 429, 429, 429, 429, 429, 429]);
    assert.equal(await activeCount(server.client, creds), 2);
  });
});

describe('request body limit (TASKS_MAX_BODY_LENGTH=2048)', () => {
  let server: TestServer;
  let creds: Credentials;

  before(async () => {
    server = await startTestServer({ env: { TASKS_MAX_BODY_LENGTH: '2048' } });
    creds = await server.client.register();
  });
  after(async () => {
    await server.close();
  });

  const withData = (bytes: number): unknown => ({
    httpRequest: { url: 'http://127.0.0.1:9/hook', method: 'POST', data: b64('x'.repeat(bytes)) },
    config: { executionDelay: '1h' },
  });

  test('a subscribe body past the limit answers 413 BODY_TOO_LARGE and stores nothing', async () => {
    const big = JSON.stringify(withData(3000));
    assert.ok(big.length > 2048);
    const res = await server.client.subscribe(creds, withData(3000));
    assertError(res, 413, 'BODY_TOO_LARGE');
    assert.equal(await activeCount(server.client, creds), 0);
  });

  test('a body just under the limit is accepted', async () => {
    const payload = withData(1200);
    assert.ok(JSON.stringify(payload).length < 2048);
    await subscribeOk(server.client, creds, payload);
    assert.equal(await activeCount(server.client, creds), 1);
  });

  test('register refuses a body past the limit with 413 too', async () => {
    const res = await server.client.request('POST', '/v1beta/register', {
      rawBody: JSON.stringify({ email: `${'a'.repeat(3000)}@example.com` }),
      headers: { 'content-type': 'application/json' },
    });
    assertError(res, 413, 'BODY_TOO_LARGE');
  });
});

describe('throttling per project (TASKS_THROTTLE_LIMIT=5)', () => {
  const dir = makeTempDir('throttle');
  let server: TestServer;
  let creds: Credentials;
  let otherCreds: Credentials;

  before(async () => {
    // Projects are registered on an unthrottled server first, so the throttled one starts counting at zero.
    const setup = await startTestServer({ dir });
    creds = await setup.client.register();
    otherCreds = await setup.client.register();
    await setup.close();
    server = await startTestServer({ dir, env: { TASKS_THROTTLE_LIMIT: '5' } });
  });
  after(async () => {
    await server.close();
    removeDir(dir);
  });

  test('/healthz is never throttled and does not count', async () => {
    for (let i = 0; i < 12; i++) assert.equal((await server.client.request('GET', '/healthz')).status, 200);
  });

  test('five requests of a project pass, its sixth answers 429 RATE_LIMITED on every route; another project from the same address is served', async () => {
    const seen: number[] = [];
    seen.push((await server.client.info(creds)).status);
    const queued = await server.client.subscribe(creds, {
      httpRequest: { url: 'http://127.0.0.1:9/x', method: 'POST' },
      config: { executionDelay: '1h' },
    });
    seen.push(queued.status);
    const id = queued.body.id as string;
    seen.push((await server.client.task(creds, id)).status);
    seen.push((await server.client.timeline(creds, id)).status);
    seen.push((await server.client.info(creds)).status);
    assert.deepEqual(seen, [200, 201, 200, 200, 200]);

    assertError(await server.client.info(creds), 429, 'RATE_LIMITED');
    assertError(await server.client.pause(creds, id), 429, 'RATE_LIMITED');
    assertError(
      await server.client.subscribe(creds, { httpRequest: { url: 'http://127.0.0.1:9/x', method: 'POST' } }),
      429,
      'RATE_LIMITED',
    );
    assert.equal((await server.client.info(otherCreds)).status, 200, 'the other project has its own count');
    assert.equal((await server.client.request('GET', '/healthz')).status, 200);
  });
});

describe('the throttles show their figures (TASKS_THROTTLE_LIMIT=3, TASKS_REGISTER_LIMIT=4)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { TASKS_THROTTLE_LIMIT: '3', TASKS_REGISTER_LIMIT: '4' } });
  });
  after(async () => {
    await server.close();
  });

  test('x-ratelimit-* on every counted answer (a registration by address, the rest by project), retry-after once past the limit', async () => {
    const figures = (r: { status: number; headers: Headers }): string =>
      [
        r.status,
        r.headers.get('x-ratelimit-limit'),
        r.headers.get('x-ratelimit-remaining'),
        r.headers.has('retry-after') ? 'retry-after' : '',
      ].join(' ');
    const health = await server.client.request('GET', '/healthz');
    assert.equal(health.headers.get('x-ratelimit-limit'), null, '/healthz is not counted and shows no figures');
    const registered = await server.client.request('POST', '/v1beta/register', { body: { email: `figures.${Date.now()}@example.com` } });
    const creds = { id: String(registered.body.id), token: String(registered.body.token) };
    const answers = [
      registered,
      await server.client.request('GET', '/v1beta/no-such-route'),
      await server.client.request('GET', '/v1beta/info'),
      await server.client.info(creds),
      await server.client.info(creds),
      await server.client.info(creds),
      await server.client.info(creds),
    ];
    // register counts against its own throttle; an unknown route and a request without credentials
    // belong to no project (failed authentications have a limit of their own).
    assert.deepEqual(answers.map(figures), ['201 4 3 ', '404   ', '401   ', '200 3 2 ', '200 3 1 ', '200 3 0 ', '429 3 0 retry-after']);
    const refused = answers[6]!;
    assertError(refused, 429, 'RATE_LIMITED');
    assert.match(String(refused.body.message), /this project/);
    const reset = Number(refused.headers.get('x-ratelimit-reset'));
    assert.ok(reset > 86_000 && reset <= 86_400, `x-ratelimit-reset ${reset}: the rest of a one-day window`);
    assert.equal(refused.headers.get('retry-after'), String(reset), 'retry-after says the same');
  });
});

describe('by default a project is not throttled (TASKS_THROTTLE_LIMIT unset)', () => {
  let server: TestServer;
  before(async () => {
    // An empty value is "not set": the default applies, as on a server started with no configuration.
    server = await startTestServer({ env: { TASKS_THROTTLE_LIMIT: '' } });
  });
  after(async () => {
    await server.close();
  });

  test("one client making more requests than the seed's 1,000 a day is served every time, without rate-limit headers", async () => {
    const creds = await server.client.register();
    const statuses = new Map<number, number>();
    let withFigures = 0;
    for (let i = 0; i < 1_100; i++) {
      const answer = await server.client.info(creds);
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      if (answer.headers.has('x-ratelimit-limit')) withFigures++;
    }
    assert.deepEqual([...statuses], [[200, 1_100]]);
    assert.equal(withFigures, 0);
  });
});

describe('repeated failed authentications block the address, but not a valid token (TASKS_AUTH_FAILURE_LIMIT=3)', () => {
  let server: TestServer;
  let creds: Credentials;
  let unseen: Credentials;
  before(async () => {
    server = await startTestServer({ env: { TASKS_AUTH_FAILURE_LIMIT: '3', TASKS_TRUST_PROXY: '127.0.0.1' } });
    creds = await server.client.register();
    unseen = await server.client.register();
  });
  after(async () => {
    await server.close();
  });

  test('after three failures the address answers 429 to failures; the working client beside it is still served', async () => {
    const neighbour = '203.0.113.7';
    const bad = { authorization: `Bearer kt_${'C'.repeat(43)}`, 'x-kuueri-tasks-project': creds.id, 'x-forwarded-for': neighbour };
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await server.client.request('GET', '/v1beta/info', { headers: bad })).status);
    assert.deepEqual(statuses, [401, 401, 401, 429]);
    const refused = await server.client.request('GET', '/v1beta/info', { headers: bad });
    assertError(refused, 429, 'RATE_LIMITED');
    assert.match(String(refused.body.message), /failed authentications/);
    const good = await server.client.request('GET', '/v1beta/info', { creds, headers: { 'x-forwarded-for': neighbour } });
    assert.equal(good.status, 200, JSON.stringify(good.body));
    // A project this server has not yet read would cost a store read: it waits out the block.
    assertError(
      await server.client.request('GET', '/v1beta/info', { creds: unseen, headers: { 'x-forwarded-for': neighbour } }),
      429,
      'RATE_LIMITED',
    );
    const elsewhere = await server.client.request('GET', '/v1beta/info', { creds: unseen, headers: { 'x-forwarded-for': '203.0.113.8' } });
    assert.equal(elsewhere.status, 200);
  });
});

describe('registration limit (TASKS_REGISTER_LIMIT=2)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { TASKS_REGISTER_LIMIT: '2' } });
  });
  after(async () => {
    await server.close();
  });

  test('the third registration from the client answers 429 RATE_LIMITED; other routes are not affected', async () => {
    const a = await server.client.register();
    await server.client.register();
    const third = await server.client.request('POST', '/v1beta/register', { body: { email: `third.${Date.now()}@example.com` } });
    assertError(third, 429, 'RATE_LIMITED');
    const fourth = await server.client.request('POST', '/v1beta/register', { body: { email: `fourth.${Date.now()}@example.com` } });
    assertError(fourth, 429, 'RATE_LIMITED');
    assert.equal((await server.client.info(a)).status, 200);
    assert.equal((await server.client.request('GET', '/healthz')).status, 200);
  });
});
