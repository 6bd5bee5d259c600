import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestClock } from '../../src/core/clock.js';
import { STOP_RETRY_HEADER } from '../../src/core/retry-policy.js';
import type { TaskView } from '../../src/core/shapes.js';
import type { Credentials } from '../helpers/api-client.js';
import { getTimeline, subscribeOk, waitForTask } from '../helpers/api-tasks.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { type TargetAnswer, TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';

/**
 * The opt-in retry policy (core/retry-policy.ts) against a real target. The server runs on a test
 * clock that moves only when a test moves it, so the time a retry is scheduled for is exact: its
 * distance from the clock is the delay the policy chose. The jitter comes from a seeded source,
 * and the test draws the same numbers from a second source with the same seed. Tests run one after
 * the other: they share the clock and the jitter's source.
 */
const SEED = 20_261_206;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** What each path answers, attempt after attempt (the last answer repeats). */
const SCRIPTS: Record<string, TargetAnswer[]> = {
  '/backoff': [{ status: 500 }],
  '/final-404': [{ status: 404 }],
  '/only-503': [{ status: 500 }],
  '/listed-503': [{ status: 503 }, { status: 200 }],
  '/after-seconds': [{ status: 429, headers: { 'Retry-After': '120' } }],
  '/after-date': [{ status: 503 }],
  '/after-long': [{ status: 503, headers: { 'Retry-After': '7200' } }],
  '/after-default-cap': [{ status: 429, headers: { 'Retry-After': '999999' } }],
  '/after-on-500': [{ status: 500, headers: { 'Retry-After': '120' } }],
  '/stop': [{ status: 500, headers: { [STOP_RETRY_HEADER]: 'true' } }],
  '/duration-cap': [{ status: 500 }],
  '/seed': [{ status: 503, headers: { 'Retry-After': '120', [STOP_RETRY_HEADER]: 'true' } }],
};

