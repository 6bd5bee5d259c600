/*
 * The task state machine, written once. Every function is pure: (task, input, now) -> next task and
 * the timeline entries that record the step. Stores persist what these decide; the dispatcher and
 * the API only call them.
 *
 *   subscribe ──> RUNNING ──pause──> PAUSED ──resume──> RUNNING
 *                  │  ▲                 ├──execute──> RUNNING, due now
 *                  │  │                 │
 *                  │  └─ attempt fails with a retry left, or succeeds with a repeat left
 *                  │                    └─unsubscribe──> CANCELED
 *                  ├─ attempt succeeds, no repeat left ─> COMPLETED
 *                  ├─ attempt fails, no retry left ─────> ERROR
 *                  ├─ unsubscribe ──────────────────────> CANCELED
 *                  ├─ execute, reschedule: the next execution moves (now, or a given time)
 *                  ├─ held by an open circuit (deferTask): the next execution moves, no attempt used
 *                  └─ an absolute retryAt/repeatAt passed (while the server was down, or before the
 *                     run it follows ended) ───────────> EXCEEDED
 *   ERROR | EXCEEDED ──replay──> stays as it is; a NEW task, RUNNING, due now (replayTask)
 *
 * Retries: a failed attempt with retries left runs again after `retryInterval`, or
 * `retryInterval × n` for the n-th retry when `retryExponential` (the original's linear meaning), or
 * at `retryAt`. A task with a `retryPolicy` may end at once instead, or retry at another time
 * (retry-policy.ts). The retry budget starts again with every repeat. Repeats: a successful run with
 * repeats left runs again after `repeatInterval` (× n when `repeatExponential`) or at `repeatAt`.
 *
 * Run now and reschedule move the next execution (to now, or to a given time) and keep every
 * count: a next execution that was a retry or a repeat stays one. A PAUSED task run now becomes
 * RUNNING; a PAUSED task rescheduled stays PAUSED with the new time left. Neither is allowed while
 * an attempt is in flight (TASK_IN_FLIGHT): its outcome decides the next execution, and running
 * the task again at once would send it twice.
 *
 * Leases: a dispatcher that claimed a task holds its lease (`leaseToken`, `leaseUntil`). Pausing keeps the lease so the
 * attempt in flight can still record its outcome (into the paused task); cancelling drops it, so a
 * late outcome is discarded.
 */
import { AppError } from './errors.js';
import { formatDuration } from './durations.js';
import { LIMITS } from './limits.js';
import type { AttemptRecord, ErrorClass } from './attempt-log.js';
import { type Random, finalReason, pastRetryDuration, policyRetryAt } from './retry-policy.js';
import type { Task, TaskConfig, TaskState, TimelineEntry } from './task.js';

export interface Transition {
  task: Task;
  entries: TimelineEntry[];
  /** The attempt this step records, for the attempt log; written with the task (TaskStore.replaceTask). */
  attempt?: AttemptRecord;
}

/** What one attempt to send the request came to. */
export interface AttemptOutcome {
  /** The target answered 2xx. */
  ok: boolean;
  /** The status the target answered, 0 when it did not answer. */
  statusCode: number;
  /** Why there was no answer (timeout, connection refused, ...), when there was none. */
  error?: string;
  /** The kind of that failure, for the attempt log (core/attempt-log.ts). */
  errorClass?: ErrorClass;
  /** The answer's Retry-After header, as sent (a retry policy may honour it on a 429 or 503). */
  retryAfter?: string;
  /** The answer carried the stop header (retry-policy.ts STOP_RETRY_HEADER) set to true. */
  stopRetry?: boolean;
  /** The first bytes of the answer's body (at most ATTEMPT_LOG.excerptBytes), for the attempt log. */
  excerpt?: Uint8Array;
  /**
   * Nothing was sent and retrying cannot help (the target's address is refused, the stored request
   * cannot be opened): end the task now. Not counted in `attempts`, which counts requests sent.
   */
  permanent?: boolean;
}

/** An attempt's outcome in one word, for metrics and logs (a bounded set). */
export const OUTCOME_NAMES = ['delivered', 'failed', 'no_answer', 'refused'] as const;
export type OutcomeName = (typeof OUTCOME_NAMES)[number];

/**
 * delivered: answered 2xx; failed: answered another status; no_answer: sent, and no answer came
 * (timeout, reset, refused connection); refused: never sent (the target guard, an unreadable request).
 */
