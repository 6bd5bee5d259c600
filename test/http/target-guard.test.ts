import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { after, before, describe, test } from 'node:test';
import { assertValidation } from '../helpers/api-assertions.js';
import type { Credentials } from '../helpers/api-client.js';
import { activeCount, getTimeline, labelsOf, subscribeOk, waitForState } from '../helpers/api-tasks.js';
import { TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';

/** Stands in for DNS: every name here resolves to the given addresses; anything else is unknown. */
function resolverFor(table: Record<string, LookupAddress[]>): (hostname: string) => Promise<LookupAddress[]> {
  return async (hostname) => {
    const found = table[hostname.toLowerCase()];
    if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return found;
  };
}

const LOOPBACK: LookupAddress[] = [{ address: '127.0.0.1', family: 4 }];

describe('target guard with nothing exempt (TASKS_ALLOW_TARGETS empty)', { concurrency: true }, () => {
  let server: TestServer;
  let target: TargetServer;
  let creds: Credentials;

  before(async () => {
    server = await startTestServer({
      env: { TASKS_ALLOW_TARGETS: '' },
      overrides: {
        resolver: resolverFor({
          'evil.test': LOOPBACK,
          'both.test': [
            { address: '127.0.0.1', family: 4 },
            { address: '::1', family: 6 },
          ],
          'private.test': [{ address: '10.0.0.1', family: 4 }],
          'metadata.test': [{ address: '169.254.169.254', family: 4 }],
        }),
      },
    });
    target = await TargetServer.start();
    creds = await server.client.register();
  });
  after(async () => {
    await server.close();
    await target.close();
  });

  test('a literal loopback, private or link-local target is refused at subscribe with 400 naming httpRequest.url', async () => {
    const hosts = [
      '127.0.0.1',
      'localhost',
      '127.1',
      '[::1]',
      '10.0.0.1',
      '169.254.169.254',
      '127.0.0.2',
      'LOCALHOST',
      'localhost.',
      'api.localhost',
      '0.0.0.0',
      '192.168.1.1',
      '172.16.0.1',
      '100.64.0.1',
      '[::ffff:127.0.0.1]',
      '2130706433',
      '0x7f000001',
      '[fe80::1]',
      '[fc00::1]',
      '[::]',
      '224.0.0.1',
      '255.255.255.255',
    ];
    // A project of its own: tests running beside this one add and finish tasks in theirs.
    const own = await server.client.register();
    const before = await activeCount(server.client, own);
    const failures: string[] = [];
    for (const host of hosts) {
      const res = await server.client.subscribe(own, { httpRequest: { url: `http://${host}:${target.port}/hook`, method: 'POST' } });
      try {
        const issues = assertValidation(res, ['httpRequest.url'], true);
        assert.match(issues[0]!.message, /refused|not allowed|loopback|private/i);
      } catch (error) {
        failures.push(`${host}: ${(error as Error).message.split('\n')[0]}`);
      }
    }
    assert.deepEqual(failures, []);
    assert.equal(await activeCount(server.client, own), before, 'a refused target was stored');
    assert.equal(target.requests.length, 0);
  });

  test('https targets are judged the same way', async () => {
    const res = await server.client.subscribe(creds, { httpRequest: { url: 'https://127.0.0.1/hook', method: 'POST' } });
    assertValidation(res, ['httpRequest.url']);
  });

  test('a host name that resolves to loopback is refused at dispatch: ERROR, the timeline says why, nothing is sent, no retry', async () => {
    const queued = await subscribeOk(server.client, creds, {
      httpRequest: { url: `http://evil.test:${target.port}/evil`, method: 'POST' },
      config: { retry: 3, retryInterval: 1000 },
    });
    const done = await waitForState(server.client, creds, queued.id, 'ERROR');
    assert.equal(done.statusCode, 0);
    assert.ok(done.estimateEndAt > 0);
    const timeline = await getTimeline(server.client, creds, queued.id);
    assert.deepEqual(labelsOf(timeline), ['Subscribe', 'Error'], 'a refused target is not retried');
    assert.match(timeline[1]!.description, /evil\.test/);
    assert.match(timeline[1]!.description, /refused|loopback/i);
    assert.equal(target.requestsOn('/evil').length, 0, 'the target received the request');
  });

  test('names resolving to several refused addresses, private or cloud-metadata addresses are refused at dispatch too', async () => {
    for (const [name, why] of [
      ['both.test', /loopback/],
      ['private.test', /private/],
      ['metadata.test', /link-local|metadata/],
    ] as const) {
      const queued = await subscribeOk(server.client, creds, {
        httpRequest: { url: `http://${name}:${target.port}/${name}`, method: 'POST' },
      });
      await waitForState(server.client, creds, queued.id, 'ERROR');
      const timeline = await getTimeline(server.client, creds, queued.id);
      assert.match(timeline.at(-1)!.description, why, name);
      assert.equal(target.requestsOn(`/${name}`).length, 0);
    }
  });

  test('a host name that does not resolve is a failure with statusCode 0', async () => {
    const queued = await subscribeOk(server.client, creds, { httpRequest: { url: 'http://nowhere.test/hook', method: 'POST' } });
    const done = await waitForState(server.client, creds, queued.id, 'ERROR');
    assert.equal(done.statusCode, 0);
    const timeline = await getTimeline(server.client, creds, queued.id);
    assert.match(timeline.at(-1)!.description, /not found|ENOTFOUND/i);
  });
});

describe('target guard with a host name exempt (TASKS_ALLOW_TARGETS=target.test)', { concurrency: true }, () => {
  let server: TestServer;
  let target: TargetServer;
  let landing: TargetServer;
  let creds: Credentials;

  before(async () => {
    server = await startTestServer({
      env: { TASKS_ALLOW_TARGETS: 'target.test' },
      overrides: { resolver: resolverFor({ 'target.test': LOOPBACK, 'sub.target.test': LOOPBACK }) },
    });
    landing = await TargetServer.start();
    target = await TargetServer.start((request) => {
      const path = request.url.split('?')[0]!;
      if (path === '/redirect') return { status: 302, headers: { location: `http://target.test:${landing.port}/landing` } };
      if (path === '/hang') return { hang: true };
      return { status: 200 };
    });
    creds = await server.client.register();
  });
  after(async () => {
    await server.close();
    await target.close();
    await landing.close();
  });

  test('the exempt name is delivered even though it resolves to loopback', async () => {
    const queued = await subscribeOk(server.client, creds, {
      httpRequest: { url: `http://target.test:${target.port}/allowed`, method: 'POST' },
    });
    const [received] = await target.waitForRequests(1, { path: '/allowed' });
    assert.equal(received!.headers.host, `target.test:${target.port}`);
    assert.equal(received!.headers['x-kuueri-tasks-queue'], queued.id);
    assert.equal((await waitForState(server.client, creds, queued.id, 'COMPLETED')).statusCode, 200);
  });

  test('exempting a name exempts neither the literal address nor other names', async () => {
    assertValidation(
      await server.client.subscribe(creds, { httpRequest: { url: `http://127.0.0.1:${target.port}/literal`, method: 'POST' } }),
      ['httpRequest.url'],
    );
    const queued = await subscribeOk(server.client, creds, {
      httpRequest: { url: `http://sub.target.test:${target.port}/sub`, method: 'POST' },
    });
    await waitForState(server.client, creds, queued.id, 'ERROR');
    assert.equal(target.requestsOn('/sub').length, 0);
  });

  test('a 302 redirect is not followed: the task fails with statusCode 302 and the second target receives nothing', async () => {
    const queued = await subscribeOk(server.client, creds, {
      httpRequest: { url: `http://target.test:${target.port}/redirect`, method: 'POST' },
    });
    const done = await waitForState(server.client, creds, queued.id, 'ERROR');
    assert.equal(target.requestsOn('/redirect').length, 1);
    assert.equal(done.statusCode, 302);
    assert.equal(landing.requests.length, 0, 'the redirect was followed');
    assert.match((await getTimeline(server.client, creds, queued.id)).at(-1)!.description, /302/);
  });

  test('a target that never answers fails after config.timeout with statusCode 0 and a timeline entry saying timeout', async () => {
    const queued = await subscribeOk(server.client, creds, {
      httpRequest: { url: `http://target.test:${target.port}/hang`, method: 'POST' },
      config: { timeout: '200ms' },
    });
    await target.waitForRequests(1, { path: '/hang' });
    const done = await waitForState(server.client, creds, queued.id, 'ERROR');
    assert.equal(done.statusCode, 0);
    assert.equal(done.config.timeout, 200);
    const timeline = await getTimeline(server.client, creds, queued.id);
    assert.deepEqual(labelsOf(timeline), ['Subscribe', 'Error']);
    assert.match(timeline[1]!.description, /time(d)? ?out/i);
  });
});
