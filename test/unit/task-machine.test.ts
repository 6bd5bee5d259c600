import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TestClock } from '../../src/core/clock.js';
import { AppError } from '../../src/core/errors.js';
import { DEFAULT_CONFIG } from '../../src/core/subscription.js';
import { TASK_STATES, TIMELINE_LABELS, type Task, type TaskConfig, type TaskState, type TimelineEntry } from '../../src/core/task.js';
import {
  type AttemptOutcome,
  type Transition,
  applyOutcome,
  assertDeletable,
  attemptHeaders,
  createTask,
  dueAtOf,
  executeTask,
  firstExecAtOf,
  nextRepeatAt,
  nextRetryAt,
  pauseTask,
  recoverMissedRun,
  rescheduleTask,
  resumeTask,
  subscribeEntry,
  timelineOf,
  unsubscribeTask,
} from '../../src/core/task-machine.js';

/** A lease as the task holds it: its two fields. */
interface Lease {
  leaseToken: string;
  leaseUntil: number;
}
const NO_LEASE = { leaseToken: null, leaseUntil: 0 };

const T0 = Date.UTC(2026, 0, 1);
const TASK_ID = '01KDXQ0000ABCDEFGHJKMNPQRS';
const PROJECT_ID = '01KDXQ0000ZZZZZZZZZZZZZZZZ';

const OK: AttemptOutcome = { ok: true, statusCode: 200 };
const FAIL: AttemptOutcome = { ok: false, statusCode: 500 };

function cfg(overrides: Partial<TaskConfig> = {}): TaskConfig {
  return { ...DEFAULT_CONFIG, ...overrides };
}

function subscribe(clock: TestClock, overrides: Partial<TaskConfig> = {}, delay = 1_000): Task {
  return createTask(
    {
      id: TASK_ID,
      projectId: PROJECT_ID,
      config: cfg({ executionDelay: delay, ...overrides }),
      request: Uint8Array.from(Buffer.from('sealed')),
    },
    clock.now(),
  );
}

interface Step extends Transition {
  /** The headers the attempt was sent with. */
  headers: Record<string, string>;
  /** When the attempt's outcome was recorded. */
  at: number;
}

/** What the dispatcher does: wait until the task is due, send it (taking `latency`), record the outcome. */
function attempt(clock: TestClock, task: Task, outcome: AttemptOutcome, latency = 0): Step {
  assert.equal(task.state, 'RUNNING', 'attempt on a RUNNING task');
  assert.ok(task.execAt >= clock.now(), 'the test clock never goes back');
  clock.set(task.execAt);
  const headers = attemptHeaders(task);
  clock.advance(latency);
  return { ...applyOutcome(task, outcome, clock.now()), headers, at: clock.now() };
}

function labels(entries: readonly TimelineEntry[]): string[] {
  return entries.map((e) => e.label);
}

function taskIn(state: TaskState, clock = new TestClock(T0)): Task {
  const running = subscribe(clock, { retry: 1, repeat: 1 });
  switch (state) {
    case 'RUNNING':
      return running;
    case 'PAUSED':
      return pauseTask(running, clock.now()).task;
    case 'CANCELED':
      return unsubscribeTask(running, clock.now()).task;
    case 'COMPLETED':
      return attempt(clock, attempt(clock, running, OK).task, OK).task;
    case 'ERROR':
      return attempt(clock, attempt(clock, running, FAIL).task, FAIL).task;
    case 'EXCEEDED': {
      const pinned = subscribe(clock, { retry: 1, retryAt: clock.now() + 2_000 });
      return attempt(clock, pinned, FAIL, 5_000).task;
    }
  }
}

function assertConflict(fn: () => unknown, state: TaskState, action: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof AppError, `${action} from ${state}: expected an AppError, got ${String(error)}`);
    assert.equal(error.code, 'TASK_STATE_CONFLICT', `${action} from ${state}`);
    assert.equal(error.status, 409, `${action} from ${state}`);
    assert.ok(error.message.includes(state), `${action} from ${state}: the message names the state: ${error.message}`);
    return true;
  });
}

function assertFinished(task: Task, state: TaskState, at: number): void {
  assert.equal(task.state, state);
  assert.equal(task.endAt, at, 'endAt is when it ended');
  assert.equal(task.execAt, 0, 'nothing scheduled');
  assert.equal(task.retrying, false);
  assert.equal(task.repeating, false);
  assert.equal(task.pausedLeft, 0);
  assert.equal(task.leaseToken, null);
  assert.equal(task.leaseUntil, 0);
}

describe('createTask', () => {
  test('a new task is RUNNING, due at its first execution; its Subscribe entry is derived, not stored', () => {
    const clock = new TestClock(T0);
    const config = cfg({ retry: 2, timeout: 5_000, executionDelay: 10_000 });
    const request = Buffer.from('opaque');
    const task = createTask({ id: TASK_ID, projectId: PROJECT_ID, config, request, hostTag: 'tag' }, clock.now());
    assert.deepEqual(task, {
      id: TASK_ID,
      projectId: PROJECT_ID,
      startAt: T0,
      config,
      request,
      hostTag: 'tag',
      tags: [],
      scheduleId: '',
      flowKey: '',
      state: 'RUNNING',
      statusCode: 0,
      execAt: T0 + 10_000,
      endAt: 0,
      retrying: false,
      repeating: false,
      retryCount: 0,
      repeatCount: 0,
      attempts: 0,
      retrySince: 0,
      pausedLeft: 0,
      leaseToken: null,
      leaseUntil: 0,
    });
    assert.equal(dueAtOf(task), T0 + 10_000);
    const entry = subscribeEntry(task);
    assert.equal(entry.label, 'Subscribe');
    assert.equal(entry.createdAt, T0);
    assert.ok(entry.description.includes(new Date(T0 + 10_000).toISOString()), entry.description);
    assert.equal(entry.metadata, undefined);
  });

  test('the first execution is executionAt when set, else the start plus executionDelay', () => {
    assert.equal(firstExecAtOf(cfg({ executionDelay: 5_000 }), T0), T0 + 5_000);
    assert.equal(firstExecAtOf(cfg({ executionDelay: 5_000, executionAt: T0 + 60_000 }), T0), T0 + 60_000);
  });

  test('timelineOf puts the derived Subscribe entry first, unless the store holds one (a task stored before)', () => {
    const task = subscribe(new TestClock(T0));
    const pause = pauseTask(task, T0 + 1).entries;
    assert.deepEqual(timelineOf(task, []), [subscribeEntry(task)]);
    assert.deepEqual(timelineOf(task, pause), [subscribeEntry(task), ...pause]);
    const stored = { ...subscribeEntry(task), description: 'as stored then' };
    assert.deepEqual(timelineOf(task, [stored, ...pause]), [stored, ...pause]);
  });
});