export function outcomeName(outcome: AttemptOutcome): OutcomeName {
  if (outcome.ok) return 'delivered';
  if (outcome.statusCode !== 0) return 'failed';
  return outcome.permanent ? 'refused' : 'no_answer';
}

export interface NewTaskInput {
  id: string;
  projectId: string;
  config: TaskConfig;
  request: Uint8Array;
  /** RequestCipher.hostTag of the target; without it the task counts against no host's share. */
  hostTag?: string;
  /** The subscribe's tags, already checked (shapes.ts); none when left out. */
  tags?: string[];
  /** The schedule whose run this is (core/schedule.ts); none when left out. */
  scheduleId?: string;
  /** The subscribe's flow key, already checked (shapes.ts); none when left out. */
  flowKey?: string;
}

/** When a task subscribed at `startAt` with `config` first runs. */
export function firstExecAtOf(config: TaskConfig, startAt: number): number {
  return config.executionAt > 0 ? config.executionAt : startAt + config.executionDelay;
}

/**
 * A new task, RUNNING until its first execution. Its timeline starts with a `Subscribe` entry that
 * is not stored: it says nothing the task does not (see timelineOf), so stores keep none for it.
 */
export function createTask(input: NewTaskInput, now: number): Task {
  return {
    id: input.id,
    projectId: input.projectId,
    startAt: now,
    config: input.config,
    request: input.request,
    hostTag: input.hostTag ?? '',
    tags: input.tags ?? [],
    scheduleId: input.scheduleId ?? '',
    flowKey: input.flowKey ?? '',
    state: 'RUNNING',
    statusCode: 0,
    execAt: firstExecAtOf(input.config, now),
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
  };
}

/** The task's first timeline entry, derived from the task. */
export function subscribeEntry(task: Pick<Task, 'startAt' | 'config'>): TimelineEntry {
  return entry('Subscribe', `Task subscribed; first execution at ${iso(firstExecAtOf(task.config, task.startAt))}`, task.startAt);
}

/**
 * The whole timeline: the derived `Subscribe` entry, then what the store holds. A task stored before
 * the entry was derived holds it already.
 */
export function timelineOf(task: Pick<Task, 'startAt' | 'config'>, stored: readonly TimelineEntry[]): TimelineEntry[] {
  return stored[0]?.label === 'Subscribe' ? [...stored] : [subscribeEntry(task), ...stored];
}

const NO_LEASE = { leaseToken: null, leaseUntil: 0 } as const;

function conflict(task: Task, action: string, allowed: readonly TaskState[]): AppError {
  return new AppError(
    'TASK_STATE_CONFLICT',
    `Cannot ${action} a task that is ${task.state}; ${action} is allowed from ${allowed.join(' or ')}`,
  );
}

export function pauseTask(task: Task, now: number): Transition {
  if (task.state !== 'RUNNING') throw conflict(task, 'pause', ['RUNNING']);
  const left = Math.max(0, task.execAt - now);
  return {
    task: { ...task, state: 'PAUSED', pausedLeft: left, execAt: 0 },
    entries: [entry('Pause', `Task paused with ${formatDuration(left)} left until the next execution`, now)],
  };
}

export function resumeTask(task: Task, now: number): Transition {
  if (task.state !== 'PAUSED') throw conflict(task, 'resume', ['PAUSED']);
  const execAt = now + task.pausedLeft;
  // An attempt still in flight under a live lease records its outcome; a dead lease is let go.
  const lease = task.leaseToken !== null && task.leaseUntil > now ? { leaseToken: task.leaseToken, leaseUntil: task.leaseUntil } : NO_LEASE;
  return {
    task: { ...task, state: 'RUNNING', execAt, pausedLeft: 0, ...lease },
    entries: [entry('Resume', `Task resumed; next ${nextKind(task)} at ${iso(execAt)}`, now)],
  };
}

/** An attempt sent under a lease that has not run out: its outcome is still to be recorded. */
function inFlight(task: Task, now: number): boolean {
  return task.leaseToken !== null && task.leaseUntil > now;
}

function assertMovable(task: Task, action: string, now: number): void {
  if (task.state !== 'RUNNING' && task.state !== 'PAUSED') throw conflict(task, action, ['RUNNING', 'PAUSED']);
  if (inFlight(task, now)) {
    throw new AppError('TASK_IN_FLIGHT', `Cannot ${action} a task while an attempt of it is in flight; try again once it is recorded`);
  }
}

function nextKind(task: Task): string {
  return task.retrying ? 'retry' : task.repeating ? 'repeat' : 'execution';
}

