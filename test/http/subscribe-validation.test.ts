import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertError, assertQueued, assertValidation } from '../helpers/api-assertions.js';
import type { Credentials } from '../helpers/api-client.js';
import { activeCount, b64, getTask, subscribeOk } from '../helpers/api-tasks.js';
import { TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';

type Json = Record<string, unknown>;

describe('POST /v1beta/subscribe: answer, defaults and validation', () => {
  let server: TestServer;
  let target: TargetServer;
  let creds: Credentials;

  before(async () => {
    server = await startTestServer();
    target = await TargetServer.start();
    creds = await server.client.register();
  });
  after(async () => {
    await server.close();
    await target.close();
  });

  /** A valid body that runs in an hour, with `request` and `config` merged in. */
  const body = (request: Json = {}, config: Json | undefined = {}): Json => ({
    httpRequest: { url: target.url('/hook'), method: 'POST', ...request },
    ...(config === undefined ? {} : { config: { executionDelay: '1h', ...config } }),
  });

  const subscribe = (payload: unknown): ReturnType<TestServer['client']['subscribe']> => server.client.subscribe(creds, payload);

  test('201 with exactly the queued shape; estimateExecAt = estimateStartAt + executionDelay', async () => {
    const before = Date.now();
    const res = await subscribe(body({}, { executionDelay: 60_000 }));
    const after = Date.now();
    const queued = assertQueued(res, 201);
    assert.ok(queued.estimateStartAt >= before && queued.estimateStartAt <= after, JSON.stringify(queued));
    assert.equal(queued.estimateExecAt, queued.estimateStartAt + 60_000);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  });

  test('each subscribe gets its own id', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) ids.add((await subscribeOk(server.client, creds, body())).id);
    assert.equal(ids.size, 5);
  });

  test('without config every default is visible in GET /v1beta/queues/:id', async () => {
    const queued = await subscribeOk(server.client, creds, { httpRequest: { url: target.url('/defaults'), method: 'POST' } });
    assert.equal(queued.estimateExecAt - queued.estimateStartAt, 1, 'default delay is 1 ms');
    const task = await getTask(server.client, creds, queued.id);
    assert.deepEqual(task.config, {
      executionDelay: 1,
      executionAt: 0,
      retry: 0,
      retryInterval: 1000,
      retryExponential: true,
      retryAt: 0,
      repeat: 0,
      repeatInterval: 1000,
      repeatExponential: true,
      repeatAt: 0,
      timeout: 300000,
      callback: null,
    });
    assert.equal(task.id, queued.id);
    assert.equal(task.estimateStartAt, queued.estimateStartAt);
  });

  test('GET shows the task fields, config, updates, tags and target, and nothing of the stored request or lease', async () => {
    const queued = await subscribeOk(server.client, creds, body({ headers: { Authorization: 'Bearer target-secret' } }));
    const res = await server.client.task(creds, queued.id);
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(res.body).sort(), [
      'config',
      'currentlyRepeat',
      'currentlyRetry',
      'estimateEndAt',
      'estimateExecAt',
      'estimateStartAt',
      'flowKey',
      'id',
      'state',
      'statusCode',
      'tags',
      'target',
      'updates',
    ]);
    const task = res.body as unknown as { updates: Json };
    assert.deepEqual(task.updates, {
      retryCount: 0,
      retryLimit: 0,
      repeatCount: 0,
      repeatLimit: 0,
      estimateNextRetryAt: 0,
      estimateNextRepeatAt: 0,
      attempts: 0,
      pausedTimeLeft: 0,
    });
    assert.ok(!JSON.stringify(res.body).includes('target-secret'), 'the request headers are not echoed');
  });

  test('duration strings and integers become milliseconds in config', async () => {
    const queued = await subscribeOk(
      server.client,
      creds,
      body(
        {},
        {
          executionDelay: '10s',
          retry: 2,
          retryInterval: '1m',
          repeat: 1,
          repeatInterval: '2d',
          timeout: '500ms',
        },
      ),
    );
    assert.equal(queued.estimateExecAt, queued.estimateStartAt + 10_000);
    const task = await getTask(server.client, creds, queued.id);
    assert.equal(task.config.executionDelay, 10_000);
    assert.equal(task.config.retryInterval, 60_000);
    assert.equal(task.config.repeatInterval, 172_800_000);
    assert.equal(task.config.timeout, 500);
    assert.equal(task.config.retry, 2);
    assert.equal(task.config.repeat, 1);

    const more = await subscribeOk(
      server.client,
      creds,
      body({}, { executionDelay: '1h', retryInterval: '1.5s', repeatInterval: 2500, timeout: '2000' }),
    );
    const task2 = await getTask(server.client, creds, more.id);
    assert.equal(task2.config.executionDelay, 3_600_000);
    assert.equal(task2.config.retryInterval, 1500);
    assert.equal(task2.config.repeatInterval, 2500);
    assert.equal(task2.config.timeout, 2000);
    assert.equal(more.estimateExecAt, more.estimateStartAt + 3_600_000);
  });

  test('executionAt wins over executionDelay', async () => {
    const at = Date.now() + 2 * 3_600_000;
    const queued = await subscribeOk(server.client, creds, body({}, { executionDelay: '10s', executionAt: at }));
    assert.equal(queued.estimateExecAt, at);
    const task = await getTask(server.client, creds, queued.id);
    assert.equal(task.config.executionAt, at);
    assert.equal(task.estimateExecAt, at);
  });

  test('retryAt implies retry = 1 and repeatAt implies repeat = 1', async () => {
    const first = Date.now() + 3_600_000;
    const queued = await subscribeOk(
      server.client,
      creds,
      body({}, { executionAt: first, retryAt: first + 60_000, repeatAt: first + 120_000 }),
    );
    const task = await getTask(server.client, creds, queued.id);
    assert.equal(task.config.retryAt, first + 60_000);
    assert.equal(task.config.retry, 1);
    assert.equal(task.config.repeatAt, first + 120_000);
    assert.equal(task.config.repeat, 1);
    assert.equal(task.updates.retryLimit, 1);
    assert.equal(task.updates.repeatLimit, 1);
    // retry: 1 given explicitly alongside retryAt is fine too.
    await subscribeOk(server.client, creds, body({}, { executionAt: first, retryAt: first + 1000, retry: 1 }));
  });

  test('boundary values are accepted', async () => {
    const okCases: Array<[string, Json]> = [
      ['repeat 16', body({}, { repeat: 16 })],
      ['retry 0, repeat 0', body({}, { retry: 0, repeat: 0 })],
      ['timeout 1 ms', body({}, { timeout: 1 })],
      ['timeout 10m', body({}, { timeout: '10m' })],
      ['timeout 600000', body({}, { timeout: 600000 })],
      ['intervals 1000', body({}, { retryInterval: 1000, repeatInterval: '1s' })],
      ['executionDelay 1', body({}, { executionDelay: 1 })],
      ['exponential flags false', body({}, { retryExponential: false, repeatExponential: false })],
      ['https url', body({ url: 'https://example.com/hook?x=1' })],
      ['every method', body({ method: 'PUT' })],
      ['PATCH', body({ method: 'PATCH' })],
      ['DELETE with data', body({ method: 'DELETE', data: b64('ignored') })],
      ['GET', body({ method: 'GET' })],
      ['header value of 1024 chars', body({ headers: { 'X-Long': 'v'.repeat(1024) } })],
      ['header name of 64 chars', body({ headers: { ['X'.repeat(64)]: 'v' } })],
      ['64 headers', body({ headers: Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`X-H${i}`, String(i)])) })],
      ['param value of 1024 chars', body({ params: { k: 'v'.repeat(1024) } })],
      ['param name of 64 chars', body({ params: { ['p'.repeat(64)]: 'v' } })],
      ['empty header value', body({ headers: { 'X-Empty': '' } })],
      ['tab in a header value', body({ headers: { 'X-Tab': 'a\tb' } })],
      ['data with padding', body({ data: b64('hello') })],
      ['empty params and headers', body({ params: {}, headers: {} })],
      ['empty config', body({}, undefined)],
    ];
    for (const [name, payload] of okCases) {
      const res = await subscribe(payload);
      assert.equal(res.status, 201, `${name}: ${JSON.stringify(res.body)}`);
    }
  });

  const refusals = (): Array<[string, unknown, string[]]> => [
    // unknown fields
    ['unknown top-level field', { ...body(), extra: 1 }, ['extra']],
    ['unknown httpRequest field', body({ body: 'x' }), ['httpRequest.body']],
    ['unknown config field', body({}, { retryCount: 1 }), ['config.retryCount']],
    // required
    ['no httpRequest', { config: { retry: 1 } }, ['httpRequest']],
    ['no url', { httpRequest: { method: 'POST' } }, ['httpRequest.url']],
    ['no method', { httpRequest: { url: target.url() } }, ['httpRequest.method']],
    // wrong types
    ['body is an array', [], ['body']],
    ['httpRequest is a string', { httpRequest: 'http://example.com' }, ['httpRequest']],
    ['config is an array', { ...body(), config: [] }, ['config']],
    ['config is null', { ...body(), config: null }, ['config']],
    ['url is a number', body({ url: 42 }), ['httpRequest.url']],
    ['retry is a string', body({}, { retry: '3' }), ['config.retry']],
    ['retry is fractional', body({}, { retry: 1.5 }), ['config.retry']],
    ['repeat is a boolean', body({}, { repeat: true }), ['config.repeat']],
    ['retryExponential is a string', body({}, { retryExponential: 'true' }), ['config.retryExponential']],
    ['repeatExponential is a number', body({}, { repeatExponential: 1 }), ['config.repeatExponential']],
    ['executionDelay is a boolean', body({}, { executionDelay: true }), ['config.executionDelay']],
    ['executionDelay is fractional ms', body({}, { executionDelay: 1.5 }), ['config.executionDelay']],
    ['executionAt is a date string', body({}, { executionAt: '2030-01-01T00:00:00Z' }), ['config.executionAt']],
    ['timeout is an object', body({}, { timeout: { ms: 5 } }), ['config.timeout']],
    ['param value is a number', body({ params: { a: 1 } }), ['httpRequest.params.a']],
    ['params is an array', body({ params: ['a'] }), ['httpRequest.params']],
    ['header value is a number', body({ headers: { 'X-N': 1 } }), ['httpRequest.headers.X-N']],
    ['headers is a string', body({ headers: 'X-A: 1' }), ['httpRequest.headers']],
    ['data is a number', body({ data: 123 }), ['httpRequest.data']],
    // out of range
    ['retry -1', body({}, { retry: -1 }), ['config.retry']],
    ['repeat 17', body({}, { repeat: 17 }), ['config.repeat']],
    ['repeat -1', body({}, { repeat: -1 }), ['config.repeat']],
    ['retryInterval 999', body({}, { retryInterval: 999 }), ['config.retryInterval']],
    ['retryInterval "999ms"', body({}, { retryInterval: '999ms' }), ['config.retryInterval']],
    ['repeatInterval "0s"', body({}, { repeatInterval: '0s' }), ['config.repeatInterval']],
    ['timeout 0', body({}, { timeout: 0 }), ['config.timeout']],
    ['timeout 600001', body({}, { timeout: 600_001 }), ['config.timeout']],
    ['timeout "11m"', body({}, { timeout: '11m' }), ['config.timeout']],
    ['executionDelay 0', body({}, { executionDelay: 0 }), ['config.executionDelay']],
    ['executionDelay -5', body({}, { executionDelay: -5 }), ['config.executionDelay']],
    ['executionDelay "10x"', body({}, { executionDelay: '10x' }), ['config.executionDelay']],
    ['executionDelay "-5s"', body({}, { executionDelay: '-5s' }), ['config.executionDelay']],
    ['executionDelay ""', body({}, { executionDelay: '' }), ['config.executionDelay']],
    ['executionDelay "10 s"', body({}, { executionDelay: '10 s' }), ['config.executionDelay']],
    ['executionAt in the past', body({}, { executionAt: Date.now() - 60_000 }), ['config.executionAt']],
    ['executionAt negative', body({}, { executionAt: -1 }), ['config.executionAt']],
    ['executionAt more than a year ahead', body({}, { executionAt: Date.now() + 400 * 86_400_000 }), ['config.executionAt']],
    ['retryAt before the first execution', body({}, { executionDelay: '1h', retryAt: Date.now() + 60_000 }), ['config.retryAt']],
    ['repeatAt in the past', body({}, { repeatAt: Date.now() - 1000 }), ['config.repeatAt']],
    ['retryAt with retry 2', body({}, { executionDelay: 1, retryAt: Date.now() + 3_600_000, retry: 2 }), ['config.retry']],
    ['repeatAt with repeat 3', body({}, { executionDelay: 1, repeatAt: Date.now() + 3_600_000, repeat: 3 }), ['config.repeat']],
    // url
    ['ftp url', body({ url: 'ftp://example.com/file' }), ['httpRequest.url']],
    ['javascript url', body({ url: 'javascript:alert(1)' }), ['httpRequest.url']],
    ['file url', body({ url: 'file:///etc/passwd' }), ['httpRequest.url']],
    ['url without scheme', body({ url: 'example.com/hook' }), ['httpRequest.url']],
    ['relative url', body({ url: '/hook' }), ['httpRequest.url']],
    ['empty url', body({ url: '' }), ['httpRequest.url']],
    ['url with credentials', body({ url: 'http://user:pass@example.com/hook' }), ['httpRequest.url']],
    ['url too long', body({ url: `https://example.com/${'a'.repeat(2100)}` }), ['httpRequest.url']],
    // method
    ['lower-case method', body({ method: 'post' }), ['httpRequest.method']],
    ['HEAD', body({ method: 'HEAD' }), ['httpRequest.method']],
    ['OPTIONS', body({ method: 'OPTIONS' }), ['httpRequest.method']],
    ['CONNECT', body({ method: 'CONNECT' }), ['httpRequest.method']],
    ['TRACE', body({ method: 'TRACE' }), ['httpRequest.method']],
    ['empty method', body({ method: '' }), ['httpRequest.method']],
    // header names and values
    ['header name with a space', body({ headers: { 'Bad Header': 'v' } }), ['httpRequest.headers']],
    ['header name with an underscore', body({ headers: { X_Under: 'v' } }), ['httpRequest.headers']],
    ['header name with a colon', body({ headers: { 'X-A:': 'v' } }), ['httpRequest.headers']],
    ['header name of 65 chars', body({ headers: { ['X'.repeat(65)]: 'v' } }), ['httpRequest.headers']],
    ['65 headers', body({ headers: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`X-H${i}`, 'v'])) }), ['httpRequest.headers']],
    ['header value with CR LF', body({ headers: { 'X-Evil': 'a\r\nInjected: yes' } }), ['httpRequest.headers.X-Evil']],
    ['header value with LF', body({ headers: { 'X-Evil': 'a\nb' } }), ['httpRequest.headers.X-Evil']],
    ['header value with NUL', body({ headers: { 'X-Evil': 'a\u0000b' } }), ['httpRequest.headers.X-Evil']],
    ['header value beyond Latin-1', body({ headers: { 'X-Euro': '€' } }), ['httpRequest.headers.X-Euro']],
    ['header value of 1025 chars', body({ headers: { 'X-Long': 'v'.repeat(1025) } }), ['httpRequest.headers.X-Long']],
    // forbidden and reserved headers
    ['Host header', body({ headers: { Host: 'example.com' } }), ['httpRequest.headers.Host']],
    ['Content-Length header', body({ headers: { 'Content-Length': '5' } }), ['httpRequest.headers.Content-Length']],
    ['Transfer-Encoding header', body({ headers: { 'transfer-encoding': 'chunked' } }), ['httpRequest.headers.transfer-encoding']],
    ['Connection header', body({ headers: { Connection: 'close' } }), ['httpRequest.headers.Connection']],
    ['Upgrade header', body({ headers: { Upgrade: 'websocket' } }), ['httpRequest.headers.Upgrade']],
    ['Expect header', body({ headers: { Expect: '100-continue' } }), ['httpRequest.headers.Expect']],
    ['X-Kuueri-Tasks-Queue header', body({ headers: { 'X-Kuueri-Tasks-Queue': 'forged' } }), ['httpRequest.headers.X-Kuueri-Tasks-Queue']],
    [
      'x-kuueri-tasks-retry-count header',
      body({ headers: { 'x-kuueri-tasks-retry-count': '9' } }),
      ['httpRequest.headers.x-kuueri-tasks-retry-count'],
    ],
    ['the same header twice in two cases', body({ headers: { 'X-Dup': 'a', 'x-dup': 'b' } }), ['httpRequest.headers.x-dup']],
    // params
    ['param name with a dash', body({ params: { 'a-b': 'v' } }), ['httpRequest.params']],
    ['param name with a space', body({ params: { 'a b': 'v' } }), ['httpRequest.params']],
    ['param name of 65 chars', body({ params: { ['p'.repeat(65)]: 'v' } }), ['httpRequest.params']],
    ['param value of 1025 chars', body({ params: { k: 'v'.repeat(1025) } }), ['httpRequest.params.k']],
    ['65 params', body({ params: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`p${i}`, 'v'])) }), ['httpRequest.params']],
    // data
    ['data that is not base64', body({ data: '***not base64***' }), ['httpRequest.data']],
    ['data of impossible base64 length', body({ data: 'abcde' }), ['httpRequest.data']],
    ['empty data', body({ data: '' }), ['httpRequest.data']],
  ];

  test('every refused body answers 400 VALIDATION_FAILED naming the field, in message and issues', async () => {
    const failures: string[] = [];
    for (const [name, payload, fields] of refusals()) {
      const res = await subscribe(payload);
      try {
        assertValidation(res, fields);
      } catch (error) {
        failures.push(`${name}: ${(error as Error).message.split('\n')[0]}`);
      }
    }
    assert.deepEqual(failures, []);
  });

  test('tags: kept as given, shown by GET /v1beta/queues/:id with the target (method and URL, nothing else)', async () => {
    const payload = {
      ...body({ method: 'PUT', headers: { Authorization: 'Bearer TAG-TEST-SECRET' }, data: b64('TAG-TEST-BODY') }),
      tags: ['billing', 'eu-1', 'a.b:c_d-e'],
    };
    const queued = await subscribeOk(server.client, creds, payload);
    const task = await getTask(server.client, creds, queued.id);
    assert.deepEqual(task.tags, ['billing', 'eu-1', 'a.b:c_d-e']);
    assert.deepEqual(task.target, { method: 'PUT', url: target.url('/hook') });
    assert.ok(!JSON.stringify(task).includes('TAG-TEST'), 'no header or body in the view');
    const untagged = await getTask(server.client, creds, (await subscribeOk(server.client, creds, body())).id);
    assert.deepEqual(untagged.tags, []);
  });

  test('tags: at most 10, unique, each 1-40 characters of the tag pattern; every problem named', async () => {
    const eleven = Array.from({ length: 11 }, (_, i) => `t${i}`);
    assertValidation(await subscribe({ ...body(), tags: eleven }), ['tags'], true);
    assertValidation(await subscribe({ ...body(), tags: ['same', 'same'] }), ['tags'], true);
    const issues = assertValidation(
      await subscribe({ ...body(), tags: ['ok', '-starts-with-dash', 'has space', 'x'.repeat(41), '', 'a,b'] }),
      ['tags.1', 'tags.2', 'tags.3', 'tags.4', 'tags.5'],
      true,
    );
    assert.match(issues[0]!.message, /^a tag is 1-40 characters/);
    assertValidation(await subscribe({ ...body(), tags: 'billing' }), ['tags'], true);
    assertValidation(await subscribe({ ...body(), tags: [7] }), ['tags.0'], true);
  });

  test('a wrong type says what the field holds: data a base64 string, executionAt/retryAt/repeatAt epoch milliseconds', async () => {
    const res = await subscribe(
      body(
        { data: { hello: 'world' } },
        { executionAt: '2030-01-01T00:00:00Z', retryAt: '2030-01-01T00:00:00Z', repeatAt: new Date(Date.now() + 60_000).toString() },
      ),
    );
    const issues = assertValidation(res, ['httpRequest.data', 'config.executionAt', 'config.retryAt', 'config.repeatAt']);
    const messages = Object.fromEntries(issues.map((i) => [i.field, i.message]));
    assert.match(messages['httpRequest.data']!, /^must be a base64 string/);
    for (const field of ['config.executionAt', 'config.retryAt', 'config.repeatAt']) {
      assert.match(messages[field]!, /^must be an integer of epoch milliseconds/, field);
    }
  });

  test('several problems are reported together, one issue per field', async () => {
    const res = await subscribe({
      httpRequest: { url: target.url(), method: 'HEAD', unknown: true },
      config: { retry: -1, repeat: 99, retryExponential: 'yes' },
    });
    const issues = assertValidation(res, [
      'httpRequest.method',
      'httpRequest.unknown',
      'config.retry',
      'config.repeat',
      'config.retryExponential',
    ]);
    for (const issue of issues) assert.ok(issue.message.length > 0);
  });

  test('semantic problems are reported together too', async () => {
    const res = await subscribe(
      body({ url: 'ftp://example.com/', headers: { Host: 'x' } }, { timeout: 0, retryInterval: 5, executionAt: 1 }),
    );
    assertValidation(res, ['httpRequest.url', 'httpRequest.headers.Host', 'config.timeout', 'config.retryInterval', 'config.executionAt']);
  });

  test('malformed JSON answers 400 INVALID_JSON', async () => {
    for (const raw of ['{"httpRequest":', '{httpRequest: {}}', "{'a': 1}", '{"a": 1,}', 'nul']) {
      const res = await server.client.request('POST', '/v1beta/subscribe', {
        creds,
        rawBody: raw,
        headers: { 'content-type': 'application/json' },
      });
      assertError(res, 400, 'INVALID_JSON');
    }
  });

  test('a body that sets __proto__ is refused, not parsed', async () => {
    const raw = `{"httpRequest": {"url": "${target.url()}", "method": "POST"}, "__proto__": {"polluted": true}}`;
    const res = await server.client.request('POST', '/v1beta/subscribe', {
      creds,
      rawBody: raw,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(({} as Json).polluted, undefined);
  });

  test('an empty body answers 400', async () => {
    const res = await server.client.request('POST', '/v1beta/subscribe', {
      creds,
      rawBody: '',
      headers: { 'content-type': 'application/json' },
    });
    const body = res.body as unknown as { code: string };
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.ok(['VALIDATION_FAILED', 'INVALID_JSON'].includes(body.code), JSON.stringify(res.body));
    const none = await server.client.request('POST', '/v1beta/subscribe', { creds });
    assert.equal(none.status, 400, JSON.stringify(none.body));
  });

  test('a non-JSON content type answers 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const json = JSON.stringify(body());
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
      const res = await server.client.request('POST', '/v1beta/subscribe', { creds, rawBody: json, headers: { 'content-type': type } });
      assertError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
    }
    // fetch sends text/plain when no type is given
    assertError(await server.client.request('POST', '/v1beta/subscribe', { creds, rawBody: json }), 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  test('application/json with a charset parameter is accepted', async () => {
    const res = await server.client.request('POST', '/v1beta/subscribe', {
      creds,
      rawBody: JSON.stringify(body()),
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    assertQueued(res, 201);
  });

  test('nothing is stored after a refused subscribe: taskInQueue is unchanged', async () => {
    const own = await server.client.register();
    await subscribeOk(server.client, own, body());
    assert.equal(await activeCount(server.client, own), 1);
    for (const [, payload] of refusals()) await server.client.subscribe(own, payload);
    await server.client.request('POST', '/v1beta/subscribe', {
      creds: own,
      rawBody: '{"x":',
      headers: { 'content-type': 'application/json' },
    });
    await server.client.request('POST', '/v1beta/subscribe', {
      creds: own,
      rawBody: JSON.stringify(body()),
      headers: { 'content-type': 'text/plain' },
    });
    assert.equal(await activeCount(server.client, own), 1);
  });
});
