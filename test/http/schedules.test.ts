/*
 * Schedules through the API, against a real server and target (on SQLite, then on Redis): runs
 * become tasks linked to their schedule, on the instants of the cron expression; the routes answer
 * the documented shape; a restart neither loses nor doubles a run.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ScheduleView } from '../../src/core/shapes.js';
import { assertError, assertValidation } from '../helpers/api-assertions.js';
import type { Credentials } from '../helpers/api-client.js';
import { getTask, getTimeline, labelsOf } from '../helpers/api-tasks.js';
import { TargetServer } from '../helpers/target-server.js';
import { type TestServer, startTestServer } from '../helpers/test-server.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';

import type { RecordedRequest } from '../helpers/target-server.js';

const SECOND = 1_000;

/** The task a delivery came from: its webhook-id is msg_<task id>_<repeat count>. */
const taskIdOf = (request: RecordedRequest): string => String(request.headers['webhook-id']).split('_')[1]!;

describe('schedules', { concurrency: true }, () => {
  let server: TestServer;
  let target: TargetServer;
  let creds: Credentials;

  before(async () => {
    server = await startTestServer();
    target = await TargetServer.start(() => ({ status: 200 }));
    creds = await server.client.register();
  });
  after(async () => {
    await server.close();
    await target.close();
  });

  const create = async (body: Record<string, unknown>, as: Credentials = creds): Promise<ScheduleView> => {
    const res = await server.client.request<ScheduleView>('POST', '/v1beta/schedules', { creds: as, body });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body;
  };
  const read = async (id: string): Promise<ScheduleView> => {
    const res = await server.client.request<ScheduleView>('GET', `/v1beta/schedules/${id}`, { creds });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  const every = (path: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    cron: '* * * * * *',
    httpRequest: { url: target.url(path), method: 'POST', headers: { 'x-secret': 'not-shown' } },
    ...extra,
  });

  test('each run is a task of its own, linked to its schedule, sent on its instant', async () => {
    const schedule = await create(every('/each-second', { tags: ['cron'], flowKey: 'nightly' }));
    assert.deepEqual(Object.keys(schedule).sort(), [
      'catchUp',
      'config',
      'createdAt',
      'cron',
      'endAt',
      'flowKey',
      'id',
      'jitterMs',
      'lastRunAt',
      'lastTaskId',
      'nextRunAt',
      'overlap',
      'runs',
      'skipped',
      'startAt',
      'state',
      'tags',
      'target',
      'timezone',
    ]);
    assert.equal(schedule.timezone, 'UTC');
    assert.ok(!JSON.stringify(schedule).includes('not-shown'), 'the request headers are never shown');
    const requests = await target.waitForRequests(3, { path: '/each-second' });
    const now = await read(schedule.id);
    assert.ok(now.runs >= 3, `runs ${now.runs}`);
    const taskIds = new Set(requests.map(taskIdOf));
    assert.equal(taskIds.size, requests.length, 'one task per run');
    const task = await getTask(server.client, creds, taskIdOf(requests[0]!));
    assert.equal(task.scheduleId, schedule.id);
    assert.deepEqual(task.tags, ['cron']);
    assert.equal(task.flowKey, 'nightly', "a run's task carries the schedule's flow key");
    assert.equal(task.state, 'COMPLETED');
    const timeline = await getTimeline(server.client, creds, task.id);
    assert.deepEqual(labelsOf(timeline), ['Subscribe', 'Schedule', 'Complete']);
    const instant = Number(timeline[1]!.metadata?.['instant']);
    assert.equal(instant % SECOND, 0, 'a run is for a whole second of the cron expression');
    // At its instant; a run made after it (a busy machine) executes when made.
    assert.equal(task.config.executionAt, Math.max(instant, task.estimateStartAt), 'the task executes at its instant');
    await server.client.request('DELETE', `/v1beta/schedules/${schedule.id}`, { creds });
  });

  test('list, read, pause, resume and delete; another project sees none of it', async () => {
    const schedule = await create({ ...every('/managed'), cron: '0 0 1 1 *', timezone: 'America/New_York' });
    const other = await server.client.register();
    const listed = await server.client.request<{ schedules: ScheduleView[]; nextCursor: string | null }>(
      'GET',
      '/v1beta/schedules?limit=1000',
      {
        creds,
      },
    );
    assert.ok(listed.body.schedules.some((s) => s.id === schedule.id));
    const foreign = await server.client.request<{ schedules: ScheduleView[] }>('GET', '/v1beta/schedules', { creds: other });
    assert.deepEqual(foreign.body.schedules, []);
    assertError(await server.client.request('GET', `/v1beta/schedules/${schedule.id}`, { creds: other }), 404, 'SCHEDULE_NOT_FOUND');
    assertError(
      await server.client.request('PATCH', `/v1beta/schedules/${schedule.id}/pause`, { creds: other }),
      404,
      'SCHEDULE_NOT_FOUND',
    );
    assertError(await server.client.request('DELETE', `/v1beta/schedules/${schedule.id}`, { creds: other }), 404, 'SCHEDULE_NOT_FOUND');

    const paused = await server.client.request<ScheduleView>('PATCH', `/v1beta/schedules/${schedule.id}/pause`, { creds });
    assert.equal(paused.body.state, 'PAUSED');
    assert.equal(paused.body.nextRunAt, null);
    assertError(await server.client.request('PATCH', `/v1beta/schedules/${schedule.id}/pause`, { creds }), 409, 'SCHEDULE_STATE_CONFLICT');
    const resumed = await server.client.request<ScheduleView>('PATCH', `/v1beta/schedules/${schedule.id}/resume`, { creds });
    assert.equal(resumed.body.state, 'ACTIVE');
    assert.equal(resumed.body.nextRunAt, schedule.nextRunAt, 'a yearly schedule resumes on the same next instant');
    assertError(await server.client.request('PATCH', `/v1beta/schedules/${schedule.id}/resume`, { creds }), 409, 'SCHEDULE_STATE_CONFLICT');
    assert.equal((await server.client.request('DELETE', `/v1beta/schedules/${schedule.id}`, { creds })).status, 200);
    assertError(await server.client.request('GET', `/v1beta/schedules/${schedule.id}`, { creds }), 404, 'SCHEDULE_NOT_FOUND');
  });

  test('a paused schedule makes no run; resumed, it runs again', async () => {
    const schedule = await create(every('/paused'));
    await target.waitForRequests(1, { path: '/paused' });
    await server.client.request('PATCH', `/v1beta/schedules/${schedule.id}/pause`, { creds });
    const runs = (await read(schedule.id)).runs;
    // Runs made before the pause may still be sent; none is made after it.
    await waitFor('the runs made before the pause to be sent', () => target.requests.filter((r) => r.url === '/paused').length >= runs);
    assert.equal((await read(schedule.id)).runs, runs);
    await server.client.request('PATCH', `/v1beta/schedules/${schedule.id}/resume`, { creds });
    await target.waitForRequests(runs + 1, { path: '/paused' });
    await server.client.request('DELETE', `/v1beta/schedules/${schedule.id}`, { creds });
  });

  test("overlap 'skip' skips runs while the last run's task is still active", async () => {
    const hang = await TargetServer.start(() => ({ hang: true }));
    try {
      const schedule = await create({
        cron: '* * * * * *',
        httpRequest: { url: hang.url('/hang'), method: 'POST' },
        config: { timeout: '5m' },
      });
      await hang.waitForRequests(1);
      const skipped = await waitFor('a run skipped', async () => {
        const now = await read(schedule.id);
        return now.skipped >= 2 ? now : undefined;
      });
      assert.equal(skipped.runs, 1, 'no run is made while the first still runs');
      assert.equal(hang.requests.length, 1);
      await server.client.request('DELETE', `/v1beta/schedules/${schedule.id}`, { creds });
    } finally {
      await hang.close();
    }
  });

  test('bad bodies get every issue at once', async () => {
    const res = await server.client.request('POST', '/v1beta/schedules', {
      creds,
      body: {
        cron: '* * *',
        timezone: 'Mars/Olympus',
        httpRequest: { url: 'ftp://example.com', method: 'POST' },
        config: { executionDelay: '1s', retry: 1 },
        endAt: 1,
      },
    });
    assertValidation(res, ['config.executionDelay', 'cron', 'endAt', 'httpRequest.url', 'timezone']);
    assertValidation(await server.client.request('POST', '/v1beta/schedules', { creds, body: { ...every('/x'), overlap: 'maybe' } }), [
      'overlap',
    ]);
    assertValidation(await server.client.request('POST', '/v1beta/schedules', { creds, body: { ...every('/x'), cron: '0 0 30 2 *' } }), [
      'cron',
    ]);
  });
});

