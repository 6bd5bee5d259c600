import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TestClock } from '../../src/core/clock.js';
import { QueuedView, TaskConfig, TaskUpdates, TaskView } from '../../src/core/shapes.js';
import { DEFAULT_CONFIG } from '../../src/core/subscription.js';
import type { Task } from '../../src/core/task.js';
import { applyOutcome, createTask, pauseTask } from '../../src/core/task-machine.js';
import { createRequestCipher } from '../../src/core/sealed-request.js';
import { queuedView, targetOf, taskView } from '../../src/core/views.js';
import type { TargetView } from '../../src/core/views.js';

const T0 = Date.UTC(2026, 0, 1);
const TARGET: TargetView = { method: 'POST', url: 'https://example.com/hook' };

function newTask(clock: TestClock, config: Partial<TaskConfig> = {}): Task {
  return createTask(
    {
      id: '01KDXQ0000ABCDEFGHJKMNPQRS',
      projectId: '01KDXQ0000ZZZZZZZZZZZZZZZZ',
      config: { ...DEFAULT_CONFIG, executionDelay: 10_000, ...config },
      request: Buffer.from('SEALED-SECRET'),
    },
    clock.now(),
  );
}

describe('queuedView', () => {
  test('the task as subscribe answers it: exactly the documented fields', () => {
    const clock = new TestClock(T0);
    const task: Task = { ...newTask(clock), leaseToken: 'lease-token', leaseUntil: T0 + 1 };
    assert.deepEqual(queuedView(task), {
      id: '01KDXQ0000ABCDEFGHJKMNPQRS',
      state: 'RUNNING',
      statusCode: 0,
      estimateStartAt: T0,
      estimateExecAt: T0 + 10_000,
      estimateEndAt: 0,
      currentlyRetry: false,
      currentlyRepeat: false,
    });
  });

  test('never shows the sealed request, the lease or the project', () => {
    const clock = new TestClock(T0);
    const task: Task = { ...newTask(clock), leaseToken: 'lease-token', leaseUntil: T0 + 1 };
    for (const view of [queuedView(task), taskView(task, TARGET)]) {
      const json = JSON.stringify(view);
      assert.ok(!json.includes('SEALED-SECRET'), 'sealed request');
      assert.ok(!json.includes('lease-token'), 'lease');
      assert.ok(!json.includes('01KDXQ0000ZZZZZZZZZZZZZZZZ'), 'project id');
    }
  });
});

describe('taskView', () => {
  test('a new task: its config and empty updates', () => {
    const clock = new TestClock(T0);
    const task = newTask(clock, { retry: 3, repeat: 2 });
    const view = taskView(task, TARGET);
    assert.deepEqual(view.config, task.config);
    assert.notEqual(view.config, task.config, 'a copy');
    assert.deepEqual(view.updates, {
      retryCount: 0,
      retryLimit: 3,
      repeatCount: 0,
      repeatLimit: 2,
      estimateNextRetryAt: 0,
      estimateNextRepeatAt: 0,
      attempts: 0,
      pausedTimeLeft: 0,
    });
    assert.deepEqual(
      { ...view, config: undefined, updates: undefined },
      { ...queuedView(task), config: undefined, updates: undefined, tags: [], flowKey: '', target: TARGET },
    );
  });

  test('a task waiting for a retry shows when it runs', () => {
    const clock = new TestClock(T0 + 10_000);
    const { task } = applyOutcome(newTask(new TestClock(T0), { retry: 3 }), { ok: false, statusCode: 502 }, clock.now());
    const view = taskView(task, TARGET);
    assert.equal(view.currentlyRetry, true);
    assert.equal(view.statusCode, 502);
    assert.equal(view.updates.retryCount, 1);
    assert.equal(view.updates.estimateNextRetryAt, task.execAt);
    assert.ok(view.updates.estimateNextRetryAt > clock.now());
    assert.equal(view.updates.estimateNextRepeatAt, 0);
    assert.equal(view.updates.attempts, 1);
  });

  test('a task waiting for a repeat shows when it runs', () => {
    const { task } = applyOutcome(newTask(new TestClock(T0), { repeat: 2 }), { ok: true, statusCode: 200 }, T0 + 10_000);
    const view = taskView(task, TARGET);
    assert.equal(view.updates.repeatCount, 1);
    assert.equal(view.updates.estimateNextRepeatAt, task.execAt);
    assert.equal(view.updates.estimateNextRetryAt, 0);
  });

  test('a PAUSED task shows the time that was left', () => {
    const clock = new TestClock(T0);
    const task = newTask(clock);
    const paused = pauseTask(task, clock.advance(4_000)).task;
    assert.equal(taskView(paused, TARGET).updates.pausedTimeLeft, 6_000);
    assert.equal(taskView(paused, TARGET).state, 'PAUSED');
    assert.equal(taskView(paused, TARGET).estimateExecAt, 0);
  });

  test('pausedTimeLeft is 0 unless PAUSED, whatever pausedLeft holds', () => {
    const clock = new TestClock(T0);
    const task: Task = { ...newTask(clock), pausedLeft: 1234 };
    assert.equal(taskView(task, TARGET).updates.pausedTimeLeft, 0);
  });
});

