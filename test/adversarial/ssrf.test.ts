import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Credentials } from '../helpers/api-client.js';
import { b64, waitForFinal } from '../helpers/api-tasks.js';
import { DnsServer } from '../helpers/dns-server.js';
import { TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';

/**
 * The target guard against server-side request forgery. A test resolver stands in for DNS (the
 * server's own lookup is the one replaced, so the connection still goes through the guard).
 */
async function listenOn(host: string, port = 0): Promise<{ server: Server; port: number; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    res.end('ok');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return { server, port: (server.address() as AddressInfo).port, hits };
}

/**
 * Waits for each task to end ERROR after a single attempt (a refused target is not retried), with a
 * timeline saying the target policy refused it; answers those last timeline descriptions.
 */
async function refusedAtDispatch(server: TestServer, creds: Credentials, ids: readonly string[]): Promise<string[]> {
  const descriptions: string[] = [];
  for (const id of ids) {
    const task = await waitForFinal(server.client, creds, id);
    assert.equal(task.state, 'ERROR', JSON.stringify(task));
    assert.equal(task.statusCode, 0);
    assert.equal(task.updates.attempts, 0, 'nothing was sent: no attempt counted');
    assert.equal(task.updates.retryCount, 0, 'a refused target is not retried');
    const description = (await server.client.timeline(creds, id)).body.at(-1)!.description;
    assert.match(description, /refused by the target policy/);
    descriptions.push(description);
  }
  return descriptions;
}

describe('with nothing exempt, no request reaches 127.0.0.1 however it is written', () => {
  let server: TestServer;
  let target: TargetServer;
  let creds: Credentials;
  const answers = new Map<string, LookupAddress[]>([
    ['evil.test', [{ address: '127.0.0.1', family: 4 }]],
    ['mapped.test', [{ address: '::ffff:127.0.0.1', family: 6 }]],
    ['zero.test', [{ address: '0.0.0.0', family: 4 }]],
    ['metadata.test', [{ address: '169.254.169.254', family: 4 }]],
    [
      'private.test',
      [
        { address: '10.1.2.3', family: 4 },
        { address: '192.168.0.10', family: 4 },
      ],
    ],
    ['ula.test', [{ address: 'fd00::1', family: 6 }]],
  ]);

  before(async () => {
    target = await TargetServer.start();
    server = await startTestServer({
      env: { TASKS_ALLOW_TARGETS: '' },
      overrides: { resolver: async (host) => answers.get(host) ?? [] },
    });
    creds = await server.client.register();
  });
  after(async () => {
    await server.close();
    await target.close();
  });

  test('literal spellings are refused at subscribe with 400 naming httpRequest.url', async () => {
    const port = target.port;
    const hosts = [
      `localhost:${port}`,
      `LOCALHOST.:${port}`,
      `app.localhost:${port}`,
      `127.1:${port}`,
      `0x7f000001:${port}`,
      `2130706433:${port}`,
      `0177.0.0.1:${port}`,
      `0.0.0.0:${port}`,
      `[::1]:${port}`,
      `[::ffff:127.0.0.1]:${port}`,
      `[::127.0.0.1]:${port}`,
      '169.254.169.254',
      '10.0.0.1',
      '192.168.1.1',
      '172.16.0.1',
      '100.64.0.1',
      '[fd00::1]',
      '[fe80::1]',
    ];
    for (const host of hosts) {
      const res = await server.client.subscribe(creds, { httpRequest: { url: `http://${host}/steal`, method: 'POST' } });
      assert.equal(res.status, 400, `${host}: ${JSON.stringify(res.body)}`);
      assert.match(String(res.body.message), /httpRequest\.url/, host);
    }
    assert.equal(target.requests.length, 0);
  });

  test('a host name resolving to a refused address is refused at dispatch: the task ends ERROR and nothing is sent', async () => {
    const ids: string[] = [];
    for (const host of answers.keys()) {
      const res = await server.client.subscribe(creds, {
        httpRequest: { url: `http://${host}:${target.port}/steal`, method: 'POST' },
        config: { retry: 2 },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      ids.push(res.body.id as string);
    }
    for (const description of await refusedAtDispatch(server, creds, ids)) {
      // What a name resolves to stays out of the timeline: it would map the internal DNS.
      assert.doesNotMatch(description, /127\.0\.0\.1|0\.0\.0\.0|169\.254|10\.1\.2\.3|192\.168|fd00|loopback|private address/);
    }
    assert.equal(target.requests.length, 0, 'no request reached the target');
  });
});

describe('the connection goes to the address that was checked', () => {
  let server: TestServer;
  let creds: Credentials;
  let allowed: Awaited<ReturnType<typeof listenOn>>;
  let forbidden: Awaited<ReturnType<typeof listenOn>>;
  let lookups = 0;

  before(async () => {
    allowed = await listenOn('127.0.0.2');
    // The same port on a refused address: a connection that went there would be seen.
    forbidden = await listenOn('127.0.0.1', allowed.port);
    server = await startTestServer({
      // Only the address 127.0.0.2 is exempt, not names and not 127.0.0.1.
      env: { TASKS_ALLOW_TARGETS: '127.0.0.2' },
      overrides: {
        resolver: async (host) => {
          if (host !== 'rebind.test') return [];
          lookups++;
          // A rebinding resolver: refused addresses around the allowed one, in changing order.
          return lookups % 2
            ? [
                { address: '127.0.0.1', family: 4 },
                { address: '127.0.0.2', family: 4 },
              ]
            : [
                { address: '127.0.0.2', family: 4 },
                { address: '10.0.0.5', family: 4 },
              ];
        },
      },
    });
    creds = await server.client.register();
  });
  after(async () => {
    await server.close();
    await new Promise((resolve) => allowed.server.close(resolve));
    await new Promise((resolve) => forbidden.server.close(resolve));
  });

  test('among resolved addresses only an allowed one is connected to, though the refused one listens on the same port', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await server.client.subscribe(creds, {
        httpRequest: { url: `http://rebind.test:${allowed.port}/ok${i}`, method: 'POST' },
      });
      assert.equal(res.status, 201);
      ids.push(res.body.id as string);
    }
    for (const id of ids) {
      const task = await waitForFinal(server.client, creds, id);
      assert.equal(task.state, 'COMPLETED', JSON.stringify(task));
    }
    assert.equal(allowed.hits.length, 4);
    assert.equal(forbidden.hits.length, 0);
    assert.ok(lookups >= 1, 'the server resolved the name itself');
  });

  test('a redirect towards a refused address is not followed', async () => {
    const redirecting = createServer((_req, res) => {
      res.writeHead(302, { location: `http://127.0.0.1:${forbidden.port}/internal` });
      res.end();
    });
    await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.2', resolve));
    try {
      const port = (redirecting.address() as AddressInfo).port;
      const res = await server.client.subscribe(creds, { httpRequest: { url: `http://127.0.0.2:${port}/go`, method: 'POST' } });
      assert.equal(res.status, 201);
      const task = await waitForFinal(server.client, creds, res.body.id as string);
      assert.equal(task.state, 'ERROR');
      assert.equal(task.statusCode, 302);
      assert.equal(forbidden.hits.length, 0, 'the redirect was followed');
    } finally {
      await new Promise((resolve) => redirecting.close(resolve));
    }
  });
});

describe('with loopback and cloud ranges allowed, the server itself and cloud platform addresses stay out of reach', () => {
  let dns: DnsServer;
  let server: TestServer;
  let creds: Credentials;
  let ownPort: string;

  before(async () => {
    // Names resolved by the server's own resolver, through a real DNS server on 127.0.0.1.
    const answers: Record<string, string[]> = {
      'self.test': ['127.0.0.1'],
      'wire.test': ['168.63.129.16'],
      'imds.test': ['169.254.169.254'],
      'imds6.test': ['fd00:ec2::254'],
    };
    dns = await DnsServer.start((name) => (answers[name] ? { addresses: answers[name] } : 'nxdomain'));
    server = await startTestServer({
      env: { TASKS_ALLOW_TARGETS: '127.0.0.0/8, ::1, 168.63.0.0/16, 169.254.0.0/16, fd00::/8', TASKS_DNS_SERVERS: dns.address },
    });
    ownPort = new URL(server.url).port;
    creds = await server.client.register();
  });
  after(async () => {
    await server.close();
    await dns.close();
  });

  test('literal spellings of the server itself and of platform addresses are refused at subscribe', async () => {
    for (const host of [
      `127.0.0.1:${ownPort}`,
      `0x7f000001:${ownPort}`,
      `[::ffff:127.0.0.1]:${ownPort}`,
      '168.63.129.16',
      '169.254.169.254',
      '[::ffff:a9fe:a9fe]',
      '[fd00:ec2::254]',
    ]) {
      const res = await server.client.subscribe(creds, { httpRequest: { url: `http://${host}/v1beta/register`, method: 'POST' } });
      assert.equal(res.status, 400, `${host}: ${JSON.stringify(res.body)}`);
      assert.match(String(res.body.message), /own address|cloud platform/, host);
    }
  });

  test('names resolving to them are refused at dispatch, and the timeline does not say where they point', async () => {
    // Delivered to the server itself, this would register a project and complete with 201.
    const register = {
      url: `http://self.test:${ownPort}/v1beta/register`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      data: b64('{"email":"a@example.com"}'),
    };
    const ids: string[] = [];
    for (const httpRequest of [
      register,
      { url: 'http://wire.test/machine', method: 'GET' },
      { url: 'http://imds.test/latest/meta-data/', method: 'GET' },
      { url: 'http://imds6.test/latest/meta-data/', method: 'GET' },
    ]) {
      const res = await server.client.subscribe(creds, { httpRequest, config: { retry: 2 } });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      ids.push(res.body.id as string);
    }
    for (const description of await refusedAtDispatch(server, creds, ids)) {
      assert.doesNotMatch(description, /127\.0\.0\.1|168\.63|169\.254|fd00|cloud|own address/);
    }
  });
});
