import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ApiResponse, Credentials } from '../helpers/api-client.js';
import { activeCount, b64 } from '../helpers/api-tasks.js';
import { TargetServer } from '../helpers/target-server.js';
import { type TestServer, TEST_STORE, startTestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait.js';

/*
 * Idempotency-Key on POST /v1beta/subscribe: the same key and body answer the task the first call
 * made (200, Idempotent-Replayed: true), another body answers 422, and concurrent calls with one
 * key make one task. Both stores (scripts/run-tests.mjs runs this file on each).
 */

describe('Idempotency-Key on subscribe', () => {
  let server: TestServer;
  let target: TargetServer;
  let creds: Credentials;
  let keyCounter = 0;
  const newKey = (): string => `order-${process.pid}-${++keyCounter}`;

  // Far ahead: nothing is sent while the tests look at the tasks.
  const bodyFor = (note: string): unknown => ({
    httpRequest: { url: target.url('/idem'), method: 'POST', data: b64(JSON.stringify({ note })) },
    config: { executionDelay: 3_600_000 },
  });
  const subscribe = (key: string | undefined, body: unknown, who = creds): Promise<ApiResponse> =>
    server.client.request('POST', '/v1beta/subscribe', { creds: who, body, headers: key === undefined ? {} : { 'idempotency-key': key } });

  before(async () => {
    server = await startTestServer();
    target = await TargetServer.start();
    creds = await server.client.register();
  });
  after(async () => {
    await server?.close();
    await target?.close();
  });

  test('the same key and body answer the first task with 200 and Idempotent-Replayed; no second task', async () => {
    const key = newKey();
    const before = await activeCount(server.client, creds);
    const first = await subscribe(key, bodyFor('a'));
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(first.headers.get('idempotent-replayed'), null);
    const again = await subscribe(key, bodyFor('a'));
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.body.id, first.body.id);
    assert.deepEqual(again.body, first.body);
    assert.equal(await activeCount(server.client, creds), before + 1);
  });

  test('the same key with another body answers 422 IDEMPOTENCY_KEY_REUSED and makes nothing', async () => {
    const key = newKey();
    assert.equal((await subscribe(key, bodyFor('one'))).status, 201);
    const count = await activeCount(server.client, creds);
    const other = await subscribe(key, bodyFor('two'));
    assert.equal(other.status, 422, JSON.stringify(other.body));
    assert.equal(other.body.code, 'IDEMPOTENCY_KEY_REUSED');
    assert.equal(await activeCount(server.client, creds), count);
  });

  test('keys are per project; no key, no idempotency', async () => {
    const key = newKey();
    const other = await server.client.register();
    const mine = await subscribe(key, bodyFor('p'));
    const theirs = await subscribe(key, bodyFor('p'), other);
    assert.equal(mine.status, 201);
    assert.equal(theirs.status, 201);
    assert.notEqual(mine.body.id, theirs.body.id);
    const a = await subscribe(undefined, bodyFor('p'));
    const b = await subscribe(undefined, bodyFor('p'));
    assert.equal(a.status, 201);
    assert.equal(b.status, 201);
    assert.notEqual(a.body.id, b.body.id);
  });

  test('concurrent subscribes with one key make one task', async () => {
    const key = newKey();
    const count = await activeCount(server.client, creds);
    const answers = await Promise.all(Array.from({ length: 20 }, () => subscribe(key, bodyFor('race'))));
    assert.deepEqual(answers.map((a) => a.status).sort(), [...Array<number>(19).fill(200), 201]);
    assert.equal(new Set(answers.map((a) => a.body.id)).size, 1);
    assert.equal(await activeCount(server.client, creds), count + 1);
  });

  test('a key too long, empty or not printable ASCII answers 400 naming the header', async () => {
    for (const key of ['k'.repeat(256), ' '.repeat(0)]) {
      const res = await subscribe(key, bodyFor('bad'));
      assert.equal(res.status, 400, key.length.toString());
      assert.equal(res.body.code, 'VALIDATION_FAILED');
      assert.match(JSON.stringify(res.body), /Idempotency-Key/);
    }
    assert.equal((await subscribe('k'.repeat(255), bodyFor('max'))).status, 201);
  });

  test('the batch route refuses the header with a coded error', async () => {
    const res = await server.client.request('POST', '/v1beta/subscribe/batch', {
      creds,
      body: [bodyFor('batch')],
      headers: { 'idempotency-key': newKey() },
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.code, 'VALIDATION_FAILED');
    assert.match(JSON.stringify(res.body), /Idempotency-Key/);
  });

  test('a replay of a deleted task answers 404', async () => {
    const key = newKey();
    const first = await subscribe(key, bodyFor('deleted'));
    const id = String(first.body.id);
    assert.equal((await server.client.request('PATCH', `/v1beta/unsubscribe/${id}`, { creds })).status, 200);
    assert.equal((await server.client.request('DELETE', `/v1beta/queues/${id}`, { creds })).status, 200);
    const again = await subscribe(key, bodyFor('deleted'));
    assert.equal(again.status, 404);
    assert.equal(again.body.code, 'TASK_NOT_FOUND');
  });
});

describe('Idempotency-Key window', () => {
  let server: TestServer;
  let target: TargetServer;
  let creds: Credentials;

  before(async () => {
    server = await startTestServer({ env: { TASKS_IDEMPOTENCY_WINDOW: '1' } });
    target = await TargetServer.start();
    creds = await server.client.register();
  });
  after(async () => {
    await server?.close();
    await target?.close();
  });

  test('after the window the key makes a new task; SQLite sweeps the expired records', async () => {
    const body = { httpRequest: { url: target.url('/w'), method: 'POST' }, config: { executionDelay: 3_600_000 } };
    const headers = { 'idempotency-key': 'window-key' };
    const first = await server.client.request('POST', '/v1beta/subscribe', { creds, body, headers });
    assert.equal(first.status, 201);
    // Each try within the window is a replay; the first 201 after it is a new task.
    const later = await waitFor('the key to expire', async () => {
      const res = await server.client.request('POST', '/v1beta/subscribe', { creds, body, headers });
      assert.ok(res.status === 200 || res.status === 201, JSON.stringify(res.body));
      return res.status === 201 ? res : undefined;
    });
    assert.notEqual(later.body.id, first.body.id);
    const swept = await server.server.store.sweepIdempotencyKeys(server.server.store.clock.now() + 2_000, 1_000);
    assert.equal(swept, TEST_STORE === 'sqlite' ? 1 : 0, 'SQLite deletes the live record once it has expired; Redis expires its own');
  });
});