describe('nextRetryAt / nextRepeatAt', () => {
  const now = T0 + 50_000;
  test('exponential: the n-th waits interval × n; fixed: interval', () => {
    for (const n of [1, 2, 3, 10]) {
      assert.equal(nextRetryAt(cfg({ retryInterval: 1_500, retryExponential: true }), n, now), now + 1_500 * n, `retry ${n}`);
      assert.equal(nextRetryAt(cfg({ retryInterval: 1_500, retryExponential: false }), n, now), now + 1_500, `retry ${n}`);
      assert.equal(nextRepeatAt(cfg({ repeatInterval: 2_000, repeatExponential: true }), n, now), now + 2_000 * n, `repeat ${n}`);
      assert.equal(nextRepeatAt(cfg({ repeatInterval: 2_000, repeatExponential: false }), n, now), now + 2_000, `repeat ${n}`);
    }
  });

  test('an absolute time wins while it is ahead, and is null once passed', () => {
    assert.equal(nextRetryAt(cfg({ retry: 1, retryAt: now + 1 }), 1, now), now + 1);
    assert.equal(nextRetryAt(cfg({ retry: 1, retryAt: now - 1 }), 1, now), null);
    assert.equal(nextRepeatAt(cfg({ repeat: 1, repeatAt: now + 99 }), 1, now), now + 99);
    assert.equal(nextRepeatAt(cfg({ repeat: 1, repeatAt: now - 99 }), 1, now), null);
  });
});

describe('a life with retries', () => {
  test('retryExponential: the n-th retry waits retryInterval × n, then ERROR', () => {
    const clock = new TestClock(T0);
    let task = subscribe(clock, { retry: 3, retryInterval: 1_000, retryExponential: true });

    const first = attempt(clock, task, FAIL, 100);
    task = first.task;
    assert.equal(task.state, 'RUNNING');
    assert.equal(task.retrying, true);
    assert.equal(task.retryCount, 1);
    assert.equal(task.execAt, first.at + 1_000);
    assert.deepEqual(labels(first.entries), ['Error']);
    assert.match(first.entries[0]!.description, /status code 500; retry 1 of 3/);

    for (const n of [2, 3]) {
      const step = attempt(clock, task, FAIL, 100);
      task = step.task;
      assert.equal(task.state, 'RUNNING', `after retry ${n - 1}`);
      assert.equal(task.retryCount, n);
      assert.equal(task.execAt, step.at + 1_000 * n, `retry ${n} waits ${n} intervals`);
      assert.deepEqual(labels(step.entries), ['Retry', 'Error']);
      assert.deepEqual(step.entries[0]!.metadata, { retryCount: n - 1 });
      assert.match(step.entries[0]!.description, new RegExp(`Retry ${n - 1} of 3 failed`));
    }

    const last = attempt(clock, task, FAIL, 100);
    assertFinished(last.task, 'ERROR', last.at);
    assert.equal(last.task.attempts, 4);
    assert.equal(last.task.retryCount, 3);
    assert.equal(last.task.statusCode, 500);
    assert.deepEqual(labels(last.entries), ['Retry', 'Error']);
    assert.deepEqual(last.entries[0]!.metadata, { retryCount: 3 });
    assert.match(last.entries[1]!.description, /no retries left/);
    assert.equal(dueAtOf(last.task), null);
  });

  test('retryExponential false: every retry waits retryInterval', () => {
    const clock = new TestClock(T0);
    let task = subscribe(clock, { retry: 3, retryInterval: 1_500, retryExponential: false });
    for (let n = 1; n <= 3; n++) {
      const step = attempt(clock, task, FAIL, 7);
      task = step.task;
      assert.equal(task.execAt, step.at + 1_500, `retry ${n}`);
      assert.equal(task.retryCount, n);
    }
    assert.equal(attempt(clock, task, FAIL).task.state, 'ERROR');
  });

  test('a retry that succeeds completes the task', () => {
    const clock = new TestClock(T0);
    let task = subscribe(clock, { retry: 2 });
    task = attempt(clock, task, FAIL).task;
    const step = attempt(clock, task, { ok: true, statusCode: 201 });
    assertFinished(step.task, 'COMPLETED', step.at);
    assert.equal(step.task.statusCode, 201);
    assert.deepEqual(labels(step.entries), ['Retry', 'Complete']);
    assert.match(step.entries[0]!.description, /Retry 1 of 2 succeeded/);
    assert.match(step.entries[1]!.description, /task completed/);
  });

  test('retry 0: the first failure is final', () => {
    const clock = new TestClock(T0);
    const step = attempt(clock, subscribe(clock), FAIL);
    assertFinished(step.task, 'ERROR', step.at);
    assert.deepEqual(labels(step.entries), ['Error']);
  });

  test('retryAt: the one retry runs at that time, with retryAt in the Retry metadata', () => {
    const clock = new TestClock(T0);
    const retryAt = T0 + 60_000;
    let task = subscribe(clock, { retry: 1, retryAt });
    const first = attempt(clock, task, FAIL);
    task = first.task;
    assert.equal(task.state, 'RUNNING');
    assert.equal(task.retrying, true);
    assert.equal(task.execAt, retryAt);
    assert.ok(first.entries[0]!.description.includes(new Date(retryAt).toISOString()));

    const second = attempt(clock, task, FAIL);
    assert.equal(second.at, retryAt);
    assertFinished(second.task, 'ERROR', retryAt);
    assert.deepEqual(labels(second.entries), ['Retry', 'Error']);
    assert.deepEqual(second.entries[0]!.metadata, { retryAt });
  });

  test('retryAt already passed when the attempt fails: EXCEEDED', () => {
    const clock = new TestClock(T0);
    const retryAt = T0 + 2_000;
    const task = subscribe(clock, { retry: 1, retryAt });
    const step = attempt(clock, task, FAIL, 5_000); // the first attempt ran long, past retryAt
    assertFinished(step.task, 'EXCEEDED', T0 + 6_000);
    assert.equal(step.task.retryCount, 0);
    assert.equal(step.task.attempts, 1);
    assert.deepEqual(labels(step.entries), ['Exceeded']);
    assert.match(step.entries[0]!.description, /retryAt/);
  });

  test('a permanent failure ends the task at once, retries left or not', () => {
    const clock = new TestClock(T0);
    const step = attempt(clock, subscribe(clock, { retry: 5 }), { ok: false, statusCode: 0, error: 'target refused', permanent: true });
    assertFinished(step.task, 'ERROR', step.at);
    assert.equal(step.task.retryCount, 0);
    assert.equal(step.task.attempts, 0, 'nothing was sent: not an attempt');
    assert.deepEqual(labels(step.entries), ['Error']);
    assert.match(step.entries[0]!.description, /target refused; retrying cannot help/);
  });

  test('a permanent failure on a retry ends the task too', () => {
    const clock = new TestClock(T0);
    const task = attempt(clock, subscribe(clock, { retry: 5 }), FAIL).task;
    const step = attempt(clock, task, { ok: false, statusCode: 0, error: 'cannot decrypt', permanent: true });
    assertFinished(step.task, 'ERROR', step.at);
    assert.equal(step.task.attempts, 1, 'only the first, sent, attempt counts');
    assert.deepEqual(labels(step.entries), ['Retry', 'Error']);
  });
});

