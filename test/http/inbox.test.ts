/*
 * The inbox: a project's URL on this server that keeps what it receives. A task of the project may
 * target it (and only it: not another project's inbox, not another path of the server), what it
 * keeps is sealed at rest, and at LEVEL PRODUCTION it does not exist.
 */
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { InboxView } from '../../src/core/shapes.js';
import type { ApiResponse, Credentials } from '../helpers/api-client.js';
import { assertError, assertValidation } from '../helpers/api-assertions.js';
import { b64, getTimeline, subscribeOk, waitForFinal } from '../helpers/api-tasks.js';
import { type TestServer, TEST_STORE, startTestServer } from '../helpers/test-server.js';

const SECRET_HEADER = 'INBOX-HEADER-SECRET-4242';
const SECRET_BODY = 'INBOX-BODY-SECRET-1717';

/** Subscribe answered 400 on the URL alone, as this server's own address. */
function assertRefusedAsOwn(res: ApiResponse): void {
  const [issue] = assertValidation(res, ['httpRequest.url'], true);
  assert.match(issue?.message ?? '', /this server's own address/);
}

/** Every name resolves to loopback: a name for the server itself. */
const resolveToLoopback = async (): Promise<LookupAddress[]> => [{ address: '127.0.0.1', family: 4 }];

describe('the inbox (LEVEL DEVELOPMENT: on by default)', () => {
  let server: TestServer;
  let creds: Credentials;
  let other: Credentials;

  const inbox = async (who: Credentials = creds): Promise<InboxView> => {
    const res = await server.client.request<InboxView>('GET', '/v1beta/inbox', { creds: who });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };

  before(async () => {
    server = await startTestServer({ overrides: { resolver: resolveToLoopback } });
    creds = await server.client.register();
    other = await server.client.register();
  });
  after(() => server.close());

  test('GET /v1beta/inbox answers the URL a task can target, on this server, and an empty list', async () => {
    const view = await inbox();
    assert.equal(view.url, `${server.url}/inbox/${creds.id}`);
    assert.deepEqual(view.requests, []);
  });

  test('a task subscribed to its inbox URL is delivered there, and the inbox shows the request', async () => {
    const { url } = await inbox();
    const task = await subscribeOk(server.client, creds, {
      httpRequest: {
        url: `${url}?from=task`,
        method: 'POST',
        params: { n: '1' },
        headers: { 'Content-Type': 'application/json', 'X-Secret': SECRET_HEADER },
        data: b64(JSON.stringify({ secret: SECRET_BODY })),
      },
    });
    const done = await waitForFinal(server.client, creds, task.id);
    assert.equal(done.state, 'COMPLETED', JSON.stringify(await getTimeline(server.client, creds, task.id)));
    assert.equal(done.statusCode, 200);

    const [received, ...rest] = (await inbox()).requests;
    assert.equal(rest.length, 0);
    assert.ok(received);
    assert.equal(received.method, 'POST');
    assert.equal(received.path, `/inbox/${creds.id}?from=task&n=1`);
    assert.equal(received.headers['x-secret'], SECRET_HEADER);
    assert.equal(received.headers['user-agent'], 'Kuueri-Tasks');
    assert.equal(received.headers['content-type'], 'application/json');
    assert.deepEqual([received.body, received.bodyEncoding, received.truncated], [JSON.stringify({ secret: SECRET_BODY }), 'utf8', false]);
    assert.equal((await inbox(other)).requests.length, 0, "another project's inbox is untouched");
  });

  test('what the inbox keeps is sealed: the store holds neither the header nor the body in clear', async () => {
    const records = await server.server.store.readInbox(creds.id);
    assert.ok(records.length > 0, 'the delivery above is stored');
    const needles = [SECRET_HEADER, SECRET_BODY, b64(SECRET_BODY)].map((s) => Buffer.from(s));
    for (const record of records) {
      for (const needle of needles) assert.equal(Buffer.from(record.sealed).indexOf(needle), -1, `${needle.toString()} in a record`);
    }
    if (TEST_STORE === 'sqlite') {
      const files = readdirSync(server.dir, { recursive: true, encoding: 'utf8' }).filter((f) => /tasks\.db(-wal)?$/.test(f));
      assert.ok(files.length > 0);
      let idSeen = false;
      for (const file of files) {
        const bytes = readFileSync(join(server.dir, file));
        idSeen ||= bytes.includes(records[0]!.id);
        for (const needle of needles) assert.equal(bytes.indexOf(needle), -1, `${needle.toString()} in ${file}`);
      }
      assert.ok(idSeen, 'control: the record id, stored in the clear, is found in the files');
    }
  });

  test("another project's inbox, and every other path of this server, are refused at subscribe", async () => {
    const { url } = await inbox();
    const origin = new URL(url).origin;
    const refused = [
      `${origin}/inbox/${other.id}`,
      `${origin}/inbox/${creds.id}/more`,
      `${origin}/inbox/${creds.id}/`,
      `${origin}/inbox/${creds.id.toLowerCase()}`,
      `${origin}/v1beta/info`,
      `${origin}/healthz`,
      `${origin}/`,
      `${origin}/v1beta/inbox`,
      `${origin.replace('http:', 'https:')}/inbox/${creds.id}`,
    ];
    for (const target of refused) {
      const res = await server.client.subscribe(creds, { httpRequest: { url: target, method: 'POST' } });
      assertRefusedAsOwn(res);
    }
  });

  test('through a host name, even its own inbox path is refused at dispatch (only the literal address is the inbox)', async () => {
    const port = new URL(server.url).port;
    const task = await subscribeOk(server.client, creds, {
      httpRequest: { url: `http://inbox.test:${port}/inbox/${creds.id}`, method: 'POST' },
    });
    const before = (await inbox()).requests.length;
    const done = await waitForFinal(server.client, creds, task.id);
    assert.equal(done.state, 'ERROR');
    assert.equal(done.updates.attempts, 0, 'nothing was sent');
    const timeline = await getTimeline(server.client, creds, task.id);
    assert.match(JSON.stringify(timeline), /refused/);
    assert.equal((await inbox()).requests.length, before);
  });

  test('any method and body: text as utf8, bytes as base64, a body past the cap cut and marked truncated; newest first', async () => {
    const path = `/inbox/${other.id}`;
    assert.equal(
      (await server.client.request('PUT', path, { rawBody: 'plain text', headers: { 'content-type': 'text/plain' } })).status,
      200,
    );
    const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x01]);
    const binary = await fetch(server.url + path, { method: 'PATCH', body: bytes });
    assert.equal(binary.status, 200);
    const big = 'x'.repeat(64 * 1024 + 10);
    assert.equal(
      (await server.client.request('POST', path, { rawBody: big, headers: { 'content-type': 'application/json' } })).status,
      200,
    );
    assert.equal((await server.client.request('DELETE', `${path}?q=1`)).status, 200);

    const [deleted, truncated, binaryOne, text] = (await inbox(other)).requests;
    assert.deepEqual([deleted?.method, deleted?.path, deleted?.body], ['DELETE', `${path}?q=1`, '']);
    assert.deepEqual([truncated?.truncated, truncated?.body.length], [true, 64 * 1024]);
    assert.deepEqual([binaryOne?.bodyEncoding, binaryOne?.body], ['base64', bytes.toString('base64')]);
    assert.deepEqual([text?.method, text?.body, text?.bodyEncoding, text?.truncated], ['PUT', 'plain text', 'utf8', false]);
  });

  test('keeps the last 100 requests; DELETE /v1beta/inbox empties it', async () => {
    const who = await server.client.register();
    for (let i = 0; i < 103; i++) {
      assert.equal(
        (await server.client.request('POST', `/inbox/${who.id}?i=${i}`, { rawBody: `${i}`, headers: { 'content-type': 'text/plain' } }))
          .status,
        200,
      );
    }
    const kept = (await inbox(who)).requests;
    assert.equal(kept.length, 100);
    assert.deepEqual([kept[0]?.body, kept[99]?.body], ['102', '3']);
    const res = await server.client.request('DELETE', '/v1beta/inbox', { creds: who });
    assert.deepEqual([res.status, res.body], [200, { response: 'EMPTY' }]);
    assert.deepEqual((await inbox(who)).requests, []);
  });

  test('an inbox of no project answers 404; GET /v1beta/inbox needs credentials', async () => {
    assertError(await server.client.request('POST', '/inbox/01ARZ3NDEKTSV4RRFFQ69G5FAV'), 404, 'NOT_FOUND');
    assertError(await server.client.request('POST', '/inbox/nothing'), 404, 'NOT_FOUND');
    assertError(await server.client.request('GET', '/v1beta/inbox'), 401, 'UNAUTHORIZED');
  });
});

describe('the inbox at LEVEL PRODUCTION (off by default)', () => {
  let server: TestServer;
  let creds: Credentials;

  before(async () => {
    server = await startTestServer({ env: { TASKS_LEVEL: 'PRODUCTION' } });
    creds = await server.client.register();
  });
  after(() => server.close());

  test('every inbox route answers 404, and its URL is refused as a target', async () => {
    assertError(await server.client.request('GET', '/v1beta/inbox', { creds }), 404, 'NOT_FOUND');
    assertError(await server.client.request('DELETE', '/v1beta/inbox', { creds }), 404, 'NOT_FOUND');
    assertError(
      await server.client.request('POST', `/inbox/${creds.id}`, { rawBody: 'x', headers: { 'content-type': 'text/plain' } }),
      404,
      'NOT_FOUND',
    );
    const res = await server.client.subscribe(creds, { httpRequest: { url: `${server.url}/inbox/${creds.id}`, method: 'POST' } });
    assertRefusedAsOwn(res);
  });
});
