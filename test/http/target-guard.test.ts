import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { after, before, describe, test } from 'node:test';
import { assertValidation } from '../helpers/api-assertions.js';
import { DnsServer } from '../helpers/dns-server.js';
import { freePort } from '../helpers/ports.js';
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
    assert.equal(done.updates.attempts, 0, 'nothing was sent: no attempt counted');
    const timeline = await getTimeline(server.client, creds, queued.id);
    assert.deepEqual(labelsOf(timeline), ['Subscribe', 'Error'], 'a refused target is not retried');
    assert.match(timeline[1]!.description, /evil\.test/);
    assert.match(timeline[1]!.description, /refused by the target policy/);
    assert.doesNotMatch(timeline[1]!.description, /127\.0\.0\.1|loopback/, 'the refusal names what the name resolved to');
    assert.equal(target.requestsOn('/evil').length, 0, 'the target received the request');
  });

  test('names resolving to several refused addresses, private or cloud-metadata addresses are refused at dispatch too, without saying where they point', async () => {
    for (const [name, addresses] of [
      ['both.test', /127\.0\.0\.1|::1|loopback/],
      ['private.test', /10\.0\.0\.1|private address/],
      ['metadata.test', /169\.254|link-local|cloud platform/],
    ] as const) {
      const queued = await subscribeOk(server.client, creds, {
        httpRequest: { url: `http://${name}:${target.port}/${name}`, method: 'POST' },
      });
      await waitForState(server.client, creds, queued.id, 'ERROR');
      const timeline = await getTimeline(server.client, creds, queued.id);
      assert.match(timeline.at(-1)!.description, /refused by the target policy/, name);
      assert.doesNotMatch(timeline.at(-1)!.description, addresses, name);
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

/**
 * Targets named with ports, and the deny list, with host names resolved by the server's own
 * resolver against a real DNS server on 127.0.0.1: `*.loop.test` resolves to 127.0.0.1,
 * `internal.test` to a private address.
 */
async function loopbackDns(): Promise<DnsServer> {
  return DnsServer.start((name) => {
    if (name.endsWith('.loop.test')) return { addresses: ['127.0.0.1'] };
    if (name === 'internal.test') return { addresses: ['10.20.30.40'] };
    return 'nxdomain';
  });
}

describe('an allow entry with a port (TASKS_ALLOW_TARGETS=127.0.0.1:PORT) allows that port only', { concurrency: true }, () => {
  let dns: DnsServer;
  let target: TargetServer;
  let other: TargetServer;
  let server: TestServer;
  let creds: Credentials;

  before(async () => {
    dns = await loopbackDns();
    target = await TargetServer.start();
    // Another service on the same address, as Redis on 6379 would be.
    other = await TargetServer.start();
    server = await startTestServer({ env: { TASKS_ALLOW_TARGETS: `127.0.0.1:${target.port}`, TASKS_DNS_SERVERS: dns.address } });
    creds = await server.client.register();
  });
  after(async () => {
    await server.close();
    await target.close();
    await other.close();
    await dns.close();
  });

  test('the allowed port is reached, by address and by a name resolved through DNS', async () => {
    const literal = await subscribeOk(server.client, creds, { httpRequest: { url: target.url('/literal'), method: 'POST' } });
    const named = await subscribeOk(server.client, creds, {
      httpRequest: { url: `http://hooks.loop.test:${target.port}/named`, method: 'POST' },
    });
    await waitForState(server.client, creds, literal.id, 'COMPLETED');
    await waitForState(server.client, creds, named.id, 'COMPLETED');
    assert.equal(target.requestsOn('/named')[0]!.headers.host, `hooks.loop.test:${target.port}`);
    assert.ok(dns.namesAsked().includes('hooks.loop.test'), 'the name was resolved by the DNS server');
  });

  test('localhost is answered from the hosts file, not asked of DNS (c-ares does not read it)', async () => {
    const queued = await subscribeOk(server.client, creds, {
      httpRequest: { url: `http://localhost:${target.port}/localhost`, method: 'POST' },
    });
    await waitForState(server.client, creds, queued.id, 'COMPLETED');
    assert.equal(target.requestsOn('/localhost').length, 1);
    assert.ok(!dns.namesAsked().includes('localhost'), 'localhost was asked of DNS');
  });

  test('another port on the same address is refused: at subscribe by address, at dispatch by name', async () => {
    assertValidation(await server.client.subscribe(creds, { httpRequest: { url: other.url('/literal'), method: 'POST' } }), [
      'httpRequest.url',
    ]);
    const named = await subscribeOk(server.client, creds, {
      httpRequest: { url: `http://redis.loop.test:${other.port}/named`, method: 'POST' },
    });
    const done = await waitForState(server.client, creds, named.id, 'ERROR');
    assert.equal(done.statusCode, 0);
    const description = (await getTimeline(server.client, creds, named.id)).at(-1)!.description;
    assert.match(description, /refused by the target policy: redis\.loop\.test/);
    assert.doesNotMatch(description, /127\.0\.0\.1/, 'the refusal names the resolved address');
    assert.equal(other.requests.length, 0);
  });
});

describe('the deny list beats the allow list, and holds the server itself (loopback allowed)', { concurrency: true }, () => {
  let dns: DnsServer;
  let target: TargetServer;
  let denied: TargetServer;
  let ownPort: number;
  let server: TestServer;
  let creds: Credentials;

  before(async () => {
    dns = await loopbackDns();
    target = await TargetServer.start();
    denied = await TargetServer.start();
    ownPort = await freePort();
    server = await startTestServer({
      env: {
        PORT: String(ownPort),
        // Every port of loopback, the server's own named explicitly: neither opens the server to its tasks.
        TASKS_ALLOW_TARGETS: `127.0.0.0/8, 127.0.0.1:${ownPort}, hooks.loop.test`,
        TASKS_DENY_TARGETS: `127.0.0.1:${denied.port}`,
        TASKS_DNS_SERVERS: dns.address,
      },
    });
    creds = await server.client.register();
  });
  after(async () => {
    await server.close();
    await target.close();
    await denied.close();
    await dns.close();
  });

  test("the server's own port is refused by default, while another port on the same address is allowed", async () => {
    for (const host of [`127.0.0.1:${ownPort}`, `localhost:${ownPort}`, `[::ffff:127.0.0.1]:${ownPort}`]) {
      const issues = assertValidation(
        await server.client.subscribe(creds, { httpRequest: { url: `http://${host}/v1beta/register`, method: 'POST' } }),
        ['httpRequest.url'],
      );
      assert.match(issues[0]!.message, /own address/, host);
    }
    // By name, the refusal comes at dispatch: had it been sent, the server would have answered 404.
    const named = await subscribeOk(server.client, creds, {
      httpRequest: { url: `http://self.loop.test:${ownPort}/nothing`, method: 'GET' },
    });
    const done = await waitForState(server.client, creds, named.id, 'ERROR');
    assert.equal(done.statusCode, 0, 'the request reached the server itself');
    assert.match((await getTimeline(server.client, creds, named.id)).at(-1)!.description, /refused by the target policy/);

    const other = await subscribeOk(server.client, creds, { httpRequest: { url: target.url('/other-port'), method: 'POST' } });
    await waitForState(server.client, creds, other.id, 'COMPLETED');
  });

  test('a deny entry beats an allow entry: by address at subscribe, and for a name exempted by the allow list', async () => {
    const issues = assertValidation(
      await server.client.subscribe(creds, { httpRequest: { url: denied.url('/literal'), method: 'POST' } }),
      ['httpRequest.url'],
    );
    assert.match(issues[0]!.message, new RegExp(`127\\.0\\.0\\.1:${denied.port} is refused by TASKS_DENY_TARGETS`));
    const named = await subscribeOk(server.client, creds, {
      httpRequest: { url: `http://hooks.loop.test:${denied.port}/named`, method: 'POST' },
    });
    await waitForState(server.client, creds, named.id, 'ERROR');
    const description = (await getTimeline(server.client, creds, named.id)).at(-1)!.description;
    assert.match(description, /refused by the target policy: hooks\.loop\.test/);
    assert.doesNotMatch(description, /127\.0\.0\.1/);
    assert.equal(denied.requests.length, 0);

    const allowed = await subscribeOk(server.client, creds, {
      httpRequest: { url: `http://hooks.loop.test:${target.port}/named`, method: 'POST' },
    });
    await waitForState(server.client, creds, allowed.id, 'COMPLETED');
  });

  test("a refusal's timeline text holds no resolved address", async () => {
    const queued = await subscribeOk(server.client, creds, { httpRequest: { url: 'http://internal.test/probe', method: 'GET' } });
    await waitForState(server.client, creds, queued.id, 'ERROR');
    const timeline = await getTimeline(server.client, creds, queued.id);
    const text = JSON.stringify(timeline);
    assert.match(timeline.at(-1)!.description, /refused by the target policy: internal\.test/);
    assert.doesNotMatch(text, /10\.20\.30\.40|private/, 'the timeline says where internal.test points');
  });
});