describe('statusCode and outcome descriptions', () => {
  test('statusCode keeps the last status seen; a connection error keeps the previous one', () => {
    const clock = new TestClock(T0);
    let task = subscribe(clock, { retry: 4, retryExponential: false });
    assert.equal(task.statusCode, 0);

    let step = attempt(clock, task, { ok: false, statusCode: 0, error: 'connect ECONNREFUSED' });
    task = step.task;
    assert.equal(task.statusCode, 0, 'no status seen yet');
    assert.match(step.entries.at(-1)!.description, /connect ECONNREFUSED/);

    task = attempt(clock, task, { ok: false, statusCode: 503 }).task;
    assert.equal(task.statusCode, 503);

    step = attempt(clock, task, { ok: false, statusCode: 0, error: 'timeout after 30000 ms' });
    task = step.task;
    assert.equal(task.statusCode, 503, 'a timeout keeps the previous status');
    assert.match(step.entries.at(-1)!.description, /timeout after 30000 ms/);

    step = attempt(clock, task, { ok: false, statusCode: 0 });
    task = step.task;
    assert.equal(task.statusCode, 503);
    assert.match(step.entries.at(-1)!.description, /no answer/);

    task = attempt(clock, task, { ok: true, statusCode: 204 }).task;
    assert.equal(task.state, 'COMPLETED');
    assert.equal(task.statusCode, 204);
    assert.equal(task.attempts, 5);
  });
});

