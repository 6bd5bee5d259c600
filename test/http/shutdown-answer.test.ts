/*
 * A request that arrives while the server closes, on a connection that is still open, is answered
 * 503 SHUTTING_DOWN in the documented error shape (not Fastify's own 503 body), and the connection
 * is closed after it; the request that was already in progress on that connection completes.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type Socket, connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { STATUS_CODES } from 'node:http';
import { ID_PATTERN } from '../helpers/api-assertions.js';
import type { Credentials } from '../helpers/api-client.js';
import { probeConnect } from '../helpers/ports.js';
import { parseResponses } from '../helpers/raw-http.js';
import { TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait.js';

describe('requests arriving while the server closes', () => {
  let server: TestServer;
  let target: TargetServer;
  let creds: Credentials;

  before(async () => {
    server = await startTestServer();
    target = await TargetServer.start();
    creds = await server.client.register();
  });
  after(async () => {
    await server.close(); // already closed by the test; closing again is a no-op
    await target.close();
  });

  test('answer 503 SHUTTING_DOWN in the error shape on a kept-alive connection; the one in progress completes', async () => {
    const auth = `Authorization: Bearer ${creds.token}\r\nX-Kuueri-Tasks-Project: ${creds.id}\r\n`;
    const body = JSON.stringify({ httpRequest: { url: target.url('/shutdown'), method: 'POST' }, config: { executionDelay: '1h' } });
    const { hostname, port } = new URL(server.url);
    const socket: Socket = connect({ host: hostname, port: Number(port) });
    await once(socket, 'connect');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const closed = once(socket, 'close');

    // A subscribe is in progress (its headers are in, its body is not) when close begins: the
    // connection is busy, so closing does not drop it. The server's 100 Continue says it has
    // taken the request in.
    socket.write(
      `POST /v1beta/subscribe HTTP/1.1\r\nHost: tasks\r\nConnection: keep-alive\r\n${auth}Expect: 100-continue\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`,
    );
    await waitFor('the server to take the request in', () => Buffer.concat(chunks).toString().startsWith('HTTP/1.1 100 Continue'));
    const closing = server.close();
    await waitFor('the listener to refuse new connections', async () => (await probeConnect(server.url)) === 'ECONNREFUSED');

    // The body, and a second request on the same connection.
    socket.write(`${body}GET /v1beta/info HTTP/1.1\r\nHost: tasks\r\n${auth}\r\n`);
    await closed;
    await closing;

    const [first, second, ...more] = parseResponses(Buffer.concat(chunks));
    assert.equal(more.length, 0);
    assert.equal(first?.status, 201, first?.body);
    assert.match((JSON.parse(first.body) as { id: string }).id, ID_PATTERN);

    assert.ok(second, 'the second request was answered');
    assert.equal(second.status, 503, second.body);
    assert.match(second.headers['content-type'] ?? '', /^application\/json/);
    assert.equal(second.headers.connection, 'close');
    assert.deepEqual(JSON.parse(second.body), {
      statusCode: 503,
      code: 'SHUTTING_DOWN',
      error: STATUS_CODES[503],
      message: 'The server is shutting down',
    });
  });
});
