/*
 * How the API changes a stored task, in one place for the single routes (pause, resume,
 * unsubscribe, delete) and the bulk route: read it, let the state machine decide, write it with
 * compare-and-set, and read again when the dispatcher (or another request) wrote it meanwhile.
 */
import { AppError } from '../core/errors.js';
import { isId } from '../core/ids.js';
import type { Task } from '../core/task.js';
import { type Transition, assertDeletable } from '../core/task-machine.js';
import type { StoredTask } from '../store/task-store.js';
import type { RouteContext } from './context.js';

/** Tries this many times when a concurrent write (the dispatcher recording an attempt) wins the race. */
const MAX_WRITE_TRIES = 8;

/** A state-machine step the API applies to a task. */
export type TaskStep = (task: Task, now: number) => Transition;

export function notFound(id: string): AppError {
  const shown = JSON.stringify(id.length > 40 ? `${id.slice(0, 40)}…` : id);
  return new AppError('TASK_NOT_FOUND', `id: no task ${shown} in this project`);
}

/** The project's task, or TASK_NOT_FOUND (also for a string that is no id). */
export async function findOwnTask(ctx: RouteContext, projectId: string, id: string): Promise<StoredTask> {
  const task = isId(id) ? await ctx.store.findTask(projectId, id) : null;
  if (!task) throw notFound(id);
  return task;
}

/**
 * Applies a state-machine step with compare-and-set, re-reading when the task changed under us.
 * `first`: the task as just read, saving the first read. TASK_BUSY when it kept changing.
 */
export async function mutateTask(ctx: RouteContext, projectId: string, id: string, step: TaskStep, first?: StoredTask): Promise<Task> {
  let current = first;
  for (let tries = 0; tries < MAX_WRITE_TRIES; tries++) {
    current ??= await findOwnTask(ctx, projectId, id);
    const next = step(current, ctx.clock.now());
    if (await ctx.store.replaceTask(current, next.task, next.entries)) return next.task;
    current = undefined;
  }
  throw new AppError('TASK_BUSY');
}

/** Deletes a finished or paused task (assertDeletable) with compare-and-set; TASK_BUSY when it kept changing. */
export async function deleteOwnTask(ctx: RouteContext, projectId: string, id: string, first?: StoredTask): Promise<void> {
  let current = first;
  for (let tries = 0; tries < MAX_WRITE_TRIES; tries++) {
    current ??= await findOwnTask(ctx, projectId, id);
    assertDeletable(current);
    if (await ctx.store.deleteTask(current)) return;
    current = undefined;
  }
  throw new AppError('TASK_BUSY');
}