describe('a life with repeats', () => {
  test('repeatExponential: the n-th repeat waits repeatInterval × n, then COMPLETED', () => {
    const clock = new TestClock(T0);
    let task = subscribe(clock, { repeat: 3, repeatInterval: 2_000, repeatExponential: true });

    const first = attempt(clock, task, OK, 50);
    task = first.task;
    assert.equal(task.state, 'RUNNING');
    assert.equal(task.repeating, true);
    assert.equal(task.retrying, false);
    assert.equal(task.repeatCount, 1);
    assert.equal(task.execAt, first.at + 2_000);
    assert.deepEqual(labels(first.entries), ['Complete']);
    assert.match(first.entries[0]!.description, /repeat 1 of 3/);

    for (const n of [2, 3]) {
      const step = attempt(clock, task, OK, 50);
      task = step.task;
      assert.equal(task.repeatCount, n);
      assert.equal(task.execAt, step.at + 2_000 * n, `repeat ${n} waits ${n} intervals`);
      assert.deepEqual(labels(step.entries), ['Repeat', 'Complete']);
      assert.deepEqual(step.entries[0]!.metadata, { repeatCount: n - 1 });
      assert.match(step.entries[0]!.description, new RegExp(`Repeat ${n - 1} of 3 succeeded`));
    }

    const last = attempt(clock, task, OK, 50);
    assertFinished(last.task, 'COMPLETED', last.at);
    assert.equal(last.task.attempts, 4);
    assert.deepEqual(labels(last.entries), ['Repeat', 'Complete']);
    assert.deepEqual(last.entries[0]!.metadata, { repeatCount: 3 });
    assert.match(last.entries[1]!.description, /task completed/);
  });

  test('repeatExponential false: every repeat waits repeatInterval', () => {
    const clock = new TestClock(T0);
    let task = subscribe(clock, { repeat: 3, repeatInterval: 60_000, repeatExponential: false });
    for (let n = 1; n <= 3; n++) {
      const step = attempt(clock, task, OK, 3);
      task = step.task;
      assert.equal(task.execAt, step.at + 60_000, `repeat ${n}`);
    }
    assert.equal(attempt(clock, task, OK).task.state, 'COMPLETED');
  });

  test('repeatAt: the one repeat runs at that time, with repeatAt in the Repeat metadata', () => {
    const clock = new TestClock(T0);
    const repeatAt = T0 + 3_600_000;
    let task = subscribe(clock, { repeat: 1, repeatAt });
    task = attempt(clock, task, OK).task;
    assert.equal(task.execAt, repeatAt);
    assert.equal(task.repeating, true);
    const step = attempt(clock, task, OK);
    assertFinished(step.task, 'COMPLETED', repeatAt);
    assert.deepEqual(labels(step.entries), ['Repeat', 'Complete']);
    assert.deepEqual(step.entries[0]!.metadata, { repeatAt });
  });

  test('repeatAt already passed when the run succeeds: EXCEEDED', () => {
    const clock = new TestClock(T0);
    const repeatAt = T0 + 10_000;
    let task = subscribe(clock, { repeat: 1, repeatAt, retry: 1, retryInterval: 20_000 });
    task = attempt(clock, task, FAIL).task; // the retry falls after repeatAt
    assert.ok(task.execAt > repeatAt);
    const step = attempt(clock, task, OK);
    assertFinished(step.task, 'EXCEEDED', step.at);
    assert.equal(step.task.statusCode, 200);
    assert.deepEqual(labels(step.entries), ['Retry', 'Exceeded']);
    assert.match(step.entries[1]!.description, /repeatAt/);
  });

  test('a failed repeat with no retry ends the task as ERROR', () => {
    const clock = new TestClock(T0);
    let task = subscribe(clock, { repeat: 2 });
    task = attempt(clock, task, OK).task;
    const step = attempt(clock, task, FAIL);
    assertFinished(step.task, 'ERROR', step.at);
    assert.equal(step.task.repeatCount, 1);
    assert.deepEqual(labels(step.entries), ['Repeat', 'Error']);
    assert.match(step.entries[0]!.description, /Repeat 1 of 2 failed with status code 500/);
  });

  test('the retry budget starts again with each repeat', () => {
    const clock = new TestClock(T0);
    let task = subscribe(clock, { retry: 2, retryInterval: 1_000, retryExponential: true, repeat: 2, repeatInterval: 5_000 });

    // Run 0 uses both retries, then succeeds.
    task = attempt(clock, task, FAIL).task;
    task = attempt(clock, task, FAIL).task;
    assert.equal(task.retryCount, 2);
    let step = attempt(clock, task, OK);
    task = step.task;
    assert.equal(task.repeatCount, 1);
    assert.equal(task.retryCount, 0, 'budget restored');
    assert.equal(task.repeating, true);
    assert.equal(task.retrying, false);

    // Repeat 1 fails twice: it may retry again, and the first of its retries waits 1 interval.
    step = attempt(clock, task, FAIL);
    task = step.task;
    assert.equal(task.state, 'RUNNING');
    assert.equal(task.retryCount, 1);
    assert.equal(task.execAt, step.at + 1_000);
    assert.equal(task.retrying, true);
    assert.equal(task.repeating, false);
    assert.equal(task.repeatCount, 1);
    task = attempt(clock, task, FAIL).task;
    assert.equal(task.retryCount, 2);
    step = attempt(clock, task, OK);
    task = step.task;
    assert.equal(task.repeatCount, 2);
    assert.equal(task.retryCount, 0);
    assert.equal(task.execAt, step.at + 10_000, 'repeat 2 waits 2 repeat intervals');

    // Repeat 2 exhausts its retries: ERROR.
    task = attempt(clock, task, FAIL).task;
    task = attempt(clock, task, FAIL).task;
    step = attempt(clock, task, FAIL);
    assertFinished(step.task, 'ERROR', step.at);
    assert.equal(step.task.attempts, 9);
  });

  test('every entry has a known label and is stamped with the time of its step', () => {
    const clock = new TestClock(T0);
    let task = subscribe(clock, { retry: 1, repeat: 1 });
    const all: TimelineEntry[] = [];
    for (const outcome of [FAIL, OK, FAIL, OK]) {
      const step = attempt(clock, task, outcome, 10);
      task = step.task;
      for (const e of step.entries) {
        assert.ok((TIMELINE_LABELS as readonly string[]).includes(e.label), e.label);
        assert.equal(e.createdAt, step.at);
        if (e.label !== 'Retry' && e.label !== 'Repeat') assert.equal(e.metadata, undefined, `${e.label} has no metadata`);
      }
      all.push(...step.entries);
    }
    assert.equal(task.state, 'COMPLETED');
    assert.deepEqual(labels(all), ['Error', 'Retry', 'Complete', 'Repeat', 'Error', 'Retry', 'Complete']);
  });
});

