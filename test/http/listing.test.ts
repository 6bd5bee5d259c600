import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestClock } from '../../src/core/clock.js';
import { BULK, type ScheduleView, type TaskListView, type TaskView } from '../../src/core/shapes.js';
import { UNKNOWN_ID, assertValidation } from '../helpers/api-assertions.js';
import type { ApiResponse, Credentials } from '../helpers/api-client.js';
import { subscribeOk, waitForState } from '../helpers/api-tasks.js';
import { TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait.js';

type Json = Record<string, unknown>;

describe('GET /v1beta/queues and POST /v1beta/queues/bulk', () => {
  let server: TestServer;
  let target: TargetServer;

  before(async () => {
    server = await startTestServer({ env: { TASKS_QUEUE_LIMIT: '100000' } });
    target = await TargetServer.start();
  });
  after(async () => {
    await server.close();
    await target.close();
  });

  const body = (extra: Json = {}, delay = '1h', path = '/hook'): Json => ({
    httpRequest: { url: target.url(path), method: 'POST' },
    config: { executionDelay: delay },
    ...extra,
  });
  const list = (creds: Credentials, query = ''): ReturnType<TestServer['client']['request']> =>
    server.client.request('GET', `/v1beta/queues${query === '' ? '' : `?${query}`}`, { creds });
  const page = async (creds: Credentials, query = ''): Promise<TaskListView & { link: string | null }> => {
    const res = await list(creds, query);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return { ...(res.body as TaskListView), link: res.headers.get('link') };
  };
  const bulk = (creds: Credentials, payload: unknown): ReturnType<TestServer['client']['request']> =>
    server.client.request('POST', '/v1beta/queues/bulk', { creds, body: payload });
  const sortedDesc = (ids: string[]): string[] => [...ids].sort().reverse();

  test('a page of task views, newest first, with nextCursor and a Link to the next page; filters', async () => {
    const creds = await server.client.register();
    const other = await server.client.register();
    await subscribeOk(server.client, other, body({ tags: ['blue'] }));
    const blue: string[] = [];
    for (let i = 0; i < 3; i++) blue.push((await subscribeOk(server.client, creds, body({ tags: ['blue', `n${i}`] }))).id);
    const plain = (await subscribeOk(server.client, creds, { ...body(), httpRequest: { url: 'http://Example.COM:9/x', method: 'GET' } }))
      .id;
    const paused = (await subscribeOk(server.client, creds, body({ tags: ['blue'] }))).id;
    assert.equal((await server.client.pause(creds, paused)).status, 200);

    const first = await page(creds, 'limit=2');
    assert.deepEqual(
      first.tasks.map((t) => t.id),
      sortedDesc([...blue, plain, paused]).slice(0, 2),
    );
    assert.equal(typeof first.nextCursor, 'string');
    assert.equal(first.link, `</v1beta/queues?limit=2&cursor=${first.nextCursor}>; rel="next"`);
    const all: string[] = [];
    for (let cursor: string | null = null, n = 0; n < 10; n++) {
      const p: TaskListView & { link: string | null } = await page(creds, `limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      all.push(...p.tasks.map((t) => t.id));
      cursor = p.nextCursor;
      if (cursor === null) {
        assert.equal(p.link, null);
        break;
      }
    }
    assert.deepEqual(all, sortedDesc([...blue, plain, paused]), "every task of the project once, none of another's");

    const view = (await page(creds, `tag=n1`)).tasks;
    assert.equal(view.length, 1);
    assert.deepEqual(view[0]!.tags, ['blue', 'n1']);
    assert.deepEqual(view[0]!.target, { method: 'POST', url: target.url('/hook') });
    const ids = async (query: string): Promise<string[]> => (await page(creds, query)).tasks.map((t) => t.id);
    assert.deepEqual(await ids('tag=blue&state=PAUSED'), [paused]);
    assert.deepEqual(await ids('state=RUNNING,PAUSED&tag=blue'), sortedDesc([...blue, paused]));
    assert.deepEqual(await ids('host=EXAMPLE.com'), [plain], 'the host matched case-insensitively through its digest');
    assert.deepEqual(await ids('host=example.org'), []);
    assert.deepEqual(await ids('nextFrom=1'), sortedDesc([...blue, plain]), 'a paused task has no next execution');
    const created = (await server.client.task(creds, blue[1]!)).body.estimateStartAt as number;
    assert.ok((await ids(`createdFrom=${created}&createdTo=${created + 1}`)).includes(blue[1]!));
    assert.deepEqual(
      await ids(`createdTo=${created}`),
      (await ids('')).filter((id) => id < blue[1]!.slice(0, 10)),
    );
  });

  test('bad parameters: 400 VALIDATION_FAILED naming each', async () => {
    const creds = await server.client.register();
    assertValidation(
      await list(creds, 'state=RUNNING,DONE&tag=-x&host=a/b&createdFrom=yesterday&nextTo=1.5&limit=1001&cursor=nope'),
      [
        'querystring.state',
        'querystring.tag',
        'querystring.host',
        'querystring.createdFrom',
        'querystring.nextTo',
        'querystring.limit',
        'querystring.cursor',
      ],
      true,
    );
    assertValidation(await list(creds, 'schedule=nope&flow=-x'), ['querystring.schedule', 'querystring.flow'], true);
    assertValidation(
      await list(creds, `schedule=${UNKNOWN_ID.toLowerCase()}&flow=${'f'.repeat(65)}`),
      ['querystring.schedule', 'querystring.flow'],
      true,
    );
    assertValidation(await list(creds, 'limit=0'), ['querystring.limit'], true);
    assertValidation(await list(creds, 'state='), ['querystring.state'], true);
  });

  test('paging while tasks are added and change state: every task that existed before the first page comes once', async () => {
    const creds = await server.client.register();
    const before: string[] = [];
    const later: string[] = [];
    for (let i = 0; i < 30; i++) {
      // Half run at once and finish while the pages are read; half wait, to be paused and cancelled.
      before.push((await subscribeOk(server.client, creds, body({}, i % 2 === 0 ? '1ms' : '1h', `/p${i}`))).id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let n = 0; n < 100; n++) {
      const p: TaskListView & { link: string | null } = await page(creds, `limit=4${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...p.tasks.map((t) => t.id));
      // Writes between pages: new tasks, and pauses and cancels of tasks on both sides of the cursor.
      later.push((await subscribeOk(server.client, creds, body())).id);
      const waiting = before.filter((_, i) => i % 2 === 1);
      await server.client.pause(creds, waiting[n % waiting.length]!);
      await server.client.unsubscribe(creds, waiting[(n * 7 + 3) % waiting.length]!);
      cursor = p.nextCursor;
      if (cursor === null) break;
    }
    const existing = new Set(before);
    const repeated = seen.filter((id, i) => seen.indexOf(id) !== i);
    assert.deepEqual(repeated, [], 'none repeated');
    assert.deepEqual(
      before.filter((id) => !seen.includes(id)),
      [],
      'none skipped',
    );
    assert.ok(
      seen.every((id) => existing.has(id) || later.includes(id)),
      'nothing else',
    );
    await waitForState(server.client, creds, before[0]!, 'COMPLETED');
  });

  test('bulk by ids: each outcome counted; the single routes agree', async () => {
    const creds = await server.client.register();
    const running = (await subscribeOk(server.client, creds, body())).id;
    const paused = (await subscribeOk(server.client, creds, body())).id;
    assert.equal((await server.client.pause(creds, paused)).status, 200);
    let res = await bulk(creds, { action: 'pause', ids: [running, paused, UNKNOWN_ID, 'not-an-id', running] });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { done: 1, notFound: 2, notAllowed: 1, busy: 0, queueFull: 0 });
    assert.equal((await server.client.task(creds, running)).body.state, 'PAUSED');
    res = await bulk(creds, { action: 'resume', ids: [running, paused] });
    assert.deepEqual(res.body, { done: 2, notFound: 0, notAllowed: 0, busy: 0, queueFull: 0 });
    res = await bulk(creds, { action: 'delete', ids: [running] });
    assert.deepEqual(res.body, { done: 0, notFound: 0, notAllowed: 1, busy: 0, queueFull: 0 }, 'a RUNNING task is not deleted');
    res = await bulk(creds, { action: 'unsubscribe', ids: [running, paused] });
    assert.deepEqual(res.body, { done: 2, notFound: 0, notAllowed: 0, busy: 0, queueFull: 0 });
    res = await bulk(creds, { action: 'delete', ids: [running, paused] });
    assert.deepEqual(res.body, { done: 2, notFound: 0, notAllowed: 0, busy: 0, queueFull: 0 });
    assert.equal((await server.client.task(creds, running)).status, 404);
  });

  test('bulk: exactly one of ids and filter; the body checked like every other', async () => {
    const creds = await server.client.register();
    assertValidation(await bulk(creds, { action: 'pause' }), ['body'], true);
    assertValidation(await bulk(creds, { action: 'pause', ids: [UNKNOWN_ID], filter: {} }), ['body'], true);
    assertValidation(await bulk(creds, { action: 'stop', ids: [] }), ['action', 'ids'], true);
    assertValidation(await bulk(creds, { action: 'pause', filter: { state: ['NOPE'], tag: ' ', host: 'a b', x: 1 } }), [
      'filter.state.0',
      'filter.tag',
      'filter.x',
    ]);
    assertValidation(await bulk(creds, { action: 'pause', filter: { host: 'a b' } }), ['filter.host'], true);
    assertValidation(await bulk(creds, { action: 'pause', filter: { schedule: 'nope' } }), ['filter.schedule'], true);
    assertValidation(await bulk(creds, { action: 'pause', filter: { flow: 'a b' } }), ['filter.flow'], true);
    assertValidation(await bulk(creds, { action: 'pause', ids: Array.from({ length: 1001 }, () => UNKNOWN_ID) }), ['ids'], true);
  });

  test('bulk by filter: works through every match in batches while other requests are answered', async () => {
    const creds = await server.client.register();
    const count = 1_000;
    for (let i = 0; i < count; i += 50) {
      await Promise.all(Array.from({ length: 50 }, () => subscribeOk(server.client, creds, body({ tags: ['big'] }))));
    }
    const keep = (await subscribeOk(server.client, creds, body({ tags: ['small'] }))).id;
    const queued = async (): Promise<number> => (await server.client.info(creds)).body.taskInQueue as number;
    assert.equal(await queued(), count + 1);

    // Between two pages the action waits for the store; the server must answer meanwhile. A request
    // made while the second page is being read sees the first page done and nothing more.
    const store = server.server.store;
    const listTasks = store.listTasks.bind(store);
    const limits: number[] = [];
    let between: number | null = null;
    store.listTasks = async (projectId, query) => {
      limits.push(query.limit);
      if (limits.length === 2) between = await queued();
      return listTasks(projectId, query);
    };
    try {
      const res = await bulk(creds, { action: 'unsubscribe', filter: { tag: 'big', state: ['RUNNING'] } });
      assert.deepEqual(res.body, { done: count, notFound: 0, notAllowed: 0, busy: 0, queueFull: 0 });
    } finally {
      store.listTasks = listTasks;
    }
    assert.equal(between, count + 1 - BULK.batch, 'answered between the first page and the second');
    assert.ok(
      limits.every((limit) => limit === BULK.batch),
      `pages of ${BULK.batch}: ${JSON.stringify(limits)}`,
    );
    // A store may not know a full last page is the last: then one more page finds nothing.
    assert.ok([0, 1].includes(limits.length - count / BULK.batch), `${limits.length} pages for ${count} tasks`);
    assert.equal(await queued(), 1);
    assert.equal((await server.client.task(creds, keep)).body.state, 'RUNNING');
    const again = await bulk(creds, { action: 'delete', filter: { tag: 'big' } });
    assert.deepEqual(again.body, { done: count, notFound: 0, notAllowed: 0, busy: 0, queueFull: 0 });
    assert.deepEqual((await page(creds, 'tag=big')).tasks, []);
  });
});

/*
 * Listings by schedule and by flow key, with the runs of real schedules: the server's clock is a
 * test clock, moved to just before each run's instant (within the lead, so the run is made on time)
 * and then to the instant, so the run is sent and completes; the last run is left waiting.
 */
describe('GET /v1beta/queues?schedule=&flow=, and bulk actions by them', () => {
  const MINUTE = 60_000;
  const clock = new TestClock(Math.floor(Date.now() / MINUTE) * MINUTE + 10_000);
  let server: TestServer;
  let target: TargetServer;
  let creds: Credentials;

  before(async () => {
    server = await startTestServer({ overrides: { clock } });
    target = await TargetServer.start(() => ({ status: 200 }));
    creds = await server.client.register();
  });
  after(async () => {
    await server?.close();
    await target?.close();
  });

  const ids = async (query: string): Promise<string[]> => {
    const res = await server.client.request<TaskListView>('GET', `/v1beta/queues?${query}`, { creds });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.tasks.map((t) => t.id);
  };
  const schedule = async (id: string): Promise<ScheduleView> => {
    const res = await server.client.request<ScheduleView>('GET', `/v1beta/schedules/${id}`, { creds });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  const create = async (path: string, extra: Json = {}): Promise<ScheduleView> => {
    const body = { cron: '* * * * *', overlap: 'allow', httpRequest: { url: target.url(path), method: 'POST' }, ...extra };
    const res = await server.client.request<ScheduleView>('POST', '/v1beta/schedules', { creds, body });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body;
  };

  test("a schedule's runs, newest first, with the other filters and page by page; a flow key's tasks; bulk by both", async () => {
    const nightly = await create('/nightly', { flowKey: 'nightly' });
    const hourly = await create('/hourly');
    const direct = (
      await subscribeOk(server.client, creds, {
        httpRequest: { url: target.url('/direct'), method: 'POST' },
        config: { executionDelay: '1h' },
        flowKey: 'nightly',
      })
    ).id;

    // Three runs of each schedule: the first two sent and COMPLETED, the third waiting for its instant.
    for (let run = 1; run <= 3; run++) {
      const instant = (await schedule(nightly.id)).nextRunAt!;
      clock.set(instant - 500);
      server.server.scheduler.wake(instant);
      await waitFor(
        `run ${run} of both schedules`,
        async () => (await schedule(nightly.id)).runs === run && (await schedule(hourly.id)).runs === run,
      );
      if (run === 3) break;
      clock.set(instant);
      await waitFor(`run ${run} COMPLETED`, async () => (await ids(`schedule=${nightly.id}&state=COMPLETED`)).length === run);
    }
    const runs = await ids(`schedule=${nightly.id}`);
    assert.equal(runs.length, 3);
    assert.deepEqual(runs, [...runs].sort().reverse(), 'newest first');
    assert.equal(runs[0], (await schedule(nightly.id)).lastTaskId, 'the newest is the last run');
    const listed = (await server.client.request<TaskListView>('GET', `/v1beta/queues?schedule=${nightly.id}`, { creds })).body.tasks;
    assert.ok(
      listed.every((t: TaskView) => t.scheduleId === nightly.id && t.flowKey === 'nightly'),
      'every one a run of the schedule',
    );
    const hourlyRuns = await ids(`schedule=${hourly.id}`);
    assert.equal(hourlyRuns.length, 3);
    assert.ok(!hourlyRuns.some((id) => runs.includes(id)), "another schedule's runs are its own");
    assert.deepEqual(await ids(`schedule=${UNKNOWN_ID}`), [], 'an unknown schedule has no runs');

    // With the state filter, and with each other.
    assert.deepEqual(await ids(`schedule=${nightly.id}&state=COMPLETED`), runs.slice(1));
    assert.deepEqual(await ids(`state=RUNNING,PAUSED&schedule=${nightly.id}`), runs.slice(0, 1));
    assert.deepEqual(await ids(`flow=nightly`), [...runs, direct], 'the runs and the task subscribed with the key, newest first');
    assert.deepEqual(await ids(`flow=nightly&state=RUNNING`), [runs[0], direct]);
    assert.deepEqual(await ids(`flow=nightly&schedule=${hourly.id}`), [], 'the other schedule gives its runs no flow key');
    assert.deepEqual(await ids(`flow=night`), [], 'a flow key matches whole');

    // Page by page from the cursor, the Link header keeping the filters.
    for (const query of [`schedule=${nightly.id}`, 'flow=nightly', `schedule=${nightly.id}&flow=nightly&state=COMPLETED`]) {
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let n = 0; n < 10; n++) {
        const res: ApiResponse<TaskListView> = await server.client.request<TaskListView>(
          'GET',
          `/v1beta/queues?${query}&limit=1${cursor ? `&cursor=${cursor}` : ''}`,
          {
            creds,
          },
        );
        assert.equal(res.status, 200, JSON.stringify(res.body));
        seen.push(...res.body.tasks.map((t) => t.id));
        cursor = res.body.nextCursor;
        if (cursor === null) break;
        assert.equal(res.headers.get('link'), `</v1beta/queues?${query}&limit=1&cursor=${cursor}>; rel="next"`);
      }
      assert.deepEqual(seen, await ids(query), `${query}: every task once, in order`);
    }

    // Bulk actions take the same filters.
    const bulk = (payload: Json): ReturnType<TestServer['client']['request']> =>
      server.client.request('POST', '/v1beta/queues/bulk', { creds, body: payload });
    let res = await bulk({ action: 'pause', filter: { schedule: nightly.id } });
    assert.deepEqual(
      res.body,
      { done: 1, notFound: 0, notAllowed: 2, busy: 0, queueFull: 0 },
      'the waiting run paused, the finished ones not',
    );
    assert.deepEqual(await ids(`schedule=${nightly.id}&state=PAUSED`), runs.slice(0, 1));
    res = await bulk({ action: 'delete', filter: { flow: 'nightly', state: ['COMPLETED'] } });
    assert.deepEqual(res.body, { done: 2, notFound: 0, notAllowed: 0, busy: 0, queueFull: 0 });
    assert.deepEqual(await ids(`schedule=${nightly.id}`), runs.slice(0, 1), 'the deleted runs are no longer listed');
    assert.deepEqual(await ids('flow=nightly'), [runs[0], direct]);
    assert.equal((await ids(`schedule=${hourly.id}`)).length, 3, "the other schedule's runs untouched");
  });
});
