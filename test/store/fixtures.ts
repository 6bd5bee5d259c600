import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type ErrorCode, isAppError } from '../../src/core/errors.js';
import { newId } from '../../src/core/ids.js';
import { DEFAULT_CONFIG } from '../../src/core/subscription.js';
import type { Project, Task, TaskConfig, TimelineEntry } from '../../src/core/task.js';
import { type Transition, applyOutcome, createTask, pauseTask, unsubscribeTask } from '../../src/core/task-machine.js';
import type { StoredTask, TaskStore } from '../../src/store/task-store.js';
import { must } from '../helpers/must.js';

/**
 * Realistic task and project values for the store tests, built with the real state machine. Time is
 * plain numbers: the store never reads the clock, so tests pass `now` and nothing waits.
 */
export const T0 = 1_000_000;

/** A project with a fresh id, a unique email and a 32-byte token hash. */
export function newProject(overrides: Partial<Project> = {}): Project {
  const id = newId(T0);
  return { id, email: `owner-${id.toLowerCase()}@example.com`, tokenHash: randomBytes(32), createdAt: T0, as: 'DEV', ...overrides };
}

/**
 * A freshly subscribed task (RUNNING, first execution at `execAt`, set as its executionAt) and the
 * entries an insert stores with it: none, as the API inserts it (its `Subscribe` entry is derived).
 */
export function subscribeAt(
  projectId: string,
  execAt: number,
  options: {
    now?: number;
    config?: Partial<TaskConfig>;
    request?: Uint8Array;
    hostTag?: string;
    tags?: string[];
    flowKey?: string;
    scheduleId?: string;
  } = {},
): Transition {
  const id = newId(T0);
  const task = createTask(
    {
      id,
      projectId,
      config: { ...DEFAULT_CONFIG, executionAt: execAt, ...options.config },
      // A format byte first, as every sealed request has (FieldKinds.sealed), then any bytes.
      request: options.request ?? Buffer.concat([Buffer.of(2, 0, 0xff, 0x0a), Buffer.from(`sealed.${id}.opaque`)]),
      hostTag: options.hostTag ?? '',
      tags: options.tags ?? [],
      flowKey: options.flowKey ?? '',
      scheduleId: options.scheduleId ?? '',
    },
    options.now ?? T0,
  );
  return { task, entries: [] };
}

/** The lease a task holds, as one value (null when none), for comparisons. */
export function leaseOf(task: StoredTask | Task | null | undefined): { token: string; until: number } | null {
  return task && task.leaseToken !== null ? { token: task.leaseToken, until: task.leaseUntil } : null;
}

/** Inserts a freshly subscribed task and answers it as stored. */
export async function insertAt(
  store: TaskStore,
  projectId: string,
  execAt: number,
  options: {
    now?: number;
    config?: Partial<TaskConfig>;
    limit?: number;
    hostTag?: string;
    tags?: string[];
    flowKey?: string;
    scheduleId?: string;
  } = {},
): Promise<StoredTask> {
  const { task, entries } = subscribeAt(projectId, execAt, options);
  await store.insertTask(task, entries, options.limit ?? 1000);
  return must(await store.findTask(projectId, task.id), `task ${task.id} after insert`);
}

/** Writes one state-machine step with compare-and-set (which must succeed) and answers the stored result. */
export async function step(store: TaskStore, prev: StoredTask, transition: Transition): Promise<StoredTask> {
  assert.equal(
    await store.replaceTask(prev, transition.task, transition.entries, transition.attempt),
    true,
    `replaceTask of ${prev.id} was refused`,
  );
  return must(await store.findTask(prev.projectId, prev.id), `task ${prev.id} after replace`);
}

export const pause = (store: TaskStore, prev: StoredTask, now: number): Promise<StoredTask> => step(store, prev, pauseTask(prev, now));
export const cancel = (store: TaskStore, prev: StoredTask, now: number): Promise<StoredTask> =>
  step(store, prev, unsubscribeTask(prev, now));
/** A successful attempt; with no repeat left the task ends COMPLETED. */
export const succeed = (store: TaskStore, prev: StoredTask, now: number): Promise<StoredTask> =>
  step(store, prev, applyOutcome(prev, { ok: true, statusCode: 200 }, now));
/** A failed attempt; with no retry left the task ends ERROR. */
export const fail = (store: TaskStore, prev: StoredTask, now: number): Promise<StoredTask> =>
  step(store, prev, applyOutcome(prev, { ok: false, statusCode: 503 }, now));

/** Inserts a task and drives it to `state`, finishing (when it finishes) at `endAt`. */
export async function insertInState(store: TaskStore, projectId: string, state: Task['state'], endAt: number): Promise<StoredTask> {
  switch (state) {
    case 'RUNNING':
      return insertAt(store, projectId, endAt);
    case 'PAUSED':
      return pause(store, await insertAt(store, projectId, endAt + 10_000), endAt);
    case 'CANCELED':
      return cancel(store, await insertAt(store, projectId, endAt + 10_000), endAt);
    case 'COMPLETED':
      return succeed(store, await insertAt(store, projectId, endAt - 1), endAt);
    case 'ERROR':
      return fail(store, await insertAt(store, projectId, endAt - 1), endAt);
    case 'EXCEEDED': {
      // One retry pinned to an absolute time that has passed when the first attempt fails.
      const task = await insertAt(store, projectId, endAt - 2, { config: { retry: 1, retryAt: endAt - 1 } });
      return fail(store, task, endAt);
    }
  }
}

/** A validator for assert.rejects: an AppError with this code. */
export function appError(code: ErrorCode): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(isAppError(error), `expected an AppError ${code}, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  };
}

/** `count` timeline entries told apart by their number (from `first` on), made at T0 + their number. */
export function numbered(first: number, count: number): TimelineEntry[] {
  return Array.from({ length: count }, (_, i) => ({
    label: 'Alert' as const,
    description: `entry ${first + i}`,
    createdAt: T0 + first + i,
    metadata: { n: first + i },
  }));
}

/** Drops an absent `metadata`, so entries compare by what they say rather than how a store spells "none". */
export function plainEntries(entries: readonly TimelineEntry[]): TimelineEntry[] {
  return entries.map((e) => (e.metadata === undefined ? { label: e.label, description: e.description, createdAt: e.createdAt } : { ...e }));
}

/**
 * The task without a `version`, to compare what was written with what is stored. The state machine
 * spreads the task it is given, so a `Task` built from a `StoredTask` still carries the old version.
 */
export function withoutVersion(task: Task & { version?: number }): Task {
  const { version: _version, ...rest } = task;
  return rest;
}

/**
 * Resolves with the first due time `onDue` reports that matches. The guard only turns a missing
 * event into a clear failure instead of a hung test; it never delays a passing one.
 */
export function nextDueEvent(store: TaskStore, matches: (dueAt: number) => boolean, guardMs = 5_000): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const guard = setTimeout(() => {
      off();
      reject(new Error(`onDue reported no matching due time within ${guardMs} ms`));
    }, guardMs);
    const off = store.onDue((dueAt) => {
      if (!matches(dueAt)) return;
      clearTimeout(guard);
      off();
      resolve(dueAt);
    });
  });
}