describe('pause and resume', () => {
  test('pause keeps the time left and stops the clock', () => {
    const clock = new TestClock(T0);
    const task = subscribe(clock, {}, 10_000);
    clock.advance(4_000);
    const { task: paused, entries } = pauseTask(task, clock.now());
    assert.equal(paused.state, 'PAUSED');
    assert.equal(paused.pausedLeft, 6_000);
    assert.equal(paused.execAt, 0);
    assert.equal(paused.endAt, 0);
    assert.equal(dueAtOf(paused), null);
    assert.deepEqual(labels(entries), ['Pause']);
    assert.equal(entries[0]!.createdAt, T0 + 4_000);
    assert.match(entries[0]!.description, /6s left/);
  });

  test('pause keeps the lease of an attempt in flight, with no time left', () => {
    const clock = new TestClock(T0);
    const lease: Lease = { leaseToken: 'lease-1', leaseUntil: T0 + 16_000 };
    const task: Task = { ...subscribe(clock, {}, 1_000), ...lease };
    clock.advance(2_000); // past the execution time: the attempt is in flight
    const paused = pauseTask(task, clock.now()).task;
    assert.deepEqual({ leaseToken: paused.leaseToken, leaseUntil: paused.leaseUntil }, lease);
    assert.equal(paused.pausedLeft, 0);
  });

  test('resume restarts the clock with the time that was left', () => {
    const clock = new TestClock(T0);
    let task = subscribe(clock, {}, 10_000);
    clock.advance(4_000);
    task = pauseTask(task, clock.now()).task;
    clock.advance(3_600_000);
    const { task: resumed, entries } = resumeTask(task, clock.now());
    assert.equal(resumed.state, 'RUNNING');
    assert.equal(resumed.execAt, clock.now() + 6_000);
    assert.equal(resumed.pausedLeft, 0);
    assert.equal(dueAtOf(resumed), clock.now() + 6_000);
    assert.deepEqual(labels(entries), ['Resume']);
    assert.equal(entries[0]!.createdAt, clock.now());
    assert.match(entries[0]!.description, /next execution at/);
    assert.ok(entries[0]!.description.includes(new Date(clock.now() + 6_000).toISOString()));
  });

  test('resume names what comes next: a retry or a repeat', () => {
    const clock = new TestClock(T0);
    const retrying = attempt(clock, subscribe(clock, { retry: 1 }), FAIL).task;
    assert.match(resumeTask(pauseTask(retrying, clock.now()).task, clock.now()).entries[0]!.description, /next retry at/);
    const repeating = attempt(clock, subscribe(clock, { repeat: 1 }), OK).task;
    assert.match(resumeTask(pauseTask(repeating, clock.now()).task, clock.now()).entries[0]!.description, /next repeat at/);
  });

  test('resume keeps a live lease and drops an expired one', () => {
    const clock = new TestClock(T0);
    const lease: Lease = { leaseToken: 'lease-1', leaseUntil: T0 + 15_000 };
    const paused = pauseTask({ ...subscribe(clock, {}, 0), ...lease }, clock.now()).task;

    clock.set(T0 + 14_999);
    const live = resumeTask(paused, clock.now()).task;
    assert.deepEqual({ leaseToken: live.leaseToken, leaseUntil: live.leaseUntil }, lease);
    assert.equal(dueAtOf(live), lease.leaseUntil, 'due when the lease runs out');

    clock.set(T0 + 15_000);
    assert.equal(resumeTask(paused, clock.now()).task.leaseToken, null, 'a lease that ends now is dead');
    clock.set(T0 + 60_000);
    const dead = resumeTask(paused, clock.now()).task;
    assert.deepEqual({ leaseToken: dead.leaseToken, leaseUntil: dead.leaseUntil }, NO_LEASE);
    assert.equal(dueAtOf(dead), clock.now(), 'due at once');
  });

  test('pause and resume twice adds no time', () => {
    const clock = new TestClock(T0);
    let task = subscribe(clock, {}, 60_000);
    clock.advance(10_000);
    task = pauseTask(task, clock.now()).task;
    clock.advance(500_000);
    task = resumeTask(task, clock.now()).task;
    clock.advance(20_000);
    task = pauseTask(task, clock.now()).task;
    assert.equal(task.pausedLeft, 30_000);
    clock.advance(1_000);
    task = resumeTask(task, clock.now()).task;
    assert.equal(task.execAt, clock.now() + 30_000);
  });
});

describe('execute and reschedule', () => {
  function assertInFlight(fn: () => unknown, action: string): void {
    assert.throws(fn, (error: unknown) => {
      assert.ok(error instanceof AppError, `${action}: expected an AppError, got ${String(error)}`);
      assert.equal(error.code, 'TASK_IN_FLIGHT', action);
      assert.equal(error.status, 409, action);
      return true;
    });
  }

  test('execute makes a RUNNING task due now and keeps every count and setting', () => {
    const clock = new TestClock(T0);
    const retrying = attempt(clock, subscribe(clock, { retry: 3, repeat: 2 }), FAIL).task;
    assert.equal(retrying.retrying, true);
    clock.advance(100);
    const { task, entries } = executeTask(retrying, clock.now());
    assert.equal(task.state, 'RUNNING');
    assert.equal(task.execAt, clock.now());
    assert.equal(dueAtOf(task), clock.now());
    assert.deepEqual(
      { ...task, execAt: retrying.execAt },
      retrying,
      'nothing but the execution time changes: retrying, counts, attempts, config',
    );
    assert.deepEqual(labels(entries), ['Execute']);
    assert.equal(entries[0]!.createdAt, clock.now());
    assert.match(entries[0]!.description, /next retry runs now/);

    // The run now is that retry: its outcome counts as one, as it would have at its own time.
    const after = attempt(clock, task, FAIL).task;
    assert.equal(after.retryCount, 2);
    assert.equal(after.attempts, 2);
  });

  test('execute of a PAUSED task makes it RUNNING, due now, with no time left kept', () => {
    const clock = new TestClock(T0);
    const paused = pauseTask(subscribe(clock, {}, 60_000), clock.now()).task;
    clock.advance(5_000);
    const { task, entries } = executeTask(paused, clock.now());
    assert.equal(task.state, 'RUNNING');
    assert.equal(task.execAt, clock.now());
    assert.equal(task.pausedLeft, 0);
    assert.deepEqual(labels(entries), ['Execute']);
  });

  test('execute and reschedule are refused while an attempt is in flight, and allowed once its lease ran out', () => {
    const clock = new TestClock(T0);
    const lease: Lease = { leaseToken: 'lease-1', leaseUntil: T0 + 15_000 };
    const running: Task = { ...subscribe(clock, {}, 0), ...lease };
    const paused = pauseTask(running, clock.now()).task;
    for (const task of [running, paused]) {
      assertInFlight(() => executeTask(task, clock.now()), `execute ${task.state}`);
      assertInFlight(() => rescheduleTask(task, clock.now() + 1_000, clock.now()), `reschedule ${task.state}`);
    }
    clock.set(lease.leaseUntil);
    const executed = executeTask(running, clock.now()).task;
    assert.deepEqual({ leaseToken: executed.leaseToken, leaseUntil: executed.leaseUntil }, NO_LEASE, 'a dead lease is let go');
    assert.equal(dueAtOf(executed), clock.now());
    const moved = rescheduleTask(running, clock.now() + 9_000, clock.now()).task;
    assert.equal(moved.leaseToken, null);
    assert.equal(dueAtOf(moved), clock.now() + 9_000);
  });

  test('reschedule moves the next execution of a RUNNING task, and keeps it a repeat', () => {
    const clock = new TestClock(T0);
    const repeating = attempt(clock, subscribe(clock, { repeat: 2, repeatInterval: 60_000 }), OK).task;
    const at = clock.now() + 3_600_000;
    const { task, entries } = rescheduleTask(repeating, at, clock.now());
    assert.equal(task.state, 'RUNNING');
    assert.equal(task.execAt, at);
    assert.equal(dueAtOf(task), at);
    assert.deepEqual({ ...task, execAt: repeating.execAt }, repeating);
    assert.deepEqual(labels(entries), ['Reschedule']);
    assert.ok(entries[0]!.description.includes(new Date(at).toISOString()), entries[0]!.description);
    assert.match(entries[0]!.description, /next repeat/);
  });

  test('reschedule of a PAUSED task sets its time left and keeps it PAUSED', () => {
    const clock = new TestClock(T0);
    const paused = pauseTask(subscribe(clock, {}, 60_000), clock.now()).task;
    clock.advance(1_000);
    const { task, entries } = rescheduleTask(paused, clock.now() + 7_000, clock.now());
    assert.equal(task.state, 'PAUSED');
    assert.equal(task.pausedLeft, 7_000);
    assert.equal(task.execAt, 0);
    assert.equal(dueAtOf(task), null);
    assert.deepEqual(labels(entries), ['Reschedule']);
    assert.match(entries[0]!.description, /7s after it resumes/);
    clock.advance(50_000);
    assert.equal(resumeTask(task, clock.now()).task.execAt, clock.now() + 7_000, 'the time left counts from the resume');
  });
});

