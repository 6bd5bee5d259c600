import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TaskView, TimelineEntryView } from '../../src/core/shapes.js';
import { ApiClient, type Credentials } from '../helpers/api-client.js';
import { getTimeline, waitForFinal } from '../helpers/api-tasks.js';
import { freePort } from '../helpers/ports.js';
import { memoryOf } from '../helpers/process-memory.js';
import { type RawBehavior, type RawConnection, RawTarget, answerRaw, flood, silent, trickle } from '../helpers/raw-target.js';
import { type ServerProcess, type StoreServer, startServerOn } from '../helpers/server-process.js';
import { TargetServer } from '../helpers/target-server.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Faulty targets against the real server process (`node dist/main.js`), on SQLite and on Redis:
 * refused and reset connections, a target that never answers, one that floods a 10 MB body, one that
 * trickles, invalid HTTP, redirects and error statuses. For each the task must end in the right
 * state with the right statusCode (0 when nothing was answered, else the last status seen), a
 * timeline that says what happened, retries as configured, and the server must stay up.
 */

const TEN_MB = 10 * 1024 * 1024;

/** The connection is closed (by the tasks server: the raw targets never close on their own here). */
function closedByServer(conn: RawConnection | undefined, what: string): Promise<void> {
  assert.ok(conn, `${what}: no connection recorded`);
  return waitFor(`${what}: the tasks server to close the connection`, conn.closedPromise, { timeoutMs: 10_000 });
}