/**
 * Runs the next execution now (`PATCH /v1beta/execute/:id`): a RUNNING or PAUSED task becomes
 * RUNNING, due at `now`. Counts and settings are kept. A lease that ran out is let go (its holder is
 * presumed gone, as claimDue presumes).
 */
export function executeTask(task: Task, now: number): Transition {
  assertMovable(task, 'execute', now);
  return {
    task: { ...task, state: 'RUNNING', execAt: now, pausedLeft: 0, ...NO_LEASE },
    entries: [entry('Execute', `Task executed on request; the next ${nextKind(task)} runs now`, now)],
  };
}

/**
 * Moves the next execution to `at` (`PATCH /v1beta/reschedule/:id`; core/subscription.ts bounds
 * it). A PAUSED task stays PAUSED and keeps `at - now` as its time left, counted from its resume.
 */
export function rescheduleTask(task: Task, at: number, now: number): Transition {
  assertMovable(task, 'reschedule', now);
  if (task.state === 'PAUSED') {
    const left = Math.max(0, at - now);
    return {
      task: { ...task, pausedLeft: left, ...NO_LEASE },
      entries: [
        entry('Reschedule', `Task rescheduled while paused; the next ${nextKind(task)} runs ${formatDuration(left)} after it resumes`, now),
      ],
    };
  }
  return {
    task: { ...task, execAt: at, ...NO_LEASE },
    entries: [entry('Reschedule', `Task rescheduled; next ${nextKind(task)} at ${iso(at)}`, now)],
  };
}

export function unsubscribeTask(task: Task, now: number): Transition {
  if (task.state !== 'RUNNING' && task.state !== 'PAUSED') throw conflict(task, 'unsubscribe', ['RUNNING', 'PAUSED']);
  return {
    task: finish(task, 'CANCELED', now),
    entries: [entry('Unsubscribe', 'Task canceled; it will not run again', now)],
  };
}

export function assertDeletable(task: Task): void {
  if (task.state === 'RUNNING') {
    throw new AppError('TASK_STATE_CONFLICT', 'Cannot delete a task that is RUNNING; pause or unsubscribe it first');
  }
}

function finish(task: Task, state: TaskState, now: number): Task {
  return {
    ...task,
    state,
    execAt: 0,
    endAt: now,
    retrying: false,
    repeating: false,
    retrySince: 0,
    pausedLeft: 0,
    ...NO_LEASE,
  };
}

/** Where the next retry (the n-th) runs, or null when its absolute time has already passed. */
export function nextRetryAt(config: TaskConfig, n: number, now: number): number | null {
  if (config.retryAt > 0) return config.retryAt > now ? config.retryAt : null;
  return now + (config.retryExponential ? config.retryInterval * n : config.retryInterval);
}

export function nextRepeatAt(config: TaskConfig, n: number, now: number): number | null {
  if (config.repeatAt > 0) return config.repeatAt > now ? config.repeatAt : null;
  return now + (config.repeatExponential ? config.repeatInterval * n : config.repeatInterval);
}

function describeOutcome(outcome: AttemptOutcome): string {
  if (outcome.statusCode > 0)
    return outcome.error ? `status code ${outcome.statusCode}, then ${outcome.error}` : `status code ${outcome.statusCode}`;
  return outcome.error ?? 'no answer';
}

/** The states a task may be replayed from: it ended by failing. */
export const REPLAYABLE_STATES = ['ERROR', 'EXCEEDED'] as const satisfies readonly TaskState[];

/** A replay: the new task with its first timeline entry, and the entry that links the original to it. */
export interface Replay {
  task: Task;
  entries: TimelineEntry[];
  originalEntry: TimelineEntry;
}

/**
 * Runs an ended task again (`PATCH /v1beta/replay/:id`) as a NEW task: the original's request
 * (sealed anew for `input.id`), config, tags and host, a fresh retry and repeat budget, due now.
 * The original stays as it was but for a timeline entry; each names the other. Only a task that
 * ended ERROR or EXCEEDED is replayed (TASK_NOT_REPLAYABLE). Absolute retryAt/repeatAt times are
 * kept as they were: one that has passed ends the replay EXCEEDED when it is reached.
 */