describe('schedules across a restart', () => {
  test('a run is neither lost nor doubled: each instant once, with the runs missed while down caught up', async () => {
    const dir = makeTempDir('schedule-restart');
    const target = await TargetServer.start(() => ({ status: 200 }));
    let server = await startTestServer({ dir });
    try {
      const creds = await server.client.register();
      const res = await server.client.request<ScheduleView>('POST', '/v1beta/schedules', {
        creds,
        body: { cron: '* * * * * *', catchUp: 'all', httpRequest: { url: target.url('/restart'), method: 'POST' } },
      });
      assert.equal(res.status, 201);
      await target.waitForRequests(2, { path: '/restart' });
      await server.close();
      server = await startTestServer({ dir });
      const before = target.requests.length;
      await target.waitForRequests(before + 3, { path: '/restart' });
      const instants: number[] = [];
      for (const request of target.requests) {
        const timeline = await getTimeline(server.client, creds, taskIdOf(request));
        instants.push(Number(timeline.find((e) => e.label === 'Schedule')?.metadata?.['instant']));
      }
      assert.equal(new Set(instants).size, instants.length, `an instant was sent twice: ${instants.join(' ')}`);
      const sorted = [...instants].sort((a, b) => a - b);
      for (let i = 1; i < sorted.length; i++) assert.equal(sorted[i]! - sorted[i - 1]!, SECOND, `a run was lost: ${sorted.join(' ')}`);
    } finally {
      await server.close();
      await target.close();
    }
  });
});

