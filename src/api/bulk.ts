/*
 * `POST /v1beta/queues/bulk`: one action on many tasks, each through the same state-machine step
 * and compare-and-set as its single route (task-writes.ts), counted by outcome. A filter is worked
 * through in pages of BULK.batch tasks (newest first, keyset: each task once), with a turn of the
 * event loop between them, so the server answers other requests meanwhile. `replay` makes a new
 * task of each (replay.ts); a full queue refuses the rest one by one, counted as `queueFull`.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { isAppError } from '../core/errors.js';
import { BULK, type BulkAction, type BulkAnswer } from '../core/shapes.js';
import { pauseTask, resumeTask, unsubscribeTask } from '../core/task-machine.js';
import type { StoredTask, TaskFilter } from '../store/task-store.js';
import type { RouteContext } from './context.js';
import { type TaskStep, deleteOwnTask, mutateTask } from './task-writes.js';
import { replayOwnTask } from './replay.js';

const STEPS: Record<Exclude<BulkAction, 'delete' | 'replay'>, TaskStep> = {
  pause: pauseTask,
  resume: resumeTask,
  unsubscribe: unsubscribeTask,
};

type Outcome = keyof BulkAnswer;

/** The action on one task; `first` is the task as just read, when it was. */
async function actOn(ctx: RouteContext, projectId: string, action: BulkAction, id: string, first?: StoredTask): Promise<Outcome> {
  try {
    if (action === 'delete') await deleteOwnTask(ctx, projectId, id, first);
    else if (action === 'replay') await replayOwnTask(ctx, projectId, id, first);
    else await mutateTask(ctx, projectId, id, STEPS[action], first);
    return 'done';
  } catch (error) {
    if (!isAppError(error)) throw error;
    switch (error.code) {
      case 'TASK_NOT_FOUND':
        return 'notFound';
      case 'TASK_STATE_CONFLICT':
      case 'TASK_NOT_REPLAYABLE':
        return 'notAllowed';
      case 'QUEUE_FULL':
        return 'queueFull';
      case 'TASK_BUSY':
        return 'busy';
      default:
        throw error;
    }
  }
}

function count(answer: BulkAnswer, outcomes: readonly Outcome[]): void {
  for (const outcome of outcomes) answer[outcome]++;
}

/** The action on the tasks named (each id once), BULK.batch at a time. */
export async function bulkByIds(ctx: RouteContext, projectId: string, action: BulkAction, ids: readonly string[]): Promise<BulkAnswer> {
  const answer: BulkAnswer = { done: 0, notFound: 0, notAllowed: 0, busy: 0, queueFull: 0 };
  const unique = [...new Set(ids)];
  for (let i = 0; i < unique.length; i += BULK.batch) {
    if (i > 0) await nextTurn();
    count(answer, await Promise.all(unique.slice(i, i + BULK.batch).map((id) => actOn(ctx, projectId, action, id))));
  }
  return answer;
}

/** The action on every task the filter selects, a page of BULK.batch at a time, yielding between pages. */
export async function bulkByFilter(ctx: RouteContext, projectId: string, action: BulkAction, filter: TaskFilter): Promise<BulkAnswer> {
  const answer: BulkAnswer = { done: 0, notFound: 0, notAllowed: 0, busy: 0, queueFull: 0 };
  let below: string | undefined;
  for (;;) {
    const page = await ctx.store.listTasks(projectId, { ...filter, limit: BULK.batch, ...(below === undefined ? {} : { below }) });
    count(answer, await Promise.all(page.tasks.map((task) => actOn(ctx, projectId, action, task.id, task))));
    if (page.next === null) return answer;
    below = page.next;
    await nextTurn();
  }
}