// Fastify serialises answers from these schemas and drops any field a schema lacks, silently: a
// view must build exactly the fields its schema declares.
describe('views and their schemas (core/shapes.ts)', () => {
  const keys = (value: object): string[] => Object.keys(value).sort();
  const declared = (schema: { properties: object }): string[] => Object.keys(schema.properties).sort();
  /** The fields every value holds: the optional ones (a retry policy) only when given. */
  const required = (schema: { required?: readonly string[] }): string[] => [...(schema.required ?? [])].sort();

  test('queuedView builds exactly the fields of QueuedView', () => {
    assert.deepEqual(keys(queuedView(newTask(new TestClock(T0)))), declared(QueuedView));
  });

  test('taskView builds exactly the fields of TaskView, its config and its updates', () => {
    const view = taskView(newTask(new TestClock(T0)), TARGET);
    // scheduleId is shown only for a run of a schedule.
    assert.deepEqual(
      keys(view),
      declared(TaskView).filter((key) => key !== 'scheduleId'),
    );
    assert.deepEqual(
      keys(taskView({ ...newTask(new TestClock(T0)), scheduleId: '01KDXQ0000SCHEDULE00000000' }, TARGET)),
      declared(TaskView),
    );
    assert.deepEqual(keys(view.config), required(TaskConfig));
    assert.deepEqual(keys(view.updates), declared(TaskUpdates));
  });

  test('DEFAULT_CONFIG holds every field of TaskConfig', () => {
    assert.deepEqual(keys(DEFAULT_CONFIG), required(TaskConfig));
  });
});

describe('targetOf and the tags', () => {
  test('the method and URL opened from the sealed request, never its query, headers, params or body', () => {
    const cipher = createRequestCipher(Buffer.alloc(32, 7));
    const id = '01KDXQ0000ABCDEFGHJKMNPQRS';
    const request = cipher.seal(
      {
        url: 'https://example.com/hook?sig=QUERY-SECRET#part',
        method: 'PUT',
        headers: { Authorization: 'Bearer HEADER-SECRET' },
        params: { key: 'PARAM-SECRET' },
        data: Buffer.from('BODY-SECRET').toString('base64'),
      },
      id,
    );
    const clock = new TestClock(T0);
    const task: Task = { ...newTask(clock), id, request, tags: ['billing', 'eu-1'] };
    const view = taskView(task, targetOf(cipher, task));
    assert.deepEqual(view.target, { method: 'PUT', url: 'https://example.com/hook' }, 'the URL without its query or fragment');
    assert.deepEqual(view.tags, ['billing', 'eu-1']);
    const json = JSON.stringify(view);
    for (const secret of ['QUERY-SECRET', 'HEADER-SECRET', 'PARAM-SECRET', 'BODY-SECRET', 'Qk9EWS1TRUNSRVQ'])
      assert.ok(!json.includes(secret), secret);
  });
});