describe('retry policy', () => {
  const clock = new TestClock(Date.now());
  let server: TestServer;
  let target: TargetServer;
  let creds: Credentials;
  /** What a path answers on its next request; tests may set it before the request is sent. */
  const overrides = new Map<string, TargetAnswer>();

  before(async () => {
    server = await startTestServer({ overrides: { clock, random: seededRandom(SEED) } });
    target = await TargetServer.start((request) => {
      const path = request.url.split('?')[0]!;
      const override = overrides.get(path);
      if (override) return override;
      const script = SCRIPTS[path] ?? [{ status: 200 }];
      return script[Math.min(target.requestsOn(path).length - 1, script.length - 1)]!;
    });
    creds = await server.client.register();
  });
  after(async () => {
    await server?.close();
    await target?.close();
  });

  async function subscribe(path: string, config: Record<string, unknown>): Promise<string> {
    const queued = await subscribeOk(server.client, creds, { httpRequest: { url: target.url(path), method: 'POST' }, config });
    clock.advance(1); // the first execution is due
    return queued.id;
  }

  /** The task once its `attempts`-th attempt is recorded. */
  const recorded = (id: string, attempts: number): Promise<TaskView> =>
    waitForTask(server.client, creds, id, (t) => t.updates.attempts === attempts);

  /** The task once its n-th attempt is recorded and it waits for a retry: answers the delay chosen. */
  async function nextDelay(id: string, attempts: number): Promise<number> {
    const task = await recorded(id, attempts);
    assert.equal(task.state, 'RUNNING', `still retrying after attempt ${attempts}: ${JSON.stringify(task)}`);
    assert.equal(task.currentlyRetry, true);
    return task.estimateExecAt - clock.now();
  }

  /** The task once its n-th attempt ended it, with its last timeline entry. */
  async function endedAfter(id: string, attempts: number): Promise<{ task: TaskView; last: string }> {
    const task = await recorded(id, attempts);
    const timeline = await getTimeline(server.client, creds, id);
    return { task, last: timeline.at(-1)!.description };
  }

  test('backoff: base × factor^(n-1), capped, with full jitter drawn from the injected source', async () => {
    const draws = seededRandom(SEED);
    const base = 10_000;
    const cap = 25_000;
    const id = await subscribe('/backoff', {
      retry: 4,
      retryPolicy: { backoff: { baseMs: '10s', factor: 2, capMs: '25s', jitter: 'full' } },
    });
    for (let n = 1; n <= 4; n++) {
      const expected = Math.floor(draws() * Math.min(cap, base * 2 ** (n - 1)));
      const delay = await nextDelay(id, n);
      assert.equal(delay, expected, `retry ${n}`);
      clock.advance(delay);
    }
    const { task, last } = await endedAfter(id, 5);
    assert.equal(task.state, 'ERROR');
    assert.match(last, /no retries left/);
  });

  test('backoff without jitter is the exact sequence, held at its cap', async () => {
    const id = await subscribe('/backoff', {
      retry: 4,
      retryPolicy: { backoff: { baseMs: 1_000, factor: 3, capMs: '20s', jitter: 'none' } },
    });
    for (const [n, expected] of [1_000, 3_000, 9_000, 20_000].entries()) {
      const delay = await nextDelay(id, n + 1);
      assert.equal(delay, expected, `retry ${n + 1}`);
      clock.advance(delay);
    }
  });

  test('a status in finalStatuses ends the task at once, retries left or not', async () => {
    const id = await subscribe('/final-404', { retry: 5, retryPolicy: { finalStatuses: [404] } });
    const { task, last } = await endedAfter(id, 1);
    assert.equal(task.state, 'ERROR');
    assert.equal(task.statusCode, 404);
    assert.match(last, /status code 404 is final/);
  });

  test('with retryStatuses, a status not listed ends the task; a listed one is retried', async () => {
    const only = await subscribe('/only-503', { retry: 5, retryPolicy: { retryStatuses: [503, 429] } });
    const ended = await endedAfter(only, 1);
    assert.equal(ended.task.state, 'ERROR');
    assert.match(ended.last, /status code 500 is not retried/);

    const listed = await subscribe('/listed-503', { retry: 5, retryInterval: '5s', retryPolicy: { retryStatuses: [503] } });
    clock.advance(await nextDelay(listed, 1));
    const done = await recorded(listed, 2);
    assert.equal(done.state, 'COMPLETED');
  });

  test('Retry-After in seconds on a 429 sets the next retry, later than the interval', async () => {
    const id = await subscribe('/after-seconds', { retry: 2, retryInterval: '1s', retryPolicy: {} });
    assert.equal(await nextDelay(id, 1), 120_000);
  });

  test('Retry-After as an HTTP date on a 503 is honoured to the second', async () => {
    const date = new Date(clock.now() + 5 * MINUTE).toUTCString();
    overrides.set('/after-date', { status: 503, headers: { 'Retry-After': date } });
    const id = await subscribe('/after-date', { retry: 2, retryInterval: '1s', retryPolicy: {} });
    // The date names whole seconds: the delay is to that second, from the clock as it stands.
    assert.equal(await nextDelay(id, 1), Date.parse(date) - clock.now());
    overrides.delete('/after-date');
  });

  test('Retry-After is capped by retryAfterCapMs, and by one hour by default', async () => {
    const capped = await subscribe('/after-long', { retry: 2, retryInterval: '1s', retryPolicy: { retryAfterCapMs: '30m' } });
    assert.equal(await nextDelay(capped, 1), 30 * MINUTE);
    const byDefault = await subscribe('/after-default-cap', { retry: 2, retryInterval: '1s', retryPolicy: {} });
    assert.equal(await nextDelay(byDefault, 1), HOUR);
  });

  test('Retry-After is read only on 429 and 503, and not at all with honorRetryAfter false', async () => {
    const on500 = await subscribe('/after-on-500', { retry: 2, retryInterval: '1s', retryExponential: false, retryPolicy: {} });
    assert.equal(await nextDelay(on500, 1), 1_000);
    const off = await subscribe('/after-seconds', {
      retry: 2,
      retryInterval: '1s',
      retryExponential: false,
      retryPolicy: { honorRetryAfter: false },
    });
    assert.equal(await nextDelay(off, 1), 1_000);
  });

  test(`the target's ${STOP_RETRY_HEADER}: true ends the task, retries left or not`, async () => {
    const id = await subscribe('/stop', { retry: 5, retryPolicy: {} });
    const { task, last } = await endedAfter(id, 1);
    assert.equal(task.state, 'ERROR');
    assert.match(last, /the target asked not to retry/);
  });

  test('maxRetryDurationMs: no retry starts later than that after the run’s first failure', async () => {
    const id = await subscribe('/duration-cap', {
      retry: 10,
      retryInterval: '10s',
      retryExponential: false,
      retryPolicy: { maxRetryDurationMs: '25s' },
    });
    clock.advance(await nextDelay(id, 1)); // retry 1 at +10 s
    clock.advance(await nextDelay(id, 2)); // retry 2 at +20 s
    const { task, last } = await endedAfter(id, 3); // retry 3 would be at +30 s
    assert.equal(task.state, 'ERROR');
    assert.equal(task.updates.retryCount, 2);
    assert.match(last, /would pass retryPolicy\.maxRetryDurationMs/);
  });

  test("without a policy the seed's rules hold: Retry-After and the stop header are not read", async () => {
    const id = await subscribe('/seed', { retry: 2, retryInterval: '2s', retryExponential: false });
    assert.equal(await nextDelay(id, 1), 2_000);
    const view = (await server.client.task(creds, id)).body as unknown as TaskView;
    assert.equal('retryPolicy' in view.config, false, 'no policy is shown when none was given');
  });

  test('the policy is shown in the config with its defaults, and bad policies are refused with every issue', async () => {
    const id = await subscribe('/backoff', { retry: 1, retryPolicy: { backoff: { baseMs: '2s' } } });
    const view = (await server.client.task(creds, id)).body as unknown as TaskView;
    assert.deepEqual(view.config.retryPolicy, {
      backoff: { baseMs: 2_000, factor: 2, capMs: HOUR, jitter: 'full' },
      honorRetryAfter: true,
      retryAfterCapMs: HOUR,
      maxRetryDurationMs: 0,
    });

    const res = await server.client.subscribe(creds, {
      httpRequest: { url: target.url('/backoff'), method: 'POST' },
      config: {
        retry: 1,
        retryPolicy: {
          backoff: { baseMs: '1m', capMs: '10s', factor: 0.5 },
          retryStatuses: [503, 200],
          finalStatuses: [404],
          unknown: true,
        },
      },
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.code, 'VALIDATION_FAILED');
    const fields = (res.body.issues as { field: string }[]).map((i) => i.field).sort();
    assert.deepEqual(fields, ['config.retryPolicy.backoff.factor', 'config.retryPolicy.retryStatuses.1', 'config.retryPolicy.unknown']);

    const semantic = await server.client.subscribe(creds, {
      httpRequest: { url: target.url('/backoff'), method: 'POST' },
      config: { retry: 1, retryPolicy: { backoff: { baseMs: '1m', capMs: '10s' }, retryStatuses: [503], finalStatuses: [503] } },
    });
    assert.equal(semantic.status, 400);
    assert.deepEqual((semantic.body.issues as { field: string }[]).map((i) => i.field).sort(), [
      'config.retryPolicy.backoff.capMs',
      'config.retryPolicy.finalStatuses',
    ]);
  });
});