export function replayTask(original: Task, input: { id: string; request: Uint8Array }, now: number): Replay {
  if (!(REPLAYABLE_STATES as readonly TaskState[]).includes(original.state)) {
    throw new AppError(
      'TASK_NOT_REPLAYABLE',
      `Cannot replay a task that is ${original.state}; only ${REPLAYABLE_STATES.join(' or ')} tasks are replayed`,
    );
  }
  const config: TaskConfig = { ...original.config, executionAt: 0, executionDelay: LIMITS.executionDelayMin };
  const task = createTask(
    {
      id: input.id,
      projectId: original.projectId,
      config,
      request: input.request,
      hostTag: original.hostTag,
      tags: original.tags,
      flowKey: original.flowKey,
    },
    now,
  );
  return {
    task,
    entries: [entry('Replay', `Replay of ${original.id}; it runs now with a fresh retry budget`, now, { replayOf: original.id })],
    originalEntry: entry('Replay', `Replayed as ${input.id}`, now, { replayedAs: input.id }),
  };
}

/**
 * Records the outcome of the attempt the lease holder just made. The task may have been paused
 * meanwhile: then the next execution is computed as usual and kept as time left. `random` draws a
 * retry policy's jitter (retry-policy.ts); tasks without a policy never call it.
 */
export function applyOutcome(task: Task, outcome: AttemptOutcome, now: number, random: Random = Math.random): Transition {
  if (task.state !== 'RUNNING' && task.state !== 'PAUSED') {
    throw new Error(`applyOutcome on a ${task.state} task`);
  }
  const { config } = task;
  const entries: TimelineEntry[] = [];
  const what = describeOutcome(outcome);
  // Decide as for a RUNNING task; a task paused meanwhile is paused again at the end.
  const base: Task = {
    ...task,
    state: 'RUNNING',
    attempts: outcome.permanent ? task.attempts : task.attempts + 1,
    statusCode: outcome.statusCode > 0 ? outcome.statusCode : task.statusCode,
    ...NO_LEASE,
  };

  // The attempt that just ended: a retry or a repeat says so first.
  if (task.retrying) {
    const metadata: TimelineEntry['metadata'] = config.retryAt > 0 ? { retryAt: config.retryAt } : { retryCount: task.retryCount };
    entries.push(
      entry('Retry', `Retry ${task.retryCount} of ${config.retry} ${outcome.ok ? 'succeeded' : 'failed'} with ${what}`, now, metadata),
    );
  } else if (task.repeating) {
    const metadata: TimelineEntry['metadata'] = config.repeatAt > 0 ? { repeatAt: config.repeatAt } : { repeatCount: task.repeatCount };
    entries.push(
      entry('Repeat', `Repeat ${task.repeatCount} of ${config.repeat} ${outcome.ok ? 'succeeded' : 'failed'} with ${what}`, now, metadata),
    );
  }

  // A retry policy may make a failure final (retry-policy.ts); without one, every failure may be retried.
  const final = !outcome.ok && config.retryPolicy ? finalReason(config.retryPolicy, outcome.statusCode, outcome.stopRetry === true) : null;
  let next: Task;
  if (outcome.ok) {
    if (task.repeatCount < config.repeat) {
      const n = task.repeatCount + 1;
      const at = nextRepeatAt(config, n, now);
      if (at === null) {
        next = finish(base, 'EXCEEDED', now);
        entries.push(entry('Exceeded', `Success with ${what}, but repeatAt ${iso(config.repeatAt)} has already passed`, now));
      } else {
        next = { ...base, execAt: at, repeating: true, retrying: false, repeatCount: n, retryCount: 0, retrySince: 0 };
        entries.push(entry('Complete', `Success with ${what}; repeat ${n} of ${config.repeat} at ${iso(at)}`, now));
      }
    } else {
      next = finish(base, 'COMPLETED', now);
      entries.push(entry('Complete', `Success with ${what}; task completed`, now));
    }
  } else if (outcome.permanent) {
    next = finish(base, 'ERROR', now);
    entries.push(entry('Error', `Failed with ${what}; retrying cannot help, task ended`, now));
  } else if (final !== null) {
    next = finish(base, 'ERROR', now);
    entries.push(entry('Error', `Failed with ${what}; ${final}, task ended`, now));
  } else if (task.retryCount < config.retry) {
    const n = task.retryCount + 1;
    const seedAt = nextRetryAt(config, n, now);
    const at = config.retryPolicy ? policyRetryAt(config.retryPolicy, seedAt, config.retryAt > 0, outcome, n, now, random) : seedAt;
    // The run's first failure starts the retry policy's time cap (a task stored before the field: now).
    const since = task.retrying && task.retrySince > 0 ? task.retrySince : now;
    if (at === null) {
      next = finish(base, 'EXCEEDED', now);
      entries.push(entry('Exceeded', `Failed with ${what}, but retryAt ${iso(config.retryAt)} has already passed`, now));
    } else if (pastRetryDuration(config, since, at)) {
      next = finish(base, 'ERROR', now);
      entries.push(
        entry('Error', `Failed with ${what}; retry ${n} at ${iso(at)} would pass retryPolicy.maxRetryDurationMs, task ended`, now),
      );
    } else {
      next = { ...base, execAt: at, retrying: true, repeating: false, retryCount: n, retrySince: since };
      entries.push(entry('Error', `Failed with ${what}; retry ${n} of ${config.retry} at ${iso(at)}`, now));
    }
  } else {
    next = finish(base, 'ERROR', now);
    entries.push(entry('Error', `Failed with ${what}; no retries left`, now));
  }

  if (task.state === 'PAUSED' && next.state === 'RUNNING') {
    next = { ...next, state: 'PAUSED', pausedLeft: Math.max(0, next.execAt - now), execAt: 0 };
  }
  return { task: next, entries };
}

