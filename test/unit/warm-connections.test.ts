import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { buildConnector } from 'undici';
import { createTargetPolicy, parseTargetList } from '../../src/core/target-policy.js';
import { createHttpSender } from '../../src/dispatch/http-sender.js';
import { connectPort } from '../../src/dispatch/target-guard.js';
import { WarmConnections } from '../../src/dispatch/warm-connections.js';
import { waitFor } from '../helpers/wait.js';

/** A real HTTP server on 127.0.0.1 that counts the connections made to it and the requests it answered. */
let server: Server;
let url: string;
const seen = { connections: 0, requests: 0 };

before(async () => {
  server = createServer((request, response) => {
    seen.requests++;
    request.resume();
    request.on('end', () => response.end('ok'));
  });
  server.on('connection', () => seen.connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const allowLoopback = (): ReturnType<typeof createTargetPolicy> => createTargetPolicy(parseTargetList(['127.0.0.1']));

function reset(): void {
  server.closeAllConnections();
  seen.connections = 0;
  seen.requests = 0;
}

test('requests reserved ahead are sent on connections opened before they were sent, one each', async () => {
  reset();
  const sender = createHttpSender({ policy: allowLoopback(), maxResponseBytes: 1_024 });
  try {
    const request = { url, method: 'POST' as const, body: Buffer.from('{}') };
    const reserved = [1, 2, 3].map(() => sender.reserve(request));
    assert.deepEqual(reserved, [true, true, true]);
    await waitFor('three connections opened ahead', () => seen.connections === 3);
    assert.equal(seen.requests, 0, 'nothing is sent by a reservation');

    const outcomes = await Promise.all([1, 2, 3].map(() => sender.send(request, {}, 2_000, undefined, { reserved: true })));
    assert.deepEqual(
      outcomes.map((o) => o.statusCode),
      [200, 200, 200],
    );
    assert.equal(seen.requests, 3);
    assert.equal(seen.connections, 3, 'the sends took the connections opened ahead, and opened none');

    // Those connections are idle once undici has seen the answers end (kept alive): a new
    // reservation opens none.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(sender.reserve(request), true);
    assert.equal((await sender.send(request, {}, 2_000, undefined, { reserved: true })).statusCode, 200);
    assert.equal(seen.connections, 3, 'an idle connection was free for the reserved request');
  } finally {
    await sender.close();
  }
});

test('a reservation for a target the policy refuses opens no connection; the send is refused as before', async () => {
  reset();
  const sender = createHttpSender({ policy: createTargetPolicy(parseTargetList([])), maxResponseBytes: 1_024 });
  try {
    const request = { url, method: 'GET' as const };
    sender.reserve(request);
    const outcome = await sender.send(request, {}, 2_000, undefined, { reserved: true });
    assert.equal(outcome.errorClass, 'refused');
    assert.equal(seen.connections, 0);
  } finally {
    await sender.close();
  }
});

test('a connection opened ahead and never taken is closed after its keep time', async () => {
  reset();
  const warm = new WarmConnections(buildConnector({}), 30, connectPort);
  const { port } = new URL(url);
  const options = { protocol: 'http:', hostname: '127.0.0.1', host: `127.0.0.1:${port}`, port };
  assert.equal(warm.reserve(options), true, 'nothing open: one is to be opened');
  assert.equal(warm.reserve(options), true, 'the first counted coming: a second is opened for the second');
  warm.openAhead(options);
  warm.openAhead(options);
  await waitFor('both connections opened', () => seen.connections === 2);
  await waitFor('the connections closed when no request took them', async () => (await openSockets()) === 0);
  assert.equal(seen.requests, 0);
  warm.close();
});

/** Connections the server still holds. */
function openSockets(): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((error, n) => (error ? reject(error) : resolve(n))));
}