test('a project holds at most SERVICE.SCHEDULES.MAX_PER_PROJECT schedules; deleting one makes room', async () => {
  const server = await startTestServer({ env: { TASKS_SCHEDULE_LIMIT: '2' } });
  try {
    const [creds, other] = [await server.client.register(), await server.client.register()];
    const body = { cron: '0 0 1 1 *', httpRequest: { url: 'https://example.com/yearly', method: 'POST' } };
    const post = (as: Credentials): ReturnType<typeof server.client.request<ScheduleView>> =>
      server.client.request<ScheduleView>('POST', '/v1beta/schedules', { creds: as, body });
    const first = await post(creds);
    assert.equal(first.status, 201);
    assert.equal((await post(creds)).status, 201);
    assertError(await post(creds), 409, 'SCHEDULES_FULL', /as many schedules/);
    assert.equal((await post(other)).status, 201, "another project's schedules are its own");
    const listed = await server.client.request<{ schedules: ScheduleView[] }>('GET', '/v1beta/schedules', { creds });
    assert.equal(listed.body.schedules.length, 2, 'the refused one was not stored');
    assert.equal((await server.client.request('DELETE', `/v1beta/schedules/${first.body.id}`, { creds })).status, 200);
    assert.equal((await post(creds)).status, 201);
  } finally {
    await server.close();
  }
});