describe('an outcome applied to a PAUSED task', () => {
  function pausedInFlight(clock: TestClock, overrides: Partial<TaskConfig>): Task {
    const lease: Lease = { leaseToken: 'lease-1', leaseUntil: clock.now() + 1_000 + 15_000 };
    const task: Task = { ...subscribe(clock, overrides, 1_000), ...lease };
    clock.set(task.execAt + 200); // the attempt is in flight
    return pauseTask(task, clock.now()).task;
  }

  test('a failure with a retry left stays PAUSED with the retry delay as time left', () => {
    const clock = new TestClock(T0);
    const paused = pausedInFlight(clock, { retry: 2, retryInterval: 3_000 });
    clock.advance(300);
    const { task, entries } = applyOutcome(paused, FAIL, clock.now());
    assert.equal(task.state, 'PAUSED');
    assert.equal(task.retrying, true);
    assert.equal(task.retryCount, 1);
    assert.equal(task.leaseToken, null);
    assert.equal(task.attempts, 1);
    assert.equal(task.statusCode, 500);
    assert.deepEqual(labels(entries), ['Error']);
    assert.equal(dueAtOf(task), null);
    assert.equal(task.pausedLeft, 3_000, 'pausedLeft is the retry delay');
    assert.equal(task.execAt, 0, 'nothing scheduled while paused');
  });

  test('resuming after an outcome recorded while paused waits the retry delay', () => {
    const clock = new TestClock(T0);
    const paused = pausedInFlight(clock, { retry: 2, retryInterval: 3_000 });
    clock.advance(300);
    const { task } = applyOutcome(paused, FAIL, clock.now());
    clock.advance(100_000);
    const resumed = resumeTask(task, clock.now()).task;
    assert.equal(resumed.state, 'RUNNING');
    assert.equal(resumed.retrying, true);
    assert.equal(resumed.execAt, clock.now() + 3_000, 'the retry runs a retry interval after the resume, not at once');
  });

  test('a success with a repeat left stays PAUSED with the repeat delay as time left', () => {
    const clock = new TestClock(T0);
    const paused = pausedInFlight(clock, { repeat: 1, repeatInterval: 60_000 });
    const { task } = applyOutcome(paused, OK, clock.now());
    assert.equal(task.state, 'PAUSED');
    assert.equal(task.repeating, true);
    assert.equal(task.repeatCount, 1);
    assert.equal(task.pausedLeft, 60_000, 'pausedLeft is the repeat delay');
    assert.equal(task.execAt, 0, 'nothing scheduled while paused');
  });

  test('a pinned retryAt keeps the time left until it', () => {
    const clock = new TestClock(T0);
    const retryAt = T0 + 600_000;
    const paused = pausedInFlight(clock, { retry: 1, retryAt });
    const { task } = applyOutcome(paused, FAIL, clock.now());
    assert.equal(task.state, 'PAUSED');
    assert.equal(task.pausedLeft, retryAt - clock.now(), 'pausedLeft runs until retryAt');
  });

  test('a terminal outcome ends a PAUSED task', () => {
    for (const [overrides, outcome, state] of [
      [{}, OK, 'COMPLETED'],
      [{}, FAIL, 'ERROR'],
      [{ retry: 3 }, { ok: false, statusCode: 0, error: 'refused', permanent: true }, 'ERROR'],
      [{ repeat: 1, repeatAt: T0 + 1_100 }, OK, 'EXCEEDED'],
    ] as const) {
      const clock = new TestClock(T0);
      const paused = pausedInFlight(clock, overrides);
      const { task } = applyOutcome(paused, outcome, clock.now());
      assertFinished(task, state, clock.now());
    }
  });
});

