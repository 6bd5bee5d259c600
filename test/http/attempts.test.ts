import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { TestClock } from '../../src/core/clock.js';
import { ATTEMPT_LOG } from '../../src/core/limits.js';
import type { AttemptsView } from '../../src/core/shapes.js';
import type { ApiResponse, Credentials } from '../helpers/api-client.js';
import { subscribeOk, waitForTask } from '../helpers/api-tasks.js';
import { scanEveryValue } from '../helpers/redis-scan.js';
import { must } from '../helpers/must.js';
import { TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';

/**
 * The attempt log (`GET /v1beta/queues/:id/attempts`): one entry per attempt, newest first, with the
 * first ATTEMPT_LOG.excerptBytes of the answer, sealed in the store (the raw SQLite files and every
 * Redis value are searched for the excerpt's text), in pages, and bounded per task. The server runs
 * on a test clock: retries fall due when a test moves it, and start times are exact.
 */
const MARKER = 'EXCERPT-PLAINTEXT-7f3a';
/** An answer longer than the excerpt: the marker at its start, a different text past the cut. */
const LONG_BODY = `${MARKER}:${'x'.repeat(ATTEMPT_LOG.excerptBytes)}PAST-THE-CUT`;

describe('attempt log', () => {
  const clock = new TestClock(Date.now());
  let server: TestServer;
  let target: TargetServer;
  let creds: Credentials;

  before(async () => {
    server = await startTestServer({ env: { TASKS_POLL_MS: '50' }, overrides: { clock } });
    target = await TargetServer.start((request) => {
      const path = request.url.split('?')[0]!;
      const index = target.requestsOn(path).length - 1;
      if (path.startsWith('/long-then-ok')) return index === 0 ? { status: 500, body: LONG_BODY } : { status: 200, body: '{"ok":true}' };
      return { status: 502, body: `failure ${index + 1}` };
    });
    creds = await server.client.register();
  });
  after(async () => {
    await server?.close();
    await target?.close();
  });

  const attempts = (id: string, query = ''): Promise<ApiResponse<AttemptsView>> =>
    server.client.request<AttemptsView>('GET', `/v1beta/queues/${id}/attempts${query === '' ? '' : `?${query}`}`, { creds });

  async function subscribe(url: string, config: Record<string, unknown>): Promise<string> {
    const queued = await subscribeOk(server.client, creds, { httpRequest: { url, method: 'POST' }, config });
    clock.advance(1);
    return queued.id;
  }

  /** Moves the clock to each retry as it is scheduled, until the task has made `count` attempts. */
  async function runAttempts(id: string, count: number): Promise<void> {
    for (let n = 1; n <= count; n++) {
      const task = await waitForTask(server.client, creds, id, (t) => t.updates.attempts === n);
      if (n < count) clock.set(task.estimateExecAt);
    }
  }

  test('each attempt: number, start, duration, status, and the first 1 KB of the answer, newest first', async () => {
    const id = await subscribe(target.url('/long-then-ok'), { retry: 1, retryInterval: '1s' });
    const firstAt = clock.now();
    await runAttempts(id, 2);
    const res = await attempts(id);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('link'), null, 'one page holds them all');
    const [second, first] = res.body;
    assert.equal(res.body.length, 2);
    assert.deepEqual(
      { ...second!, durationMs: 0 },
      {
        attempt: 2,
        startedAt: firstAt + 1_000,
        durationMs: 0,
        statusCode: 200,
        errorClass: null,
        response: '{"ok":true}',
        responseEncoding: 'utf8',
      },
    );
    assert.equal(first!.attempt, 1);
    assert.equal(first!.startedAt, firstAt);
    assert.equal(first!.statusCode, 500);
    assert.equal(first!.errorClass, null);
    assert.ok(first!.durationMs >= 0);
    assert.equal(first!.response, LONG_BODY.slice(0, ATTEMPT_LOG.excerptBytes), 'exactly the first bytes');
  });

  test('an attempt without an answer has its error class and no response', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    const id = await subscribe(`http://127.0.0.1:${port}/nobody`, {});
    await waitForTask(server.client, creds, id, (t) => t.state === 'ERROR');
    const [only] = (await attempts(id)).body;
    assert.deepEqual(
      { ...only!, startedAt: 0, durationMs: 0 },
      {
        attempt: 1,
        startedAt: 0,
        durationMs: 0,
        statusCode: 0,
        errorClass: 'connection',
        response: '',
        responseEncoding: 'utf8',
      },
    );
  });

  test('the excerpt is sealed at rest: its text is nowhere in the store', async () => {
    const id = await subscribe(target.url('/long-then-ok-sealed'), { retry: 1, retryInterval: '1s' });
    await runAttempts(id, 2);
    assert.ok((await attempts(id)).body[1]!.response.includes(MARKER), 'the API opens it');
    const needle = Buffer.from(MARKER);
    if (server.redisUrl) {
      const raw = new Redis(server.redisUrl);
      try {
        const values = await scanEveryValue(raw);
        assert.ok(
          values.some((v) => v.key.includes(`attempts:${id}`)),
          'the attempt log is in Redis',
        );
        for (const value of values) for (const part of value.parts) assert.equal(part.includes(needle), false, `in ${value.key}`);
      } finally {
        raw.disconnect();
      }
    } else {
      const files = readdirSync(server.dir).filter((f) => f.startsWith('tasks.db'));
      assert.ok(files.length > 0);
      for (const file of files) assert.equal(readFileSync(join(server.dir, file)).includes(needle), false, `in ${file}`);
    }
  });

  test('pages of any size join up, the next one in a Link header; bad limits and cursors are refused', async () => {
    const id = await subscribe(target.url('/fails'), { retry: 4, retryInterval: '1s', retryExponential: false });
    await runAttempts(id, 5);
    const seen: number[] = [];
    let query = 'limit=2';
    for (let page = 0; page < 10 && query !== ''; page++) {
      const res = await attempts(id, query);
      assert.equal(res.status, 200);
      seen.push(...res.body.map((a) => a.attempt));
      const link = res.headers.get('link');
      query = link === null ? '' : must(/\?([^>]+)>; rel="next"/.exec(link), 'the next page')[1]!;
    }
    assert.deepEqual(seen, [5, 4, 3, 2, 1]);
    assert.deepEqual(
      (await attempts(id, 'limit=5')).body.map((a) => a.response),
      ['failure 5', 'failure 4', 'failure 3', 'failure 2', 'failure 1'],
    );
    for (const bad of ['limit=0', `limit=${ATTEMPT_LOG.pageMax + 1}`, 'cursor=nope!']) {
      const res = await attempts(id, bad);
      assert.equal(res.status, 400, bad);
      assert.equal((res.body as unknown as { code: string }).code, 'VALIDATION_FAILED');
    }
    assert.equal((await attempts('01KDXQ0000ABCDEFGHJKMNPQRS')).status, 404);
  });

  test(`a task keeps its latest ${ATTEMPT_LOG.maxEntries} attempts`, async () => {
    const count = ATTEMPT_LOG.maxEntries + 3;
    const id = await subscribe(target.url('/many'), { retry: count - 1, retryInterval: '1s', retryExponential: false });
    await runAttempts(id, count);
    const kept: number[] = [];
    let query = `limit=${ATTEMPT_LOG.pageMax}`;
    while (query !== '') {
      const res = await attempts(id, query);
      kept.push(...res.body.map((a) => a.attempt));
      const link = res.headers.get('link');
      query = link === null ? '' : must(/\?([^>]+)>; rel="next"/.exec(link), 'the next page')[1]!;
    }
    assert.deepEqual(
      kept,
      Array.from({ length: ATTEMPT_LOG.maxEntries }, (_, i) => count - i),
    );
  });
});
