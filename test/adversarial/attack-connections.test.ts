/*
 * Clients that hold connections: one that stalls mid-request (slow body, slow headers, nothing at
 * all), one that keeps an idle connection, and a crowd past the connection limit. Each is a raw
 * socket against the real server. Timeouts are set small but well above scheduling noise; the
 * tests wait for the server to close the socket, never for a time to pass, so a server that did
 * not cut the client off fails them by the wait's bound.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RawConnection, requestBytes, sendRequest } from '../helpers/raw-http.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait.js';

const REGISTER_HEAD =
  'POST /v1beta/register HTTP/1.1\r\nhost: tasks\r\ncontent-type: application/json\r\ncontent-length: 100\r\nconnection: keep-alive\r\n\r\n';

/** Waits for the server to close `connection`, naming what it had received by then. */
async function closedByServer(connection: RawConnection, what: string): Promise<void> {
  await waitFor(() => `${what}; received so far: ${JSON.stringify(connection.received)}`, connection.closed, { timeoutMs: 20_000 });
}

/** Asserts `connection` got exactly one answer, 408 REQUEST_TIMEOUT in the documented error shape. */
function assertTimedOut(connection: RawConnection): void {
  const answers = connection.answers();
  assert.equal(answers.length, 1, connection.received);
  assert.equal(answers[0]!.status, 408, connection.received);
  assert.equal(answers[0]!.json?.code, 'REQUEST_TIMEOUT', connection.received);
}

// The clients stall side by side, as they would in an attack; each waits for its own close.
describe('stalled clients are cut off (headers 1.5 s, request 3 s, keep-alive 1.5 s)', { concurrency: true }, () => {
  let server: TestServer;
  const held: RawConnection[] = [];
  const open = async (): Promise<RawConnection> => {
    const connection = await RawConnection.open(server.url);
    held.push(connection);
    return connection;
  };
  /** Writes `piece` on `connection` every 100 ms until the server closes it. */
  const trickle = (connection: RawConnection, piece: string): void => {
    const timer = setInterval(() => {
      if (!connection.write(piece)) clearInterval(timer);
    }, 100);
    void connection.closed.then(() => clearInterval(timer));
  };

  before(async () => {
    server = await startTestServer({
      env: { TASKS_HEADERS_TIMEOUT_MS: '1500', TASKS_REQUEST_TIMEOUT_MS: '3000', TASKS_KEEP_ALIVE_TIMEOUT_MS: '1500' },
    });
  });
  after(async () => {
    for (const connection of held) connection.close();
    await server.close();
  });

  test('the headers of POST /v1beta/register and one byte of a 100-byte body: answered 408 and closed', async () => {
    const connection = await open();
    connection.write(`${REGISTER_HEAD}{`);
    await closedByServer(connection, 'the server to close a connection whose body stalled');
    assertTimedOut(connection);
  });

  test('a body trickled a byte at a time is cut off at the request timeout, not kept alive by its bytes', async () => {
    const connection = await open();
    connection.write(REGISTER_HEAD);
    // 100 bytes at one per 100 ms would take 10 s: far past the 3 s the whole request may take.
    trickle(connection, ' ');
    await closedByServer(connection, 'the server to close a connection whose body trickles');
    assertTimedOut(connection);
  });

  test('headers that stop half-way: answered 408 and closed', async () => {
    const connection = await open();
    connection.write('POST /v1beta/register HTTP/1.1\r\nhost: tasks\r\ncontent-type: appl');
    await closedByServer(connection, 'the server to close a connection whose headers stalled');
    assertTimedOut(connection);
  });

  test('headers trickled a line at a time are cut off at the headers timeout', async () => {
    const connection = await open();
    connection.write('GET /healthz HTTP/1.1\r\nhost: tasks\r\n');
    trickle(connection, 'x-filler: 1\r\n');
    await closedByServer(connection, 'the server to close a connection whose headers trickle');
    assertTimedOut(connection);
  });

  test('a connection that never sends a byte is closed', async () => {
    const connection = await open();
    await closedByServer(connection, 'the server to close a silent connection');
  });

  test('an idle connection is closed after the keep-alive timeout; the answer before it was whole', async () => {
    const connection = await open();
    connection.write('GET /healthz HTTP/1.1\r\nhost: tasks\r\nconnection: keep-alive\r\n\r\n');
    await waitFor('the answer on the kept connection', () => connection.answers().length === 1);
    assert.equal(connection.answers()[0]!.status, 200);
    assert.doesNotMatch(connection.answers()[0]!.headers.connection ?? '', /close/, 'the connection is kept for another request');
    await closedByServer(connection, 'the server to close the idle connection');
    assert.equal(connection.answers().length, 1, connection.received);
  });

  test('the server serves other clients meanwhile', async () => {
    assert.equal((await server.client.request('GET', '/healthz')).status, 200);
    assert.equal((await server.client.register()).token.startsWith('kt_'), true);
  });
});

describe('the connection limit (TASKS_MAX_CONNECTIONS=3)', () => {
  let server: TestServer;
  const held: RawConnection[] = [];
  const HEALTH = requestBytes('http://tasks', { method: 'GET', path: '/healthz', headers: { connection: 'keep-alive' } });

  before(async () => {
    server = await startTestServer({ env: { TASKS_MAX_CONNECTIONS: '3' } });
  });
  after(async () => {
    for (const connection of held) connection.close();
    await server.close();
  });

  /** A connection the server has taken: it answered a request on it, and keeps it. */
  const hold = async (): Promise<RawConnection> => {
    const connection = await RawConnection.open(server.url);
    held.push(connection);
    connection.write(HEALTH);
    await waitFor('an answer on a held connection', () => connection.answers().length > 0 || connection.isClosed);
    assert.equal(connection.answers().at(-1)?.status, 200, connection.received);
    return connection;
  };

  test('past the limit a connection is closed unanswered; once one closes, a new one is served; the held ones are kept', async () => {
    const [first, second, third] = [await hold(), await hold(), await hold()];

    const refused = await sendRequest(server.url, { method: 'GET', path: '/healthz' });
    assert.equal(refused.kind, 'dropped', `a fourth connection was served: ${JSON.stringify(refused)}`);

    first.close();
    // The server counts the closed connection out once it sees the close: until then it still refuses.
    const served = await waitFor('a new connection to be served once one of the three closed', async () => {
      const answer = await sendRequest(server.url, { method: 'GET', path: '/healthz' });
      return answer.kind === 'answer' ? answer : null;
    });
    assert.equal(served.status, 200);

    for (const connection of [second, third]) {
      connection.write(HEALTH);
      await waitFor('a second answer on a held connection', () => connection.answers().length === 2 || connection.isClosed);
      assert.equal(connection.answers()[1]?.status, 200, connection.received);
    }
  });
});