describe('unsubscribe', () => {
  test('from RUNNING: CANCELED, ended now, lease dropped', () => {
    const clock = new TestClock(T0);
    const task: Task = { ...attempt(clock, subscribe(clock, { retry: 3 }), FAIL).task, leaseToken: 't', leaseUntil: T0 + 99_000 };
    clock.advance(500);
    const { task: canceled, entries } = unsubscribeTask(task, clock.now());
    assertFinished(canceled, 'CANCELED', clock.now());
    assert.equal(canceled.retryCount, 1, 'history is kept');
    assert.equal(canceled.statusCode, 500);
    assert.deepEqual(labels(entries), ['Unsubscribe']);
    assert.equal(entries[0]!.createdAt, clock.now());
    assert.equal(dueAtOf(canceled), null);
  });

  test('from PAUSED: CANCELED, time left cleared, lease dropped', () => {
    const clock = new TestClock(T0);
    const running: Task = { ...subscribe(clock, {}, 10_000), leaseToken: 't', leaseUntil: T0 + 99_000 };
    const paused = pauseTask(running, clock.advance(1_000)).task;
    assert.equal(paused.pausedLeft, 9_000);
    const { task, entries } = unsubscribeTask(paused, clock.advance(1_000));
    assertFinished(task, 'CANCELED', T0 + 2_000);
    assert.deepEqual(labels(entries), ['Unsubscribe']);
  });
});

describe('disallowed transitions', () => {
  const allowed: Record<'pause' | 'resume' | 'unsubscribe' | 'execute' | 'reschedule', readonly TaskState[]> = {
    pause: ['RUNNING'],
    resume: ['PAUSED'],
    unsubscribe: ['RUNNING', 'PAUSED'],
    execute: ['RUNNING', 'PAUSED'],
    reschedule: ['RUNNING', 'PAUSED'],
  };
  const actions = {
    pause: (task: Task, now: number) => pauseTask(task, now),
    resume: (task: Task, now: number) => resumeTask(task, now),
    unsubscribe: (task: Task, now: number) => unsubscribeTask(task, now),
    execute: (task: Task, now: number) => executeTask(task, now),
    reschedule: (task: Task, now: number) => rescheduleTask(task, now + 60_000, now),
  };

  for (const state of TASK_STATES) {
    for (const action of ['pause', 'resume', 'unsubscribe', 'execute', 'reschedule'] as const) {
      const ok = allowed[action].includes(state);
      test(`${action} from ${state} is ${ok ? 'allowed' : 'a TASK_STATE_CONFLICT'}`, () => {
        const clock = new TestClock(T0);
        const task = taskIn(state, clock);
        assert.equal(task.state, state);
        if (ok) {
          assert.ok(actions[action](task, clock.now()).entries.length > 0);
        } else {
          assertConflict(() => actions[action](task, clock.now()), state, action);
        }
      });
    }

    test(`assertDeletable from ${state}`, () => {
      const task = taskIn(state);
      if (state === 'RUNNING') assertConflict(() => assertDeletable(task), state, 'delete');
      else assert.doesNotThrow(() => assertDeletable(task));
    });

    if (state !== 'RUNNING' && state !== 'PAUSED') {
      test(`applyOutcome on a ${state} task throws`, () => {
        const task = taskIn(state);
        assert.throws(() => applyOutcome(task, OK, T0 + 1e6), new RegExp(state));
      });
    }
  }

  test('a refused transition changes nothing', () => {
    const clock = new TestClock(T0);
    const task = taskIn('COMPLETED', clock);
    const copy = structuredClone(task);
    assert.throws(() => pauseTask(task, clock.now()));
    assert.throws(() => resumeTask(task, clock.now()));
    assert.throws(() => unsubscribeTask(task, clock.now()));
    assert.throws(() => executeTask(task, clock.now()));
    assert.throws(() => rescheduleTask(task, clock.now() + 1_000, clock.now()));
    assert.deepEqual(task, copy);
  });

  test('transitions do not change the task they are given', () => {
    const clock = new TestClock(T0);
    const task = subscribe(clock, { retry: 1, repeat: 1 });
    const copy = structuredClone(task);
    pauseTask(task, clock.now());
    unsubscribeTask(task, clock.now());
    applyOutcome(task, FAIL, clock.now());
    recoverMissedRun(task, clock.now());
    executeTask(task, clock.now());
    rescheduleTask(task, clock.now() + 5_000, clock.now());
    assert.deepEqual(task, copy);
  });
});