/**
 * Holds the task back without sending it (an open circuit, core/circuit.ts): the next execution
 * moves to `until` and the lease is given back, with one `Circuit` entry. No attempt is counted and
 * nothing else changes, so the retry and repeat budgets are as they were. A task paused meanwhile
 * keeps the wait as its time left. `before`: entries to record first (a recovery's `Alert`).
 */
export function deferTask(task: Task, until: number, why: string, now: number, before: readonly TimelineEntry[] = []): Transition {
  if (task.state !== 'RUNNING' && task.state !== 'PAUSED') throw new Error(`deferTask on a ${task.state} task`);
  const entries = [...before, entry('Circuit', `${why}; the next ${nextKind(task)} waits until ${iso(until)}, using no attempt`, now)];
  if (task.state === 'PAUSED') return { task: { ...task, pausedLeft: Math.max(0, until - now), ...NO_LEASE }, entries };
  return { task: { ...task, execAt: until, ...NO_LEASE }, entries };
}

/**
 * A run that fell due while no server was up. It runs at once, with an `Alert` on the timeline;
 * but when it was a retry or repeat pinned to an absolute time, that time has passed and the task
 * ends as EXCEEDED.
 */
export function recoverMissedRun(task: Task, now: number): Transition & { run: boolean } {
  if (task.state !== 'RUNNING') return { task, entries: [], run: false };
  const pinned = (task.retrying && task.config.retryAt > 0) || (task.repeating && task.config.repeatAt > 0);
  if (pinned && task.execAt < now) {
    const kind = task.retrying ? 'retryAt' : 'repeatAt';
    return {
      task: finish(task, 'EXCEEDED', now),
      entries: [entry('Exceeded', `Server back online, but ${kind} ${iso(task.execAt)} passed while it was down`, now)],
      run: false,
    };
  }
  return {
    task,
    entries: [entry('Alert', `Server back online; the execution due at ${iso(task.execAt)} runs now`, now)],
    run: true,
  };
}

/**
 * Headers that tell the target where this attempt stands. Retry-Count is the n-th retry of the
 * current run (0 when this is not a retry) and Currently-Retry says whether another retry may follow
 * (false on the last allowed one); likewise for repeats, counted over the task's life.
 */
export function attemptHeaders(task: Task): Record<string, string> {
  const retryCount = task.retrying ? task.retryCount : 0;
  return {
    'X-Kuueri-Tasks-Queue': task.id,
    'X-Kuueri-Tasks-Retry-Count': String(retryCount),
    'X-Kuueri-Tasks-Currently-Retry': String(task.retrying && retryCount < task.config.retry),
    'X-Kuueri-Tasks-Repeat-Count': String(task.repeatCount),
    'X-Kuueri-Tasks-Currently-Repeat': String(task.repeatCount > 0 && task.repeatCount < task.config.repeat),
  };
}

/**
 * When the scheduler should next look at the task: its execution time, or the end of the lease of
 * the attempt in flight (so a dispatcher that died gives the task back). Null when nothing is due.
 */
export function dueAtOf(task: Task): number | null {
  if (task.state !== 'RUNNING') return null;
  return task.leaseToken !== null ? task.leaseUntil : task.execAt;
}

/** A timeline entry made at `now`. */
export function entry(
  label: TimelineEntry['label'],
  description: string,
  now: number,
  metadata?: TimelineEntry['metadata'],
): TimelineEntry {
  return metadata ? { label, description, createdAt: now, metadata } : { label, description, createdAt: now };
}

/** A time as the timeline's descriptions write it. */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
