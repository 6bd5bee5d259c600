import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TimelineEntryView } from '../../src/core/shapes.js';
import { TIMELINE } from '../../src/core/timeline.js';
import { UNKNOWN_ID, assertError, assertValidation } from '../helpers/api-assertions.js';
import type { Credentials } from '../helpers/api-client.js';
import { getTimeline, labelsOf, subscribeOk } from '../helpers/api-tasks.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';

/**
 * The timeline route: bounded (the first entries, an `Omitted` entry, the latest), and paged with
 * `limit` and `cursor`, the next page named by a Link header while the body stays the array it
 * always was. Entries are made by pausing and resuming through the API, so nothing waits on time.
 */
describe('GET /v1beta/queues/:id/timeline: bounded and paged', () => {
  const { maxEntries, keepFirst } = TIMELINE;
  let server: TestServer;
  let creds: Credentials;
  /** A task paused and resumed until its timeline went past the bound. */
  let long: string;
  const PAIRS = maxEntries / 2 + 15;

  const later = { httpRequest: { url: 'http://127.0.0.1:9/never', method: 'POST' }, config: { executionDelay: '1h' } };

  async function pauseResume(id: string, times: number): Promise<void> {
    for (let i = 0; i < times; i++) {
      assert.equal((await server.client.pause(creds, id)).status, 200);
      assert.equal((await server.client.resume(creds, id)).status, 200);
    }
  }

  /** Every page of `limit`, following the Link headers; answers the pages. */
  async function pages(id: string, limit: number): Promise<TimelineEntryView[][]> {
    const all: TimelineEntryView[][] = [];
    let query: string | null = `limit=${limit}`;
    while (query !== null) {
      const res = await server.client.timeline(creds, id, query);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      all.push(res.body);
      const link = res.headers.get('link');
      if (link === null) query = null;
      else {
        const match = new RegExp(`^</v1beta/queues/${id}/timeline\\?(limit=${limit}&cursor=[A-Za-z0-9_-]+)>; rel="next"$`).exec(link);
        assert.ok(match, `Link header: ${link}`);
        query = match[1]!;
      }
      assert.ok(all.length <= maxEntries + 1, 'the pages end');
    }
    return all;
  }

  before(async () => {
    server = await startTestServer();
    creds = await server.client.register();
    long = (await subscribeOk(server.client, creds, later)).id;
    await pauseResume(long, PAIRS);
  });
  after(async () => {
    await server.close();
  });

  test('a timeline that fits one page answers as before: the whole array and no Link header', async () => {
    const id = (await subscribeOk(server.client, creds, later)).id;
    await pauseResume(id, 1);
    const whole = await server.client.timeline(creds, id);
    assert.equal(whole.status, 200);
    assert.deepEqual(labelsOf(whole.body), ['Subscribe', 'Pause', 'Resume']);
    assert.equal(whole.headers.get('link'), null);
    const exact = await server.client.timeline(creds, id, 'limit=3&other=ignored');
    assert.deepEqual(exact.body, whole.body);
    assert.equal(exact.headers.get('link'), null);
    const cut = await server.client.timeline(creds, id, 'limit=2');
    assert.deepEqual(cut.body, whole.body.slice(0, 2));
    assert.notEqual(cut.headers.get('link'), null, 'a Link header names the rest');
  });

  test('a long timeline is cut to its first entries, an Omitted entry counting the rest, and the latest', async () => {
    const res = await server.client.timeline(creds, long);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('link'), null, 'the default page holds a whole bounded timeline');
    const entries = res.body;
    assert.equal(entries.length, 1 + maxEntries, 'Subscribe, then the stored entries at their bound');
    assert.equal(entries[0]!.label, 'Subscribe');
    assert.deepEqual(
      labelsOf(entries.slice(1, 1 + keepFirst)),
      Array.from({ length: keepFirst }, (_, i) => (i % 2 === 0 ? 'Pause' : 'Resume')),
    );
    const omitted = entries[1 + keepFirst]!;
    const leftOut = 2 * PAIRS - maxEntries + 1;
    assert.equal(omitted.label, 'Omitted');
    assert.deepEqual(omitted.metadata, { omitted: leftOut });
    assert.match(omitted.description, new RegExp(`^${leftOut} entries were left out`));
    assert.equal(entries.at(-1)!.label, 'Resume', 'the latest entry is kept');
    const createdAt = entries.map((e) => e.createdAt);
    assert.deepEqual(
      createdAt,
      [...createdAt].sort((a, b) => a - b),
      'oldest first',
    );
  });

  test('pages follow the Link header and join up to the whole timeline', async () => {
    const whole = await getTimeline(server.client, creds, long);
    for (const limit of [1, 7, 50, maxEntries + 1]) {
      const all = await pages(long, limit);
      assert.deepEqual(all.flat(), whole, `pages of ${limit}`);
      assert.ok(
        all.slice(0, -1).every((page) => page.length === limit),
        `pages of ${limit}: ${all.map((p) => p.length).join(', ')}`,
      );
    }
  });

  test('a bad limit or cursor answers 400 VALIDATION_FAILED naming it; an unknown task 404', async () => {
    for (const limit of ['0', String(TIMELINE.pageMax + 1), 'ten', '-1', '1.5', '']) {
      assertValidation(await server.client.timeline(creds, long, `limit=${limit}`), ['querystring.limit'], true);
    }
    const foreign = Buffer.from('xyz').toString('base64url');
    for (const cursor of ['!!', foreign, 'a'.repeat(65)]) {
      assertValidation(await server.client.timeline(creds, long, `cursor=${cursor}`), ['querystring.cursor'], true);
    }
    assertValidation(await server.client.timeline(creds, long, 'limit=0&cursor=!!'), ['querystring.limit', 'querystring.cursor'], true);
    assertError(await server.client.timeline(creds, UNKNOWN_ID, 'limit=5'), 404, 'TASK_NOT_FOUND');
  });
});