describe('recoverMissedRun', () => {
  test('a RUNNING task that was due: Alert, and it runs, unchanged', () => {
    const clock = new TestClock(T0);
    const task = subscribe(clock, { retry: 2 }, 1_000);
    clock.advance(3_600_000);
    const r = recoverMissedRun(task, clock.now());
    assert.equal(r.run, true);
    assert.deepEqual(r.task, task);
    assert.deepEqual(labels(r.entries), ['Alert']);
    assert.equal(r.entries[0]!.createdAt, clock.now());
    assert.ok(r.entries[0]!.description.includes(new Date(T0 + 1_000).toISOString()));
  });

  test('an interval retry or repeat that was missed runs (not pinned)', () => {
    const clock = new TestClock(T0);
    const retrying = attempt(clock, subscribe(clock, { retry: 1 }), FAIL).task;
    const repeating = attempt(clock, subscribe(clock, { repeat: 1, retry: 1, retryAt: T0 + 999_999 }), OK).task;
    clock.advance(3_600_000);
    for (const task of [retrying, repeating]) {
      const r = recoverMissedRun(task, clock.now());
      assert.equal(r.run, true);
      assert.deepEqual(labels(r.entries), ['Alert']);
    }
  });

  test('a pinned retryAt that passed while down: EXCEEDED, not run', () => {
    const clock = new TestClock(T0);
    const retryAt = T0 + 60_000;
    const task = attempt(clock, subscribe(clock, { retry: 1, retryAt }), FAIL).task;
    assert.equal(task.execAt, retryAt);
    clock.set(retryAt + 1);
    const r = recoverMissedRun(task, clock.now());
    assert.equal(r.run, false);
    assertFinished(r.task, 'EXCEEDED', retryAt + 1);
    assert.deepEqual(labels(r.entries), ['Exceeded']);
    assert.match(r.entries[0]!.description, /retryAt/);
  });

  test('a pinned repeatAt that passed while down: EXCEEDED, not run', () => {
    const clock = new TestClock(T0);
    const repeatAt = T0 + 60_000;
    const task = attempt(clock, subscribe(clock, { repeat: 1, repeatAt }), OK).task;
    clock.set(repeatAt + 3_600_000);
    const r = recoverMissedRun(task, clock.now());
    assert.equal(r.run, false);
    assertFinished(r.task, 'EXCEEDED', clock.now());
    assert.match(r.entries[0]!.description, /repeatAt/);
  });

  test('a pinned time not yet passed runs', () => {
    const clock = new TestClock(T0);
    const retryAt = T0 + 60_000;
    const task = attempt(clock, subscribe(clock, { retry: 1, retryAt }), FAIL).task;
    clock.set(retryAt);
    const r = recoverMissedRun(task, clock.now());
    assert.equal(r.run, true);
    assert.equal(r.task.state, 'RUNNING');
  });

  test('a first execution pinned by executionAt is not EXCEEDED: it runs late', () => {
    const clock = new TestClock(T0);
    const task = subscribe(clock, { executionAt: T0 + 5_000 }, 5_000);
    clock.advance(86_400_000);
    assert.equal(recoverMissedRun(task, clock.now()).run, true);
  });

  test('no-op for a task that is not RUNNING', () => {
    for (const state of TASK_STATES.filter((s) => s !== 'RUNNING')) {
      const clock = new TestClock(T0);
      const task = taskIn(state, clock);
      const r = recoverMissedRun(task, clock.advance(86_400_000));
      assert.equal(r.run, false, state);
      assert.deepEqual(r.entries, [], state);
      assert.equal(r.task, task, state);
    }
  });
});

describe('attemptHeaders', () => {
  function expectHeaders(
    headers: Record<string, string>,
    retryCount: number,
    retrying: boolean,
    repeatCount: number,
    repeating: boolean,
    label: string,
  ): void {
    assert.deepEqual(
      headers,
      {
        'X-Kuueri-Tasks-Queue': TASK_ID,
        'X-Kuueri-Tasks-Retry-Count': String(retryCount),
        'X-Kuueri-Tasks-Currently-Retry': String(retrying),
        'X-Kuueri-Tasks-Repeat-Count': String(repeatCount),
        'X-Kuueri-Tasks-Currently-Repeat': String(repeating),
      },
      label,
    );
  }

  test('a plain task', () => {
    const clock = new TestClock(T0);
    expectHeaders(attempt(clock, subscribe(clock), OK).headers, 0, false, 0, false, 'only attempt');
  });

  test('across a whole life of retries and repeats', () => {
    const clock = new TestClock(T0);
    let task = subscribe(clock, { retry: 2, repeat: 2 });
    // [outcome, Retry-Count, Currently-Retry, Repeat-Count, Currently-Repeat] of the attempt sent
    const life: [AttemptOutcome, number, boolean, number, boolean, string][] = [
      [FAIL, 0, false, 0, false, 'first execution'],
      [FAIL, 1, true, 0, false, 'retry 1 of 2'],
      [OK, 2, false, 0, false, 'retry 2 of 2: the last allowed'],
      [FAIL, 0, false, 1, true, 'repeat 1 of 2'],
      [OK, 1, true, 1, true, 'retry 1 of 2 within repeat 1'],
      [FAIL, 0, false, 2, false, 'repeat 2 of 2: the last allowed'],
      [FAIL, 1, true, 2, false, 'retry 1 within repeat 2'],
      [OK, 2, false, 2, false, 'retry 2 within repeat 2'],
    ];
    for (const [outcome, rc, cr, pc, cp, label] of life) {
      const step = attempt(clock, task, outcome);
      expectHeaders(step.headers, rc, cr, pc, cp, label);
      task = step.task;
    }
    assert.equal(task.state, 'COMPLETED');
  });

  test('a single retry (retryAt) is the last allowed one', () => {
    const clock = new TestClock(T0);
    let task = subscribe(clock, { retry: 1, retryAt: T0 + 60_000 });
    task = attempt(clock, task, FAIL).task;
    expectHeaders(attemptHeaders(task), 1, false, 0, false, 'the retryAt retry');
  });

  test('a single repeat (repeatAt) is the last allowed one', () => {
    const clock = new TestClock(T0);
    let task = subscribe(clock, { repeat: 1, repeatAt: T0 + 60_000 });
    task = attempt(clock, task, OK).task;
    expectHeaders(attemptHeaders(task), 0, false, 1, false, 'the repeatAt repeat');
  });

  test('header values are strings, and the queue header is the task id', () => {
    const clock = new TestClock(T0);
    const headers = attemptHeaders(subscribe(clock, { retry: 3, repeat: 3 }));
    for (const [name, value] of Object.entries(headers)) {
      assert.equal(typeof value, 'string', name);
      assert.match(name, /^X-Kuueri-Tasks-/);
    }
    assert.equal(headers['X-Kuueri-Tasks-Queue'], TASK_ID);
  });
});

describe('dueAtOf', () => {
  test('RUNNING without a lease: its execution time; with one: the end of the lease', () => {
    const clock = new TestClock(T0);
    const task = subscribe(clock, {}, 5_000);
    assert.equal(dueAtOf(task), T0 + 5_000);
    assert.equal(dueAtOf({ ...task, leaseToken: 'x', leaseUntil: T0 + 20_000 }), T0 + 20_000);
  });

  test('null for every other state, lease or not', () => {
    for (const state of TASK_STATES.filter((s) => s !== 'RUNNING')) {
      const task = taskIn(state);
      assert.equal(dueAtOf(task), null, state);
      assert.equal(dueAtOf({ ...task, leaseToken: 'x', leaseUntil: T0 + 1 }), null, `${state} with a lease`);
    }
  });
});
