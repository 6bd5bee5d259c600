/*
 * `PATCH /v1beta/replay/:id` and the bulk action `replay`: an ended task runs again as a new task
 * (core/task-machine.ts replayTask). The new task is inserted first, counted against the queue
 * like a subscribe (QUEUE_FULL), then the original's timeline gets the entry that links it; an
 * original deleted in between keeps no link, and the replay stands.
 */
import { isAppError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { specOf } from '../core/request-codec.js';
import type { Task } from '../core/task.js';
import { replayTask } from '../core/task-machine.js';
import type { StoredTask } from '../store/task-store.js';
import type { RouteContext } from './context.js';
import { findOwnTask, mutateTask } from './task-writes.js';

/** Replays the project's task `id` (`first`: the task as just read, when it was); answers the new task. */
export async function replayOwnTask(ctx: RouteContext, projectId: string, id: string, first?: StoredTask): Promise<Task> {
  const original = first ?? (await findOwnTask(ctx, projectId, id));
  const now = ctx.clock.now();
  const replayId = newId(now);
  // Sealed anew: a sealed request opens only for the task it was sealed for.
  const request = ctx.cipher.seal(specOf(ctx.cipher.open(original.request, original.id)), replayId);
  const replay = replayTask(original, { id: replayId, request }, now);
  await ctx.store.insertTask(replay.task, replay.entries, ctx.queueLimit);
  try {
    await mutateTask(ctx, projectId, original.id, (task) => ({ task, entries: [replay.originalEntry] }));
  } catch (error) {
    if (!isAppError(error) || error.code !== 'TASK_NOT_FOUND') throw error;
  }
  return replay.task;
}