for (const backend of ['sqlite', 'redis'] as const) {
  describe(`faulty targets (${backend})`, { concurrency: false }, () => {
    let started: StoreServer | undefined;
    let server: ServerProcess;
    let client: ApiClient;
    let creds: Credentials;
    const raws: RawTarget[] = [];
    const https: TargetServer[] = [];

    before(async () => {
      started = await startServerOn(backend);
      server = started.server;
      client = new ApiClient(server.url);
      creds = await client.register();
    });

    after(async () => {
      await Promise.allSettled(raws.map((t) => t.close()));
      await Promise.allSettled(https.map((t) => t.close()));
      await started?.close();
    });

    const raw = async (behavior: RawBehavior): Promise<RawTarget> => {
      const target = await RawTarget.start(behavior);
      raws.push(target);
      return target;
    };

    const http = async (handler: Parameters<typeof TargetServer.start>[0]): Promise<TargetServer> => {
      const target = await TargetServer.start(handler);
      https.push(target);
      return target;
    };

    const subscribe = async (url: string, config: Record<string, unknown>): Promise<string> => {
      const res = await client.subscribe(creds, { httpRequest: { url, method: 'POST' }, config: { executionDelay: 1, ...config } });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.id as string;
    };

    const final = (id: string, timeoutMs = 20_000): Promise<TaskView> => waitForFinal(client, creds, id, { timeoutMs });

    const timeline = (id: string): Promise<TimelineEntryView[]> => getTimeline(client, creds, id);

    /**
     * The timeline of a task whose every attempt failed with `what`: one `Error` for the first
     * attempt, then `Retry` + `Error` per retry, the last saying none is left.
     */
    const assertFailedTimeline = (entries: TimelineEntryView[], what: RegExp, retries: 0 | 1): void => {
      const dump = JSON.stringify(entries, null, 1);
      const labels = entries.map((e) => e.label);
      assert.deepEqual(labels, retries === 0 ? ['Subscribe', 'Error'] : ['Subscribe', 'Error', 'Retry', 'Error'], dump);
      const first = entries[1]!;
      assert.match(first.description, what, dump);
      if (retries === 0) {
        assert.match(first.description, /no retries left/, dump);
        return;
      }
      assert.match(first.description, /retry 1 of 1/, dump);
      const retry = entries[2]!;
      assert.match(retry.description, /Retry 1 of 1 failed/, dump);
      assert.match(retry.description, what, dump);
      assert.deepEqual(retry.metadata, { retryCount: 1 }, dump);
      const last = entries[3]!;
      assert.match(last.description, what, dump);
      assert.match(last.description, /no retries left/, dump);
    };

    /** Two attempts reached the target: the first not a retry, the second retry 1 (the last one). */
    const assertRetryHeaders = (headers: Array<Record<string, string | string[] | undefined>>, id: string): void => {
      assert.equal(headers.length, 2, `exactly two attempts reach the target, got ${headers.length}`);
      assert.equal(headers[0]!['x-kuueri-tasks-queue'], id);
      assert.equal(headers[0]!['x-kuueri-tasks-retry-count'], '0');
      assert.equal(headers[1]!['x-kuueri-tasks-queue'], id);
      assert.equal(headers[1]!['x-kuueri-tasks-retry-count'], '1');
      assert.equal(headers[1]!['x-kuueri-tasks-currently-retry'], 'false');
    };

    test('a 200 with a 10 MB body is a success; the server reads a bounded part and closes the connection', async () => {
      // Warm the server up (first attempts compile code paths) before measuring its memory.
      const warm = await http(() => ({ status: 200 }));
      assert.equal((await final(await subscribe(warm.url(), {}))).state, 'COMPLETED');

      const withLength = await raw(flood(`HTTP/1.1 200 OK\r\nContent-Length: ${TEN_MB}\r\n\r\n`, TEN_MB));
      const closeDelimited = await raw(flood('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n', TEN_MB));
      const pid = server.proc.pid;
      assert.ok(pid);
      const memBefore = memoryOf(pid);

      const perTarget = 5;
      const ids: string[] = [];
      for (const target of [withLength, closeDelimited]) {
        for (let i = 0; i < perTarget; i++) ids.push(await subscribe(target.url(), { timeout: '20s' }));
      }
      const tasks = await Promise.all(ids.map((id) => final(id, 30_000)));
      const afterMem = memoryOf(pid);

      for (const task of tasks) {
        assert.equal(task.state, 'COMPLETED', JSON.stringify(task));
        assert.equal(task.statusCode, 200);
        assert.equal(task.updates.attempts, 1);
        const entries = await timeline(task.id);
        assert.deepEqual(
          entries.map((e) => e.label),
          ['Subscribe', 'Complete'],
          JSON.stringify(entries),
        );
        assert.match(entries[1]!.description, /status code 200; task completed/);
      }
      for (const [name, target] of [
        ['Content-Length', withLength],
        ['close-delimited', closeDelimited],
      ] as const) {
        assert.equal(target.requests.length, perTarget, `${name}: one request per attempt`);
        for (const request of target.requests) {
          const conn = request.connection;
          await closedByServer(conn, name);
          assert.equal(conn.completed, false, `${name}: the target wrote all 10 MB; the server read the whole body`);
          assert.ok(conn.written < TEN_MB, `${name}: the target wrote ${conn.written} bytes`);
          // The server closed with data still unread in its socket (the kernel answers with a
          // reset): it stopped reading instead of draining the 10 MB.
          assert.ok(conn.peerError === 'ECONNRESET' || conn.peerError === 'EPIPE', `${name}: the target saw ${conn.peerError}`);
        }
      }
      if (memBefore && afterMem) {
        const grown = afterMem.peak - memBefore.peak;
        // Ten attempts of 10 MB at once: a server holding each body would grow by 100 MB at its
        // peak; a warmed-up process that does not varies by a few MB to ~35 MB here.
        assert.ok(grown < 60 * 1024 * 1024, `the server's peak RSS grew by ${(grown / 1048576).toFixed(1)} MB over ten 10 MB answers`);
      }
    });

    describe('each misbehaviour ends the task as its policy says', { concurrency: true }, () => {
      test('connection refused: ERROR, statusCode 0, "connection refused", retried once', async () => {
        const port = await freePort();
        const id = await subscribe(`http://127.0.0.1:${port}/hook`, { retry: 1 });
        const task = await final(id);
        assert.equal(task.state, 'ERROR', JSON.stringify(task));
        assert.equal(task.statusCode, 0);
        assert.equal(task.updates.attempts, 2);
        assertFailedTimeline(await timeline(id), /connection refused/, 1);
      });

      test('connection reset before any answer: ERROR, statusCode 0, "connection reset", retried once', async () => {
        const target = await raw(answerRaw('', 'reset'));
        const id = await subscribe(target.url(), { retry: 1 });
        const task = await final(id);
        assert.equal(task.state, 'ERROR', JSON.stringify(task));
        assert.equal(task.statusCode, 0);
        assert.equal(task.updates.attempts, 2);
        assertRetryHeaders(
          target.requests.map((r) => r.headers),
          id,
        );
        assertFailedTimeline(await timeline(id), /connection reset by the target/, 1);
      });

      test('connection reset after part of the headers: ERROR, statusCode 0, the timeline says the target cut it, retried once', async () => {
        const target = await raw(answerRaw('HTTP/1.1 200 OK\r\nContent-Ty', 'reset', 50));
        const id = await subscribe(target.url(), { retry: 1 });
        const task = await final(id);
        assert.equal(task.state, 'ERROR', JSON.stringify(task));
        assert.equal(task.statusCode, 0, 'a status line without its headers is no answer');
        assert.equal(task.updates.attempts, 2);
        assertRetryHeaders(
          target.requests.map((r) => r.headers),
          id,
        );
        assertFailedTimeline(await timeline(id), /connection (reset|closed) by the target/, 1);
      });

      test('a 200 whose body is cut short by a reset is still a success: the status was answered', async () => {
        const target = await raw(answerRaw('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial', 'reset', 50));
        const id = await subscribe(target.url(), {});
        const task = await final(id);
        assert.equal(task.state, 'COMPLETED', JSON.stringify(task));
        assert.equal(task.statusCode, 200);
        assert.equal(target.requests.length, 1);
      });

      test('connection closed in the middle of the status line: ERROR, statusCode 0, "connection closed"', async () => {
        const target = await raw(answerRaw('HTTP/1.1 20', 'destroy'));
        const id = await subscribe(target.url(), {});
        const task = await final(id);
        assert.equal(task.state, 'ERROR', JSON.stringify(task));
        assert.equal(task.statusCode, 0);
        assert.equal(target.requests.length, 1);
        assertFailedTimeline(await timeline(id), /connection closed by the target/, 0);
      });

      test('a reset, then a 200 on the retry: COMPLETED with 200', async () => {
        const ok: RawBehavior = answerRaw('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
        const reset: RawBehavior = answerRaw('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n', 'reset', 50);
        const target = await raw((request, conn) => (request.index === 0 ? reset : ok)(request, conn));
        const id = await subscribe(target.url(), { retry: 1 });
        const task = await final(id);
        assert.equal(task.state, 'COMPLETED', JSON.stringify(task));
        assert.equal(task.statusCode, 200);
        assertRetryHeaders(
          target.requests.map((r) => r.headers),
          id,
        );
        const entries = await timeline(id);
        const dump = JSON.stringify(entries, null, 1);
        assert.deepEqual(
          entries.map((e) => e.label),
          ['Subscribe', 'Error', 'Retry', 'Complete'],
          dump,
        );
        assert.match(entries[1]!.description, /connection (reset|closed) by the target.*retry 1 of 1/, dump);
        assert.match(entries[2]!.description, /Retry 1 of 1 succeeded with status code 200/, dump);
        assert.match(entries[3]!.description, /status code 200; task completed/, dump);
      });

      test('a target that never answers (timeout 300ms): ERROR, statusCode 0, "timeout", the connection closed', async () => {
        const target = await raw(silent);
        const id = await subscribe(target.url(), { timeout: '300ms' });
        const task = await final(id);
        assert.equal(task.state, 'ERROR', JSON.stringify(task));
        assert.equal(task.statusCode, 0);
        assert.equal(task.updates.attempts, 1);
        assertFailedTimeline(await timeline(id), /timeout after 300 ms/, 0);
        assert.ok(target.requests.length <= 1, `${target.requests.length} requests for one attempt`);
        for (const conn of target.connections) await closedByServer(conn, 'silent target');
      });

      test('a target that never answers, retry 1: two attempts reach it, each times out, the connections are closed', async () => {
        // 1 s rather than 300 ms: on a loaded machine the request must surely reach the target in time.
        const target = await raw(silent);
        const id = await subscribe(target.url(), { retry: 1, timeout: '1s' });
        const task = await final(id);
        assert.equal(task.state, 'ERROR', JSON.stringify(task));
        assert.equal(task.statusCode, 0);
        assert.equal(task.updates.attempts, 2);
        assertRetryHeaders(
          target.requests.map((r) => r.headers),
          id,
        );
        assertFailedTimeline(await timeline(id), /timeout after 1000 ms/, 1);
        for (const conn of target.connections) await closedByServer(conn, 'silent target');
      });

      test('a 503, then silence on the retry: ERROR keeps statusCode 503, the retry says timeout', async () => {
        const unavailable = answerRaw('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        const target = await raw((request, conn) => (request.index === 0 ? unavailable : silent)(request, conn));
        const id = await subscribe(target.url(), { retry: 1, timeout: '2s' });
        // A timeout long enough that a loaded machine still reads the 503 within it.
        const task = await final(id);
        const entries = await timeline(id);
        const dump = JSON.stringify(entries, null, 1);
        assert.equal(task.state, 'ERROR', JSON.stringify(task));
        assert.equal(task.statusCode, 503, `statusCode keeps the last status the target answered: ${dump}`);
        assertRetryHeaders(
          target.requests.map((r) => r.headers),
          id,
        );
        assert.deepEqual(
          entries.map((e) => e.label),
          ['Subscribe', 'Error', 'Retry', 'Error'],
          dump,
        );
        assert.match(entries[1]!.description, /status code 503; retry 1 of 1/, dump);
        assert.match(entries[2]!.description, /Retry 1 of 1 failed with timeout after 2000 ms/, dump);
        assert.match(entries[3]!.description, /timeout after 2000 ms; no retries left/, dump);
      });

      test('status line and headers trickled one byte per 100 ms: the attempt times out', async () => {
        const head = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok';
        const target = await raw(trickle(head, 100));
        const id = await subscribe(target.url(), { timeout: '500ms' });
        const task = await final(id);
        assert.equal(task.state, 'ERROR', JSON.stringify(task));
        assert.equal(task.statusCode, 0);
        assert.equal(target.requests.length, 1);
        assertFailedTimeline(await timeline(id), /timeout after 500 ms/, 0);
        await closedByServer(target.connections[0], 'trickled head');
        assert.equal(target.connections[0]!.completed, false, 'the whole trickled answer was read: no timeout applied');
      });

      test('a 200 whose body is trickled one byte per 100 ms: the attempt times out (the timeout covers reading the answer)', async () => {
        const body = 'x'.repeat(60);
        const head = answerRaw(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`, 'hang');
        const bodyTrickle = trickle(body, 100);
        const target = await raw(async (request, conn) => {
          await head(request, conn);
          conn.completed = false;
          await bodyTrickle(request, conn);
        });
        // The head goes out at once; 1 s leaves a loaded machine time to read it, not the 6 s body.
        const id = await subscribe(target.url(), { timeout: '1s' });
        const task = await final(id);
        await closedByServer(target.connections[0], 'trickled body');
        assert.equal(target.connections[0]!.completed, false, 'the whole trickled body was read: no timeout applied');
        const entries = await timeline(id);
        const dump = JSON.stringify(entries, null, 1);
        // docs/api/subscribing.md: `timeout` is "per attempt (connect, answer and reading it)".
        assert.equal(
          task.state,
          'ERROR',
          `an answer still unread when the timeout ran out must fail the attempt: ${JSON.stringify(task)}\n${dump}`,
        );
        assert.equal(task.statusCode, 200, 'statusCode keeps the status the target answered');
        assert.deepEqual(
          entries.map((e) => e.label),
          ['Subscribe', 'Error'],
          dump,
        );
        assert.match(entries[1]!.description, /timeout after 1000 ms/, dump);
      });

      const invalid: Array<[string, string | Buffer]> = [
        ['garbage instead of a status line', 'GARBAGE GARBAGE GARBAGE\r\n\r\n'],
        ['binary bytes', Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0d, 0x0a, 0x0d, 0x0a])],
        ['a malformed status code', 'HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n'],
        ['an unknown protocol in the status line', 'HTTQ/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'],
        ['a header name with a space', 'HTTP/1.1 200 OK\r\nBad Header: x\r\nContent-Length: 0\r\n\r\n'],
        ['a non-numeric Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n'],
        ['a header line without a colon', 'HTTP/1.1 200 OK\r\nno-colon-here\r\nContent-Length: 0\r\n\r\n'],
      ];
      for (const [name, bytes] of invalid) {
        test(`invalid HTTP (${name}): ERROR, statusCode 0, "invalid HTTP response"`, async () => {
          // The connection stays open after the bytes: the failure must come from the parser.
          const target = await raw(answerRaw(bytes, 'hang'));
          const id = await subscribe(target.url(), { timeout: '5s' });
          const task = await final(id);
          assert.equal(task.state, 'ERROR', JSON.stringify(task));
          assert.equal(task.statusCode, 0);
          assert.equal(target.requests.length, 1);
          assertFailedTimeline(await timeline(id), /invalid HTTP response/, 0);
          await closedByServer(target.connections[0], name);
        });
      }

      test('a 101 Switching Protocols to a request that asked for no upgrade: ERROR, described as invalid HTTP, not as a close', async () => {
        // The target keeps the connection open: saying it closed the connection would be false.
        const target = await raw(
          answerRaw('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n', 'hang'),
        );
        const id = await subscribe(target.url(), { timeout: '5s' });
        const task = await final(id);
        assert.equal(task.state, 'ERROR', JSON.stringify(task));
        assert.equal(target.requests.length, 1);
        assertFailedTimeline(await timeline(id), /invalid HTTP response/, 0);
      });

      // Known limitation, kept visible as a TODO rather than changed to pass: undici (the pooled
      // client every attempt goes through) refuses an unexpected 100 ("bad response"), so the
      // attempt fails as an invalid HTTP response (and is retried per the task's policy).
      test(
        'an unsolicited 100 Continue before the final 204 is skipped: COMPLETED with 204 (RFC 9110 §15.2)',
        {
          todo: 'undici 7 rejects a 100 Continue it did not ask for; the attempt fails as invalid HTTP',
        },
        async () => {
          const target = await raw(answerRaw('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n', 'end'));
          const id = await subscribe(target.url(), { timeout: '5s' });
          const task = await final(id);
          const entries = await timeline(id);
          assert.equal(task.state, 'COMPLETED', `${JSON.stringify(task)}\n${JSON.stringify(entries, null, 1)}`);
          assert.equal(task.statusCode, 204);
          assert.equal(target.requests.length, 1);
        },
      );

      test('a 103 Early Hints before the final 200 is skipped: COMPLETED with 200', async () => {
        const target = await raw(
          answerRaw(
            'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
            'end',
          ),
        );
        const id = await subscribe(target.url(), { timeout: '5s' });
        const task = await final(id);
        assert.equal(task.state, 'COMPLETED', JSON.stringify(task));
        assert.equal(task.statusCode, 200);
        assert.equal(target.requests.length, 1);
      });

      test('endless response headers: the server stops reading at its header limit and the attempt fails', async () => {
        const line = `X-Filler: ${'a'.repeat(1000)}\r\n`;
        const target = await raw(async (_request, conn) => {
          if (!(await conn.write('HTTP/1.1 200 OK\r\n'))) return;
          // About 10 MB of header lines, as fast as the server takes them.
          for (let i = 0; i < 10_000; i++) {
            if (conn.closed || conn.closedByPeer || !(await conn.write(line))) return;
          }
          conn.completed = true;
        });
        const id = await subscribe(target.url(), { timeout: '10s' });
        const task = await final(id);
        assert.equal(task.state, 'ERROR', JSON.stringify(task));
        assert.equal(task.statusCode, 0);
        assertFailedTimeline(await timeline(id), /header/i, 0);
        const conn = target.requests[0]?.connection;
        await closedByServer(conn, 'endless headers');
        assert.equal(conn!.completed, false, 'the server read 10 MB of headers');
        assert.ok(conn!.peerError === 'ECONNRESET' || conn!.peerError === 'EPIPE', `the target saw ${conn!.peerError}`);
      });

      test('an extra unsolicited response after a 200 does not become the answer of the next task', async () => {
        const poisoned = answerRaw(
          'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 500 Smuggled\r\nContent-Length: 0\r\n\r\n',
          'hang',
        );
        const fine = answerRaw('HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n', 'hang');
        const target = await raw((request, conn) => (request.index === 0 ? poisoned : fine)(request, conn));
        const first = await final(await subscribe(target.url(), {}));
        assert.equal(first.state, 'COMPLETED', JSON.stringify(first));
        assert.equal(first.statusCode, 200);
        const second = await final(await subscribe(target.url(), {}));
        assert.equal(second.state, 'COMPLETED', JSON.stringify(second));
        assert.equal(second.statusCode, 201, 'the next task got the smuggled answer');
        assert.equal(target.requests.length, 2);
      });

      test('invalid HTTP is retried as the policy says', async () => {
        const target = await raw(answerRaw('NOT HTTP AT ALL\r\n\r\n', 'hang'));
        const id = await subscribe(target.url(), { retry: 1, timeout: '5s' });
        const task = await final(id);
        assert.equal(task.state, 'ERROR', JSON.stringify(task));
        assert.equal(task.statusCode, 0);
        assertRetryHeaders(
          target.requests.map((r) => r.headers),
          id,
        );
        assertFailedTimeline(await timeline(id), /invalid HTTP response/, 1);
      });

      for (const status of [302, 307]) {
        test(`a ${status} redirect is not followed: ERROR with statusCode ${status}`, async () => {
          const elsewhere = await http(() => ({ status: 200 }));
          const target = await http(() => ({ status, headers: { location: elsewhere.url('/moved') } }));
          const id = await subscribe(target.url(), { retry: 1 });
          const task = await final(id);
          assert.equal(task.state, 'ERROR', JSON.stringify(task));
          assert.equal(task.statusCode, status);
          assertRetryHeaders(
            target.requests.map((r) => r.headers as Record<string, string>),
            id,
          );
          assert.equal(elsewhere.requests.length, 0, 'the redirect was followed');
          assertFailedTimeline(await timeline(id), new RegExp(`status code ${status}`), 1);
        });
      }

      for (const [status, retries] of [
        [500, 1],
        [404, 0],
        [429, 1],
      ] as const) {
        test(`a ${status} answer is a failure with statusCode ${status} (retry: ${retries})`, async () => {
          const headers: Record<string, string> = status === 429 ? { 'retry-after': '3600' } : {};
          const target = await http(() => ({ status, headers }));
          const id = await subscribe(target.url(), { retry: retries });
          const task = await final(id);
          assert.equal(task.state, 'ERROR', JSON.stringify(task));
          assert.equal(task.statusCode, status);
          assert.equal(task.updates.attempts, retries + 1);
          if (retries === 1)
            assertRetryHeaders(
              target.requests.map((r) => r.headers as Record<string, string>),
              id,
            );
          else assert.equal(target.requests.length, 1);
          assertFailedTimeline(await timeline(id), new RegExp(`status code ${status}`), retries);
        });
      }
    });

    test('the server process stayed up throughout and still delivers a normal task', async () => {
      assert.equal(server.proc.exitCode, null, server.output());
      assert.equal(server.proc.signalCode, null);
      const target = await http(() => ({ status: 200 }));
      const id = await subscribe(target.url(), {});
      const task = await final(id);
      assert.equal(task.state, 'COMPLETED', JSON.stringify(task));
      assert.equal(task.statusCode, 200);
      assert.equal(target.requests.length, 1);
      assert.equal(target.requests[0]!.headers['x-kuueri-tasks-queue'], id);
      // Nothing above may have surfaced as an unexpected error in the server.
      const errors = server
        .output()
        .split('\n')
        .filter((line) => /"level":(50|60)/.test(line));
      assert.deepEqual(errors, [], 'the server logged errors');
    });
  });
}
