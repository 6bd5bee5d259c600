import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Credentials } from '../helpers/api-client.js';
import { waitForFinal } from '../helpers/api-tasks.js';
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
    for (const id of ids) {
      const task = await waitForFinal(server.client, creds, id);
      assert.equal(task.state, 'ERROR', JSON.stringify(task));
      assert.equal(task.statusCode, 0);
      assert.equal(task.updates.attempts, 1, 'a refused target is not retried');
      const timeline = (await server.client.timeline(creds, id)).body;
      assert.match(timeline.at(-1)!.description, /refused/);
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
