/*
 * The typed client (packages/client) against a real server: every method once, the iterators
 * across pages, and KuueriTasksError carrying the API's code, message and status. Credentials go
 * only to the operations the OpenAPI document secures.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { KuueriTasksClient, KuueriTasksError, OPERATIONS, type SubscribeBody } from '../../packages/client/src/index.js';
import { TargetServer } from '../helpers/target-server.js';
import { type TestServer, TEST_STORE, startTestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait.js';

let emails = 0;
const newEmail = (): string => `client${++emails}.${process.pid}.${Date.now()}@example.com`;

/** Asserts `promise` rejects with a KuueriTasksError of this status and code; answers it. */
async function rejectsWith(promise: Promise<unknown>, status: number, code: string): Promise<KuueriTasksError> {
  const error = await promise.then(
    () => assert.fail(`expected ${code}, but it succeeded`),
    (reason: unknown) => reason,
  );
  assert.ok(error instanceof KuueriTasksError, String(error));
  assert.equal(error.status, status, error.message);
  assert.equal(error.code, code, error.message);
  assert.ok(error.message.length > 0);
  return error;
}

describe('the typed client against a real server', () => {
  let server: TestServer;
  let target: TargetServer;
  let anonymous: KuueriTasksClient;
  let client: KuueriTasksClient;
  /** `METHOD /path` of every request the clients sent, to show each operation has its method. */
  const sent: string[] = [];
  const recordingFetch: typeof fetch = (input, init) => {
    sent.push(`${init?.method ?? 'GET'} ${new URL(input instanceof Request ? input.url : input).pathname}`);
    return fetch(input, init);
  };

  before(async () => {
    server = await startTestServer();
    target = await TargetServer.start((request) => ({ status: request.url.startsWith('/fail') ? 500 : 200 }));
    anonymous = new KuueriTasksClient({ url: server.url, fetch: recordingFetch });
    const project = await anonymous.register(newEmail());
    client = anonymous.withCredentials(project.id, project.token);
  });
  after(async () => {
    await server.close();
    await target.close();
  });

  const task = (path = '/hook', config: SubscribeBody['config'] = { executionDelay: '1h' }, tags?: string[]): SubscribeBody => ({
    httpRequest: { url: target.url(path), method: 'POST' },
    config,
    ...(tags ? { tags } : {}),
  });

  test('register answers the id and token; info the project; the public operations need no credentials', async () => {
    const email = newEmail();
    const project = await anonymous.register(email);
    assert.equal(project.id.length, 26);
    assert.match(project.token, /^kt_/);
    assert.match(project.signingSecret, /^whsec_/);
    const own = anonymous.withCredentials(project.id, project.token);
    const rotated = await own.rotateSigningSecret();
    assert.match(rotated.signingSecret, /^whsec_/);
    assert.notEqual(rotated.signingSecret, project.signingSecret);
    const info = await own.info();
    assert.equal(info.email, email);
    assert.equal(info.taskInQueue, 0);
    assert.deepEqual(await anonymous.health(), { status: 'ok', store: TEST_STORE });
    assert.equal((await anonymous.serviceIndex()).name, 'Kuueri Tasks');
    assert.equal((await anonymous.openApi()).openapi, '3.1.0');
  });

  test('subscribe, get, timeline, pause, resume, execute, reschedule, unsubscribe and delete, each typed as the API answers', async () => {
    const queued = await client.subscribe(task('/hook', { executionDelay: '1h', retry: 2 }, ['client']));
    assert.equal(queued.state, 'RUNNING');
    const got = await client.getTask(queued.id);
    assert.equal(got.id, queued.id);
    assert.equal(got.config.retry, 2);
    assert.deepEqual(got.tags, ['client']);
    assert.deepEqual(got.target, { method: 'POST', url: target.url('/hook') });

    assert.deepEqual(await client.pause(queued.id), { response: 'PAUSED' });
    assert.equal((await client.getTask(queued.id)).state, 'PAUSED');
    const resumed = await client.resume(queued.id);
    assert.equal(resumed.state, 'RUNNING');
    const rescheduled = await client.reschedule(queued.id, { executionDelay: '2h' });
    assert.ok(rescheduled.estimateExecAt > resumed.estimateExecAt, 'two hours from now is later than the hour left');
    const at = rescheduled.estimateExecAt + 60_000;
    assert.equal((await client.reschedule(queued.id, { executionAt: at })).estimateExecAt, at);

    const { entries, nextCursor } = await client.timeline(queued.id);
    assert.deepEqual(
      entries.map((entry) => entry.label),
      ['Subscribe', 'Pause', 'Resume', 'Reschedule', 'Reschedule'],
    );
    assert.equal(nextCursor, null);

    assert.deepEqual(await client.unsubscribe(queued.id), { response: 'UNSUBSCRIBED' });
    assert.deepEqual(await client.deleteTask(queued.id), { response: 'EMPTY' });
    await rejectsWith(client.getTask(queued.id), 404, 'TASK_NOT_FOUND');

    // execute: a task an hour away runs now, and the target sees it.
    const soon = await client.subscribe(task('/now'));
    assert.equal((await client.execute(soon.id)).id, soon.id);
    await target.waitForRequests(1, { path: '/now' });
    await waitFor('the executed task to complete', async () => (await client.getTask(soon.id)).state === 'COMPLETED');
  });

  test('subscribeBatch answers one result per item, in order: a task or its coded error', async () => {
    const results = await client.subscribeBatch([task(), { httpRequest: { url: 'ftp://nowhere', method: 'POST' } }, task()]);
    assert.deepEqual(
      results.map((result) => result.statusCode),
      [201, 400, 201],
    );
    assert.equal(results[0]?.task?.state, 'RUNNING');
    assert.equal(results[1]?.error?.code, 'VALIDATION_FAILED');
    assert.equal(results[1]?.error?.issues?.[0]?.field, 'httpRequest.url');
  });

  test('listTasks pages with filters; iterateTasks walks every page once, newest first', async () => {
    const project = await anonymous.register(newEmail());
    const own = anonymous.withCredentials(project.id, project.token);
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await own.subscribe(task('/hook', { executionDelay: '1h' }, i % 2 === 0 ? ['even'] : []))).id);
    await own.pause(ids[0]!);
    const newestFirst = [...ids].sort().reverse();

    const first = await own.listTasks({ limit: 3 });
    assert.deepEqual(
      first.tasks.map((t) => t.id),
      newestFirst.slice(0, 3),
    );
    assert.equal(typeof first.nextCursor, 'string');
    const second = await own.listTasks({ limit: 3, cursor: first.nextCursor! });
    assert.deepEqual(
      second.tasks.map((t) => t.id),
      newestFirst.slice(3, 6),
    );

    const walked: string[] = [];
    for await (const found of own.iterateTasks({ pageSize: 2 })) walked.push(found.id);
    assert.deepEqual(walked, newestFirst, 'four pages of two, every task once');

    const tagged: string[] = [];
    for await (const found of own.iterateTasks({ tag: 'even', pageSize: 1 })) tagged.push(found.id);
    assert.deepEqual(
      tagged,
      newestFirst.filter((id) => ids.indexOf(id) % 2 === 0),
    );

    assert.deepEqual(
      (await own.listTasks({ state: 'PAUSED' })).tasks.map((t) => t.id),
      [ids[0]],
    );
    assert.equal((await own.listTasks({ state: ['RUNNING', 'PAUSED'] })).tasks.length, 7);
    assert.equal((await own.listTasks({ host: '127.0.0.1', createdFrom: new Date(0), nextTo: Date.now() + 7_200_000 })).tasks.length, 6);
    assert.deepEqual((await own.listTasks({ createdTo: 1 })).tasks, []);
  });

  test('listTasks and iterateTasks by schedule (its runs) and by flow key; bulk by them', async () => {
    const project = await anonymous.register(newEmail());
    const own = anonymous.withCredentials(project.id, project.token);
    const keyed = (await own.subscribe({ ...task(), flowKey: 'k.1' })).id;
    await own.subscribe({ ...task(), flowKey: 'k.2' });
    const schedule = await own.createSchedule({
      cron: '* * * * * *',
      httpRequest: { url: target.url('/run'), method: 'POST' },
      flowKey: 'k.1',
    });
    const run = await waitFor('a run', async () => (await own.getSchedule(schedule.id)).lastTaskId);
    await own.pauseSchedule(schedule.id);
    const runs = (await own.listTasks({ schedule: schedule.id })).tasks;
    assert.ok(runs.length >= 1 && runs.some((t) => t.id === run), JSON.stringify(runs));
    assert.ok(runs.every((t) => t.scheduleId === schedule.id));
    const walked: string[] = [];
    for await (const found of own.iterateTasks({ flow: 'k.1', pageSize: 1 })) walked.push(found.id);
    assert.deepEqual(walked, [...runs.map((t) => t.id), keyed], 'the runs, newest first, then the task subscribed with the key');
    assert.deepEqual((await own.listTasks({ schedule: schedule.id, flow: 'k.2' })).tasks, []);
    await rejectsWith(own.listTasks({ schedule: 'not-an-id' }), 400, 'VALIDATION_FAILED');
    await rejectsWith(own.listTasks({ flow: 'no spaces' }), 400, 'VALIDATION_FAILED');
    await waitFor('the runs sent', async () => (await own.listTasks({ schedule: schedule.id, state: 'RUNNING' })).tasks.length === 0);
    const deleted = await own.bulk({ action: 'delete', filter: { schedule: schedule.id } });
    assert.equal(deleted.done, runs.length);
    assert.deepEqual(
      (await own.listTasks({ flow: 'k.1' })).tasks.map((t) => t.id),
      [keyed],
    );
    await own.deleteSchedule(schedule.id);
  });

  test('timeline pages follow the Link header; iterateTimeline walks them all', async () => {
    const queued = await client.subscribe(task());
    for (let i = 0; i < 3; i++) {
      await client.pause(queued.id);
      await client.resume(queued.id);
    }
    const first = await client.timeline(queued.id, { limit: 2 });
    assert.deepEqual(
      first.entries.map((e) => e.label),
      ['Subscribe', 'Pause'],
    );
    assert.equal(typeof first.nextCursor, 'string');
    const second = await client.timeline(queued.id, { limit: 2, cursor: first.nextCursor! });
    assert.deepEqual(
      second.entries.map((e) => e.label),
      ['Resume', 'Pause'],
    );
    const labels: string[] = [];
    for await (const entry of client.iterateTimeline(queued.id, { pageSize: 3 })) labels.push(entry.label);
    assert.deepEqual(labels, ['Subscribe', 'Pause', 'Resume', 'Pause', 'Resume', 'Pause', 'Resume']);
  });

  test('bulk, activity, inbox and clearInbox', async () => {
    const project = await anonymous.register(newEmail());
    const own = anonymous.withCredentials(project.id, project.token);
    const a = await own.subscribe(task('/hook', { executionDelay: '1h' }, ['bulk']));
    await own.subscribe(task('/hook', { executionDelay: '1h' }, ['bulk']));
    assert.deepEqual(await own.bulk({ action: 'pause', filter: { tag: 'bulk' } }), {
      done: 2,
      notFound: 0,
      notAllowed: 0,
      busy: 0,
      queueFull: 0,
    });
    assert.deepEqual(await own.bulk({ action: 'resume', ids: [a.id, '01KB0000000000000000000000'] }), {
      done: 1,
      notFound: 1,
      notAllowed: 0,
      busy: 0,
      queueFull: 0,
    });
    assert.equal((await own.activity()).minutes.length, 60);

    // Circuit breakers: off, on, a circuit that holds no record, off again.
    assert.deepEqual(await own.breakers(), { policy: null, circuits: [] });
    await assert.rejects(own.breakerPolicy(), (error: unknown) => error instanceof KuueriTasksError && error.code === 'BREAKERS_OFF');
    const breakerPolicy = { failureThreshold: 5, openMs: 30_000, maxOpenMs: 600_000 };
    assert.deepEqual(await own.setBreakerPolicy(breakerPolicy), { ...breakerPolicy, callbackUrl: null });
    assert.deepEqual(await own.breakerPolicy(), { ...breakerPolicy, callbackUrl: null });
    await assert.rejects(
      own.circuit('host', 'example.com'),
      (error: unknown) => error instanceof KuueriTasksError && error.code === 'CIRCUIT_NOT_FOUND',
    );
    await assert.rejects(
      own.resetCircuit('host', 'example.com'),
      (error: unknown) => error instanceof KuueriTasksError && error.status === 404,
    );
    assert.deepEqual(await own.deleteBreakerPolicy(), { response: 'EMPTY' });

    const { url } = await own.inbox();
    const sent = await own.subscribe({ httpRequest: { url, method: 'PUT', data: Buffer.from('hi').toString('base64') }, config: {} });
    await waitFor('the inbox to receive the task', async () => (await own.inbox()).requests.length === 1);
    assert.equal((await own.inbox()).requests[0]?.body, 'hi');
    assert.equal((await own.getTask(sent.id)).state, 'COMPLETED');
    assert.deepEqual(await own.clearInbox(), { response: 'EMPTY' });
    assert.deepEqual((await own.inbox()).requests, []);
  });

  test('putFlow, getFlow, listFlows, pauseFlow, resumeFlow and deleteFlow', async () => {
    const project = await anonymous.register(newEmail());
    const own = anonymous.withCredentials(project.id, project.token);
    const put = await own.putFlow('partner:a', { rate: { limit: 5, periodMs: 1000 }, parallelism: 2 });
    assert.deepEqual(put, {
      key: 'partner:a',
      rate: { limit: 5, periodMs: 1000 },
      parallelism: 2,
      ordered: false,
      paused: false,
      inFlight: 0,
      waiting: 0,
    });
    assert.equal((await own.pauseFlow('partner:a')).paused, true);
    assert.equal((await own.resumeFlow('partner:a')).paused, false);
    assert.deepEqual(await own.getFlow('partner:a'), put);
    assert.deepEqual(
      (await own.listFlows()).map((f) => f.key),
      ['partner:a'],
    );
    assert.deepEqual(await own.deleteFlow('partner:a'), { response: 'EMPTY' });
    await assert.rejects(
      own.getFlow('partner:a'),
      (error: unknown) => error instanceof KuueriTasksError && error.code === 'FLOW_NOT_FOUND',
    );
  });

  test('attempts pages the attempt log, newest first; replay runs a failed task again as a new task', async () => {
    // Retries an hour apart, each run now: three failed attempts, then ERROR.
    const failed = await client.subscribe(task('/fail', { executionDelay: '1h', retry: 2, retryInterval: '1h' }));
    for (let attempt = 1; attempt <= 3; attempt++) {
      await client.execute(failed.id);
      await waitFor(`attempt ${attempt}`, async () => (await client.attempts(failed.id)).attempts.length === attempt);
    }
    await waitFor('the task to end ERROR', async () => (await client.getTask(failed.id)).state === 'ERROR');
    const first = await client.attempts(failed.id, { limit: 2 });
    assert.deepEqual(
      first.attempts.map((a) => [a.attempt, a.statusCode]),
      [
        [3, 500],
        [2, 500],
      ],
    );
    assert.equal(typeof first.nextCursor, 'string');
    const all: number[] = [];
    for await (const attempt of client.iterateAttempts(failed.id, { pageSize: 1 })) all.push(attempt.attempt);
    assert.deepEqual(all, [3, 2, 1]);

    const replayed = await client.replay(failed.id);
    assert.notEqual(replayed.id, failed.id);
    assert.equal(replayed.state, 'RUNNING');
    await rejectsWith(client.replay(replayed.id), 409, 'TASK_NOT_REPLAYABLE');
  });

  test('schedules: create, list, read, pause, resume and delete', async () => {
    const created = await client.createSchedule({
      cron: '0 9 * * 1-5',
      timezone: 'Europe/Berlin',
      httpRequest: { url: target.url('/scheduled'), method: 'POST' },
      config: { retry: 2 },
      tags: ['nightly'],
    });
    assert.equal(created.state, 'ACTIVE');
    assert.equal(created.timezone, 'Europe/Berlin');
    assert.equal(created.overlap, 'skip');
    assert.equal(created.catchUp, 'latest');
    assert.equal(typeof created.nextRunAt, 'number');
    assert.deepEqual(created.target, { method: 'POST', url: target.url('/scheduled') });
    assert.deepEqual((await client.getSchedule(created.id)).id, created.id);
    assert.deepEqual(
      (await client.listSchedules({ limit: 10 })).schedules.map((s) => s.id),
      [created.id],
    );
    const paused = await client.pauseSchedule(created.id);
    assert.equal(paused.state, 'PAUSED');
    assert.equal(paused.nextRunAt, null);
    await rejectsWith(client.pauseSchedule(created.id), 409, 'SCHEDULE_STATE_CONFLICT');
    const resumed = await client.resumeSchedule(created.id);
    assert.equal(resumed.state, 'ACTIVE');
    assert.deepEqual(await client.deleteSchedule(created.id), { response: 'EMPTY' });
    await rejectsWith(client.getSchedule(created.id), 404, 'SCHEDULE_NOT_FOUND');
  });

  test('errors are KuueriTasksError with the API code, message, status and issues', async () => {
    await rejectsWith(client.getTask('01KB0000000000000000000000'), 404, 'TASK_NOT_FOUND');
    const invalid = await rejectsWith(
      client.subscribe({ httpRequest: { url: 'nope', method: 'POST' }, config: { retry: -1 } }),
      400,
      'VALIDATION_FAILED',
    );
    assert.deepEqual(invalid.issues.map((issue) => issue.field).sort(), ['config.retry', 'httpRequest.url']);
    const email = newEmail();
    await anonymous.register(email);
    await rejectsWith(anonymous.register(email), 409, 'EMAIL_TAKEN');
    await rejectsWith(anonymous.info(), 401, 'UNAUTHORIZED');
    await rejectsWith(client.withCredentials(client.project!, 'kt_wrong').info(), 401, 'UNAUTHORIZED');
    const queued = await client.subscribe(task());
    await rejectsWith(client.resume(queued.id), 409, 'TASK_STATE_CONFLICT');
    await rejectsWith(client.deleteTask(queued.id), 409, 'TASK_STATE_CONFLICT');
    await rejectsWith(client.timeline(queued.id, { cursor: 'not-a-cursor' }), 400, 'VALIDATION_FAILED');
  });

  test('an answer that is not the API error body is UNEXPECTED_ANSWER; an empty id is refused before sending', async () => {
    const proxy = await TargetServer.start(() => ({ status: 502, body: '<html>Bad Gateway</html>' }));
    try {
      const behindProxy = new KuueriTasksClient({ url: proxy.url('/'), project: 'p', token: 't' });
      await rejectsWith(behindProxy.info(), 502, 'UNEXPECTED_ANSWER');
      proxy.respond(() => ({ status: 200, body: 'not json' }));
      await rejectsWith(behindProxy.info(), 200, 'UNEXPECTED_ANSWER');
      const requests = proxy.requests.length;
      await assert.rejects(behindProxy.getTask(''), TypeError);
      assert.equal(proxy.requests.length, requests, 'nothing was sent');
    } finally {
      await proxy.close();
    }
    assert.throws(() => new KuueriTasksClient({ url: 'ftp://example.com' }), TypeError);
  });

  test('the token and project go to the secured operations only, as the OpenAPI document says', async () => {
    const recorder = await TargetServer.start(() => ({ status: 200, body: '{}', headers: { 'content-type': 'application/json' } }));
    try {
      const spy = new KuueriTasksClient({ url: `${recorder.url('/prefix')}/`, project: 'p1', token: 'kt_secret' });
      await spy.health();
      await spy.register('x@example.com');
      await spy.info();
      await spy.listTasks({ state: ['RUNNING', 'PAUSED'], tag: 't', limit: 5 });
      await spy.listTasks({ schedule: 'S1', flow: 'f:1' });
      const seen = recorder.requests.map((r) => [
        r.method,
        r.url,
        r.headers.authorization ?? '-',
        r.headers['x-kuueri-tasks-project'] ?? '-',
      ]);
      assert.deepEqual(seen, [
        ['GET', '/prefix/healthz', '-', '-'],
        ['POST', '/prefix/v1beta/register', '-', '-'],
        ['GET', '/prefix/v1beta/info', 'Bearer kt_secret', 'p1'],
        ['GET', '/prefix/v1beta/queues?state=RUNNING%2CPAUSED&tag=t&limit=5', 'Bearer kt_secret', 'p1'],
        ['GET', '/prefix/v1beta/queues?schedule=S1&flow=f%3A1', 'Bearer kt_secret', 'p1'],
      ]);
      assert.equal(OPERATIONS.register.auth, false);
      assert.equal(OPERATIONS.subscribe.auth, true);
    } finally {
      await recorder.close();
    }
  });

  test('every operation of the OpenAPI document has a client method, called above', () => {
    // /metrics is for Prometheus, not for a project's client.
    const missing = Object.entries(OPERATIONS)
      .filter(([id]) => id !== 'metrics')
      .filter(([, op]) => {
        const path = new RegExp(`^${op.method} ${op.path.replace(/\{\w+\}/g, '[^/]+')}$`);
        return !sent.some((request) => path.test(request));
      })
      .map(([id]) => id);
    assert.deepEqual(missing, []);
  });
});
